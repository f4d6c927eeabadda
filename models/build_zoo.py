"""Build the model zoo (models/*.onnx + model cards) from the compact-students BUSI benchmark.

Copies the ONNX files from benchmarks/compact_students/work/ (made by its run.py) and writes for each
a card <name>.md + <name>.json from the benchmark's cells (test scores, bench latencies, commands).
Usage: python models/build_zoo.py [--work benchmarks/compact_students/work]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent / "benchmarks" / "compact_students"
DATASET = ("BUSI, Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast ultrasound images. Data in Brief 28 "
           "(2020) 104863. doi:10.1016/j.dib.2019.104863")
DATA_LICENCE = ("No licence statement from the dataset authors was found; the Kaggle mirror is commonly described as "
                "CC0 (not verified); mirrors label it inconsistently (see shared/data/busi/README.md). Cite the "
                "article whenever the data or these models are used.")
USE = ("Research use only: not a medical device, not validated for diagnosis. Trained at 128 px on 2 CPU cores on "
       "one public dataset (one hospital, one scanner family); expect lower Dice on other scanners and presets, "
       "and check it on your own labeled frames before relying on it.")
ENTRIES = {  # zoo name: (file in work/, cell with its test scores, role, run of qat.py's cell or None)
    "busi_cmunext_edge": ("cmunext_edge-online-all-fp32.onnx", "cmunext_edge-online-all", "student", None),
    # from qat.py: its own cell and bench run
    "busi_cmunext_edge_qat": ("qat-qat-fp32.onnx", "qat", "student", "qat"),
    # the gated INT8 file with the best INT8 KTC in cells/qat.json (2026-12-06: qat-noise 0.971, lesion 0.992)
    "busi_cmunext_edge_int8": ("qat-qat-noise-int8.onnx", "qat", "student", "qat-noise"),
    "busi_deeplabv3plus_r18_teacher_fp16": ("teacher-fp16.onnx", "teacher", "teacher", None),
}
QAT_ARCHITECTURE = {"qat": "quantization-aware: weights on the INT8 export's grid",
                    "qat-noise": "quantization-aware (--qat-mode noise); the gated INT8 export (static QDQ, "
                                 "per-channel 7-bit weights, UINT8 activations; grouped skip-fusion convs split per "
                                 "part and the 1-channel stem in FP32, as its nakt.int8_rewrites metadata lists)"}


def _cell(name: str) -> dict[str, Any]:
    return json.loads((BENCH / "cells" / f"{name}.json").read_text())


def _latency(rows: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    return [{"threads": r["threads"], "batch": r["batch"], "size": 256, "p50_ms": round(r["p50_ms"], 2),
             "p95_ms": round(r["p95_ms"], 2)} for r in rows if r["model"] == model]


def _qat_card_inputs(cell: dict[str, Any], run_name: str, source: str) -> tuple[dict[str, float], str, dict[str, Any]]:
    """Test scores, recipe and bench of one run of the qat cell (its distillation, then 30 epochs from it); an INT8
    ``source`` gets the INT8 file's scores and its gated export command."""
    run = cell["result"]["runs"][run_name]
    scores = run["int8_test"] if source.endswith("-int8.onnx") else run["test"]
    test = {"dice_mean": scores["dice"], "dice_lesion_mean": scores["dice_lesion"],
            "ktc": scores["ktc"], "ktc_lesion": scores["ktc_lesion"]}
    made = rf"--out \S*/qat-(base|{re.escape(run_name)}) "
    steps = [c["command"] for c in cell["commands"] if c["command"].startswith("nakt distill")
             and re.search(made, c["command"])]
    written = rf"/{re.escape(source)}(\s|$)"  # the gated export that wrote the file (not a forced one)
    steps += [c["command"] for c in cell["commands"] if c["command"].startswith("nakt export")
              and c.get("exit_code") == 0 and re.search(written, c["command"]) and "--force" not in c["command"]]
    return test, " && ".join(steps), cell["result"]["bench"]


