#!/usr/bin/env bash
# The BUSI Attention U-Net student (from benchmarks/busi/run_grid.py) in FP32 and gated INT8, timed
# and scored beside the teacher in one `nakt bench` run. The INT8 file is removed first and exported
# without --force, so it exists only if it passed the accuracy and speed gates.
# Writes benchmarks/results/busi_student_int8.{json,csv,md,png}.
# Usage: bash benchmarks/busi_student_int8.sh [path/to/busi]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-../shared/data/busi}
W=benchmarks/busi/work
RUN=$W/student-busi-attention_unet
CALIB=(--calib "$B/images" --manifest "$B/manifest.csv" --split transfer)
nakt export "$RUN" --out "$W/busi-attention_unet-fp32.onnx" "${CALIB[@]}" --force
rm -f "$W/busi-attention_unet-int8.onnx"
nakt export "$RUN" --out "$W/busi-attention_unet-int8.onnx" --precision int8 "${CALIB[@]}"
nakt bench "$W/teacher.onnx" "$W/busi-attention_unet-fp32.onnx" "$W/busi-attention_unet-int8.onnx" \
  --batch 1 --threads 1,2 --images "$B/images" --masks "$B/masks" --manifest "$B/manifest.csv" --split test \
  --out benchmarks/results/busi_student_int8.json --plot --force
