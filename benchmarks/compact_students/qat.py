"""Quantization-aware distillation of the best compact student, from the committed zoo teacher, in one run.

The teacher is models/busi_deeplabv3plus_r18_teacher_fp16.onnx, the FP16 export of the `teacher` cell
(test Dice 0.599); its FP32 and INT8 copies for timing are made from it (ONNX Runtime's CPU provider
computes the FP16 graph in FP32, so the FP32 copy predicts exactly what it predicts). Then, all at
128 px on the BUSI `transfer` split, unlabeled, the teacher in the loop (`online-all`: every view,
mixup 0.4):

- `base`: `nakt distill ... --arch cmunext_edge`, 150 epochs, lr 3e-4 (the online-all cell's recipe);
- `cont`: 30 more epochs from `base` at lr 1e-4 (`--init`), the control for
- `qat`: the same 30 epochs with `--qat` (INT8 weight grid and UINT8 activations simulated);
- `qat-noise`: the same 30 epochs with `--qat --qat-mode noise` (weight grid; one UINT8 step of uniform
  noise at every conv input instead of rounded activations);
- `cont-hard`: `cont` with hard targets (the teacher's view masks thresholded at 0.5), the control for
- `qat-noise-hard`: `qat-noise` with hard targets.

Each run is scored on `test` at native resolution against the teacher (KTC), exported with the
gated INT8 recipe (minmax, percentile, entropy tried in turn) and, where refused, forced for timing;
one `nakt bench` at 256 px, batch 1, 1 and 2 threads, 3 round-robin rounds, times every file beside the teacher's.
Steps whose outputs exist are skipped (re-running resumes). Writes cells/qat.json.
Usage: python benchmarks/compact_students/qat.py [--busi ../shared/data/busi]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from run import BENCH_SIZE, CELLS, HERE, SIZE, WORK, Cell

ZOO_TEACHER = HERE.parents[1] / "models" / "busi_deeplabv3plus_r18_teacher_fp16.onnx"
ONLINE_ALL = ["--no-filter", "--mixup", "0.4", "--arch", "cmunext_edge", "--size", str(SIZE), "--device", "cpu"]
RUNS = {  # name: extra distill arguments
    "base": ["--epochs", "150", "--lr", "0.0003"],
    "cont": ["--init", WORK / "qat-base", "--epochs", "30", "--lr", "0.0001"],
    "qat": ["--init", WORK / "qat-base", "--qat", "--epochs", "30", "--lr", "0.0001"],
    "qat-noise": ["--init", WORK / "qat-base", "--qat", "--qat-mode", "noise", "--epochs", "30", "--lr", "0.0001"],
    "cont-hard": ["--init", WORK / "qat-base", "--targets", "hard", "--epochs", "30", "--lr", "0.0001"],
    "qat-noise-hard": ["--init", WORK / "qat-base", "--qat", "--qat-mode", "noise", "--targets", "hard", "--epochs",
                       "30", "--lr", "0.0001"],
}


def teacher_copies(c: Cell) -> None:
    from nakt_edge.export.exporter import sample_images
    from nakt_edge.export.onnx_export import set_metadata
    from nakt_edge.export.quantize import fp16_to_fp32, prepare_for_quantization, quantize_int8

    if not (WORK / "teacher-fp32.onnx").is_file():
        fp16_to_fp32(ZOO_TEACHER, WORK / "teacher-fp32.onnx")
    if not (WORK / "teacher-int8.onnx").is_file():  # only timed (its own gate failed in the teacher cell)
        calib = sample_images(c.busi / "images", SIZE, 32, manifest=c.busi / "manifest.csv", split="transfer")
        prepare_for_quantization(WORK / "teacher-fp32.onnx", WORK / "teacher-prep.onnx")
        quantize_int8(WORK / "teacher-prep.onnx", WORK / "teacher-int8.onnx", calib[:, None].astype(np.float32))
        props = {p.key: p.value for p in onnx.load(str(WORK / "teacher-fp32.onnx")).metadata_props}
        set_metadata(WORK / "teacher-int8.onnx", {**props, "nakt.precision": "int8"})


def evaluate(c: Cell, model: Path, name: str) -> dict[str, Any]:
    out = WORK / "eval" / f"qat-{name}.json"
    if not out.is_file():
        c.nakt("evaluate", model, *c.split("test"), "--reference", ZOO_TEACHER, "--device", "cpu", "--out", out)
    report = json.loads(out.read_text())
    return {"dice": report["model"]["dice_mean"], "dice_lesion": report["model"]["dice_lesion_mean"],
            "ktc": report["ktc"], "ktc_lesion": report["ktc_lesion"], "teacher_dice": report["reference"]["dice_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=HERE.parents[2] / "shared" / "data" / "busi")
    args = parser.parse_args()
    started = time.perf_counter()
    c = Cell("qat", args.busi)
    (WORK / "eval").mkdir(parents=True, exist_ok=True)
    teacher_copies(c)
    results: dict[str, Any] = {}
    for name, extra in RUNS.items():
        run = WORK / f"qat-{name}"
        c.nakt("distill", "--teacher", ZOO_TEACHER, *c.split("transfer", masks=False), *ONLINE_ALL, *extra,
               "--out", run, "--resume")
        meta = json.loads((run / "model.json").read_text())
        entry: dict[str, Any] = {"run": str(run), "best_epoch": meta["metrics"]["best_epoch"],
                                 "best_val_dice": meta["metrics"]["best_val_dice"],
                                 "train_seconds": round(sum(r["seconds"] for r in meta["history"]), 1),
                                 "test": evaluate(c, run, name)}
        fp32 = WORK / f"qat-{name}-fp32.onnx"
        if not fp32.is_file():
            c.nakt("export", run, "--out", fp32)
        entry.update(c.export_int8(run, WORK / f"qat-{name}-int8.onnx"))
        int8 = WORK / f"qat-{name}-int8.onnx"
        if not entry["int8_written"]:
            int8 = WORK / f"qat-{name}-int8-ungated.onnx"
            c.nakt("export", run, "--out", int8, "--precision", "int8", "--calib", c.busi / "images", "--manifest",
                   c.busi / "manifest.csv", "--split", "transfer", "--force")
        entry["int8_file"] = int8.name
        entry["int8_test"] = evaluate(c, int8, f"{name}-int8")
        results[name] = entry
    models = [WORK / "teacher-fp32.onnx", WORK / "teacher-int8.onnx"]
    models += [WORK / f"qat-{n}-fp32.onnx" for n in RUNS] + [WORK / results[n]["int8_file"] for n in RUNS]
    bench = WORK / "qat-bench.json"
    c.nakt("bench", *models, "--batch", 1, "--threads", "1,2", "--size", BENCH_SIZE, "--min-time", 1.0, "--rounds", 3,
           "--out", bench, "--force")
    (CELLS / "qat.json").write_text(json.dumps({
        "cell": "qat", "seconds": round(time.perf_counter() - started, 1), "commands": c.commands,
        "result": {"runs": results, "bench": json.loads(bench.read_text())}}, indent=2, default=str) + "\n")
    print(f"wrote {CELLS / 'qat.json'}")


if __name__ == "__main__":
    main()
