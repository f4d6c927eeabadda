"""Compact students that match their teacher: BUSI, offline pseudo set vs on-the-fly distillation.

Protocol: a DeepLabV3+-resnet18 teacher trained on the BUSI `teacher` split (real labels); the
students see only the `transfer` split, unlabeled: either its stored pseudo masks (`nakt label`,
the paper's path) or the teacher in the loop labeling every augmented view (`nakt distill
--teacher`). Everything is trained at 128 px on the CPU and scored on the `test` split at native
mask resolution with the teacher as reference (KTC). Then one `nakt bench` run times the teacher
(FP32, INT8) and every student (FP32, gated INT8) at 256 x 256, batch 1, 1 and 2 threads.

Modes: offline (stored pseudo set), online (teacher in the loop, paper filters per view) and online-all
(every view with its soft target, mixup 0.4; cmunext_edge only). cells/previous-teacher/ keeps an earlier
run whose retrained teacher differs. Each cell is a set of `nakt` commands run in subprocesses;
cells/<cell>.json records the commands, their wall times and the numbers, and a re-run skips finished
cells. Models go to work/ (ignored).

Usage: python benchmarks/compact_students/run.py [--busi ../shared/data/busi] [--only CELL ...]
Then:  python benchmarks/compact_students/report.py   (results.json, RESULTS.md, pareto.png)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CELLS = HERE / "cells"
WORK = HERE / "work"
NAKT = [sys.executable, "-m", "nakt_edge"]

SIZE = 128
LR = 3e-4
TEACHER_EPOCHS = 40
STUDENT_EPOCHS = 150  # 40 left the students still improving (best epoch 37 of 40); 2-8 s an epoch here
BENCH_SIZE = 256
STUDENTS = {  # name: nakt arguments
    "cmunext_edge": ["--arch", "cmunext_edge"],
    "lraspp_mobilenetv3_w2": ["--arch", "lraspp_mobilenetv3", "--width", "2", "--model-arg", "low_stride=4"],
}
MODES = {  # mode: extra `nakt distill` arguments (online modes have the teacher in the loop)
    "offline": [],
    "online": [],
    # function matching as Beyer et al. 2022 do it: every view with its soft target, mixup blends
    "online-all": ["--no-filter", "--mixup", "0.4"],
}
EXTRA_MODES = {"online-all": ("cmunext_edge",)}  # modes tried on some students only


def cells_of_students() -> list[tuple[str, str]]:
    return [(s, m) for s in STUDENTS for m in MODES if s in EXTRA_MODES.get(m, STUDENTS)]


class Cell:
    """Runs `nakt` commands, timing each; the cell's JSON keeps them beside its numbers."""

    def __init__(self, name: str, busi: Path) -> None:
        self.name, self.busi = name, busi
        self.commands: list[dict[str, Any]] = []

    def nakt(self, *args: str | Path, check: bool = True) -> int:
        shown = "nakt " + " ".join(shlex.quote(str(a)) for a in args)
        started = time.perf_counter()
        done = subprocess.run(NAKT + [str(a) for a in args], capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"})
        seconds = round(time.perf_counter() - started, 1)
        self.commands.append({"command": shown, "seconds": seconds, "exit_code": done.returncode,
                              "stdout_tail": done.stdout[-1500:], "stderr_tail": done.stderr[-600:]})
        print(f"  [{seconds:7.1f} s] {shown} -> {done.returncode}", flush=True)
        if check and done.returncode != 0:
            raise RuntimeError(f"{shown} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return done.returncode

    def split(self, name: str, masks: bool = True) -> list[str]:
        b = self.busi
        return ["--images", str(b / "images"), *(["--masks", str(b / "masks")] if masks else []),
                "--manifest", str(b / "manifest.csv"), "--split", name]

    def evaluate(self, model: Path, name: str) -> dict[str, Any]:
        out = WORK / "eval" / f"{name}.json"
        self.nakt("evaluate", model, *self.split("test"), "--reference", WORK / "teacher", "--device", "cpu",
                  "--out", out, "--force")
        report = json.loads(out.read_text())
        keep = ("images", "dice_mean", "dice_std", "dice_lesion_mean", "lesion_images", "iou_mean", "hd95_mean")
        return {**{k: report["model"][k] for k in keep}, "ktc": report["ktc"], "ktc_lesion": report["ktc_lesion"],
                "teacher_dice": report["reference"]["dice_mean"],
                "teacher_dice_lesion": report["reference"]["dice_lesion_mean"]}

    def export_int8(self, run: Path, target: Path) -> dict[str, Any]:
        """Gated INT8 export (no --force), trying the calibration methods in turn: the file exists only
        when one of them passed both gates."""
        target.unlink(missing_ok=True)
        tries = []
        for method in ("minmax", "percentile", "entropy"):
            code = self.nakt("export", run, "--out", target, "--precision", "int8", "--calib", self.busi / "images",
                             "--manifest", self.busi / "manifest.csv", "--split", "transfer", "--calib-method",
                             method, check=False)
            tries.append({"method": method, "exit_code": code, "output": (self.commands[-1]["stdout_tail"]
                                                                          + self.commands[-1]["stderr_tail"])[-500:]})
            if target.is_file():
                break
        return {"int8_written": target.is_file(), "int8_tries": tries}


def run_meta(run: Path) -> dict[str, Any]:
    meta = json.loads((run / "model.json").read_text())
    history = meta["history"]
    shares = [r["teacher_share"] for r in history if r.get("teacher_share") is not None]
    kept = [r["views_kept"] / r["views"] for r in history if r.get("views")]
    return {"parameters": meta["parameters"], "best_epoch": meta["metrics"]["best_epoch"],
            "best_val_dice": meta["metrics"]["best_val_dice"], "train_images": meta["metrics"]["train_images"],
            "epochs": meta["metrics"]["epochs_done"], "train_seconds": round(sum(r["seconds"] for r in history), 1),
            "teacher_share_mean": round(sum(shares) / len(shares), 4) if shares else None,
            "views_kept_fraction": round(sum(kept) / len(kept), 4) if kept else None}


def train_args(epochs: int) -> list[str]:
    return ["--size", str(SIZE), "--epochs", str(epochs), "--lr", str(LR), "--device", "cpu", "--resume"]


def cell_teacher(c: Cell) -> dict[str, Any]:
    run = WORK / "teacher"
    c.nakt("train", *c.split("teacher"), "--arch", "deeplabv3plus", "--encoder", "resnet18", "--out", run,
           *train_args(TEACHER_EPOCHS))
    c.nakt("export", run, "--out", WORK / "teacher-fp32.onnx", "--force")
    int8 = c.export_int8(run, WORK / "teacher-int8.onnx")
    if not int8["int8_written"]:  # the teacher's INT8 is only timed; record that its gates failed
        c.nakt("export", run, "--out", WORK / "teacher-int8.onnx", "--precision", "int8", "--calib",
               c.busi / "images", "--manifest", c.busi / "manifest.csv", "--split", "transfer", "--force")
    return {"run": run_meta(run), "test": c.evaluate(run, "teacher"), "int8": int8}


def cell_label(c: Cell) -> dict[str, Any]:
    out = WORK / "pseudo"
    c.nakt("label", "--teacher", WORK / "teacher-fp32.onnx", *c.split("transfer", masks=False), "--out", out,
           "--size", SIZE, "--device", "cpu")
    return {"counts": json.loads((out / "summary.json").read_text())["counts"]}


def student_cell(student: str, mode: str) -> Callable[[Cell], dict[str, Any]]:
    def run_cell(c: Cell) -> dict[str, Any]:
        run = WORK / f"{student}-{mode}"
        source = ["--pseudo", WORK / "pseudo"] if mode == "offline" else \
            ["--teacher", WORK / "teacher-fp32.onnx", *c.split("transfer", masks=False), *MODES[mode]]
        c.nakt("distill", *source, *STUDENTS[student], "--out", run, *train_args(STUDENT_EPOCHS))
        c.nakt("export", run, "--out", WORK / f"{student}-{mode}-fp32.onnx", "--force")
        int8 = c.export_int8(run, WORK / f"{student}-{mode}-int8.onnx")
        result = {"student": student, "mode": mode, "run": run_meta(run), "test": c.evaluate(run, f"{student}-{mode}"),
                  **int8}
        if int8["int8_written"]:
            result["test_int8"] = c.evaluate(WORK / f"{student}-{mode}-int8.onnx", f"{student}-{mode}-int8")
        return result

    return run_cell


def cell_bench(c: Cell) -> dict[str, Any]:
    """One bench run of everything; a student whose INT8 failed its gates is timed ungated (--force, percentile
    calibration) beside it, as `-int8-ungated`, to show what the refused file would have gained."""
    models = [WORK / "teacher-fp32.onnx", WORK / "teacher-int8.onnx"]
    for student, mode in cells_of_students():
        name = f"{student}-{mode}"
        if not (WORK / name).is_dir():  # a student cell that has not run in this work folder
            continue
        if not (WORK / f"{name}-int8.onnx").is_file():
            c.nakt("export", WORK / name, "--out", WORK / f"{name}-int8-ungated.onnx", "--precision", "int8",
                   "--calib", c.busi / "images", "--manifest", c.busi / "manifest.csv", "--split", "transfer",
                   "--calib-method", "percentile", "--force")
        models += [p for p in (WORK / f"{name}-fp32.onnx", WORK / f"{name}-int8.onnx",
                               WORK / f"{name}-int8-ungated.onnx") if p.is_file()]
    out = WORK / "bench.json"
    c.nakt("bench", *models, "--batch", 1, "--threads", "1,2", "--size", BENCH_SIZE, "--min-time", 2.0,
           "--out", out, "--force")
    return json.loads(out.read_text())


CELL_FUNCTIONS: dict[str, Callable[[Cell], dict[str, Any]]] = {
    "teacher": cell_teacher, "label": cell_label,
    **{f"{s}-{m}": student_cell(s, m) for s, m in cells_of_students()},
    "bench": cell_bench,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=HERE.parents[2] / "shared" / "data" / "busi")
    parser.add_argument("--only", nargs="*", choices=sorted(CELL_FUNCTIONS))
    parser.add_argument("--redo", nargs="*", default=[], help="cells to run again even when finished")
    args = parser.parse_args()
    CELLS.mkdir(exist_ok=True)
    WORK.mkdir(exist_ok=True)
    for name, function in CELL_FUNCTIONS.items():
        if args.only and name not in args.only:
            continue
        path = CELLS / f"{name}.json"
        if path.is_file() and name not in args.redo:
            print(f"{name}: done ({path.name})")
            continue
        print(f"{name}:", flush=True)
        cell = Cell(name, args.busi.resolve())
        started = time.perf_counter()
        result = function(cell)
        record = {"cell": name, "seconds": round(time.perf_counter() - started, 1), "commands": cell.commands,
                  "result": result}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(path)
        print(f"{name}: {record['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
