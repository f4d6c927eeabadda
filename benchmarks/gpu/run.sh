#!/usr/bin/env bash
# The GPU path measured in one run (see benchmarks/gpu/run.py): run.sh [--out DIR] [--dry-run]
# On the GPU machine, from the source folder: PYTHONPATH=. benchmarks/gpu/run.sh (onnxruntime-gpu first on the path).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-python3}" benchmarks/gpu/run.py "$@"