def card(name: str, source: str, cell_name: str, role: str, bench: dict[str, Any], qat_run: str | None = None
         ) -> dict[str, Any]:
    cell = _cell(cell_name)
    if qat_run is not None:
        test, train, bench = _qat_card_inputs(cell, qat_run, source)
    else:
        test = cell["result"]["test"]
        train = next(c["command"] for c in cell["commands"] if c["command"].startswith(("nakt train",
                                                                                       "nakt distill")))
    timed = source if role == "student" else "teacher-fp32.onnx"  # the FP16 teacher is for GPUs: FP32 is timed
    return {
        "name": name, "file": f"{name}.onnx", "role": role,
        "architecture": "CMUNeXt-edge (0.55 M parameters, 0.99 GFLOPs at 256 px)"
        + (f", {QAT_ARCHITECTURE[qat_run]}" if qat_run else "") if role == "student"
        else "DeepLabV3+ with a ResNet-18 encoder (12.3 M parameters, 8.92 GFLOPs at 256 px), FP16 weights",
        "training_data": "BUSI `transfer` split, unlabeled, labeled on the fly by the teacher" if role == "student"
        else "BUSI `teacher` split with its masks", "split_by": "group (near-duplicate frames never cross splits)",
        "recipe": re.sub(r"\S*/shared/data/busi", "../shared/data/busi", re.sub(
            r"\S*/benchmarks/compact_students", "benchmarks/compact_students",
            re.sub(r"\S*/models/busi_", "models/busi_", train))),
        "input": "1 x 1 x 128 x 128 gray in [0, 1] (nakt.* metadata; nakt predict resizes any frame)",
        "test": {"protocol": "BUSI `test` split (156 images, 129 with a lesion), native mask resolution, threshold 0.5",
                 "dice": round(test["dice_mean"], 4), "dice_lesion": round(test["dice_lesion_mean"], 4),
                 "ktc": round(test["ktc"], 4), "ktc_lesion": round(test["ktc_lesion"], 4)},
        "latency": {"machine": f"{bench['machine']['cpu']}, {bench['machine']['cores']} cores, ONNX Runtime CPU",
                    "model_timed": timed, "rows": _latency(bench["rows"], timed)},
        "code_licence": "Apache-2.0 (nakt-edge)", "dataset": DATASET, "dataset_licence": DATA_LICENCE,
        "intended_use": USE,
    }


def markdown(c: dict[str, Any]) -> str:
    t, lat = c["test"], c["latency"]
    rows = "\n".join(f"| {r['threads']} | {r['batch']} | {r['size']} | {r['p50_ms']} | {r['p95_ms']} |"
                     for r in lat["rows"])
    return f"""# {c['name']} ({c['role']})

- Architecture: {c['architecture']}
- Training data: {c['training_data']}; split by {c['split_by']}
- Recipe: `{c['recipe']}`
- Input: {c['input']}

## BUSI test scores
{t['protocol']}: Dice {t['dice']}, lesion Dice {t['dice_lesion']}, KTC {t['ktc']} (lesion {t['ktc_lesion']}).

## Latency ({lat['machine']}; timed: {lat['model_timed']})
| threads | batch | px | p50 ms | p95 ms |
|---|---|---|---|---|
{rows}

## Licences and citation
- Code: {c['code_licence']}
- Data: {c['dataset']}
- {c['dataset_licence']}

## Intended use and limits
{c['intended_use']}

Try it: `nakt predict models/{c['file']} scans/ --out predictions --overlay`
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=BENCH / "work")
    parser.add_argument("--only", nargs="*", choices=sorted(ENTRIES), help="rebuild only these entries")
    args = parser.parse_args()
    bench = _cell("bench")["result"]
    for name, (source, cell_name, role, qat_run) in ENTRIES.items():
        if args.only and name not in args.only:
            continue
        shutil.copyfile(args.work / source, HERE / f"{name}.onnx")
        entry = card(name, source, cell_name, role, bench, qat_run)
        (HERE / f"{name}.json").write_text(json.dumps(entry, indent=2) + "\n")
        (HERE / f"{name}.md").write_text(markdown(entry))
        print(f"wrote models/{name}.onnx, .json, .md")


if __name__ == "__main__":
    main()
