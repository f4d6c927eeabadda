"""Reproduce the paper's four claims on BUSI with nakt-edge's own CLI, cell by cell, resumable.

C1  a student of another architecture matches its teacher (paper: KTC 94-107%)
C2  the alpha/beta exclusion helps for out-of-domain transferal
C3  KT + fine-tuning on 50 labeled images beats training on those 50 from scratch (+13..+24 pts)
C4  several weak teachers make a student better than each of them (+1.7..+9 pts)

Every step is a `nakt` command run in a subprocess; each cell records its commands, their wall
times and its numbers in cells/<cell>.json, and a re-run skips cells whose JSON and outputs
exist. Models go to work/ (not committed). Protocol: teachers see the `teacher` split with real
labels; students see only pseudo masks (transfer split, or natural phantoms out of domain),
except in fine-tuning; everything is evaluated on the `test` split at native mask resolution.

Usage: python benchmarks/busi/run_grid.py [--busi ../shared/data/busi] [--only CELL ...]
Then:  python benchmarks/busi/report.py   (writes RESULTS.md and results.json)
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

# Reduced scale for 2 CPU cores (the paper: 384 px, more epochs): chosen so the grid fits in 2 hours.
SIZE = 128
LR = 3e-4
TEACHER_EPOCHS = 40
STUDENT_EPOCHS = 40
FINETUNE_EPOCHS = 50  # the paper's Algorithm 2
WEAK_EPOCHS = 4
FEW_LABELS = 50
NATURAL_IMAGES = 234  # as many as the BUSI transfer split
STUDENTS = {  # name: nakt arguments (the paper's students, narrowed for the CPU)
    "attention_unet": ["--arch", "attention_unet", "--width", "0.25"],
    "sdu_net": ["--arch", "sdu_net", "--width", "0.25"],
    "fpn": ["--arch", "fpn", "--encoder", "resnet18"],
    "edge": ["--arch", "smp_unet", "--encoder", "mobilenet_v2", "--width", "0.25"],
}
WEAK_TEACHERS = {
    "weak_unet": ["--arch", "unet", "--width", "0.25"],
    "weak_fpn": ["--arch", "fpn", "--encoder", "resnet18"],
    "weak_edge": ["--arch", "smp_unet", "--encoder", "mobilenet_v2", "--width", "0.25"],
    "weak_deeplab": ["--arch", "deeplabv3plus", "--encoder", "resnet18"],
}
C4_STUDENT = ["--arch", "attention_unet", "--width", "0.25"]


class Cell:
    """Runs `nakt` commands, timing each, and collects the numbers a cell reports."""

    def __init__(self, name: str, busi: Path) -> None:
        self.name, self.busi = name, busi
        self.commands: list[dict[str, Any]] = []

    def nakt(self, *args: str | Path) -> None:
        command = NAKT + [str(a) for a in args]
        shown = "nakt " + " ".join(shlex.quote(str(a)) for a in args)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"})
        seconds = round(time.perf_counter() - started, 1)
        self.commands.append({"command": shown, "seconds": seconds, "exit_code": done.returncode})
        print(f"  [{seconds:7.1f} s] {shown}", flush=True)
        if done.returncode != 0:
            raise RuntimeError(f"{shown} failed ({done.returncode}):\n{done.stderr[-2000:]}")

    def split(self, name: str) -> list[str]:
        b = self.busi
        return ["--images", str(b / "images"), "--masks", str(b / "masks"), "--manifest", str(b / "manifest.csv"),
                "--split", name]

    def evaluate(self, model: Path, reference: Path | None = None) -> dict[str, Any]:
        out = WORK / "eval" / f"{model.name}.json"
        extra = ["--reference", str(reference)] if reference else []
        self.nakt("evaluate", model, *self.split("test"), *extra, "--device", "cpu", "--out", out, "--force")
        report = json.loads(out.read_text())
        keep = ("images", "dice_mean", "dice_std", "dice_lesion_mean", "dice_lesion_std", "lesion_images",
                "iou_mean", "hd95_mean", "hd95_n")
        result = {k: report["model"][k] for k in keep}
        if reference:
            result.update(ktc=report["ktc"], ktc_lesion=report["ktc_lesion"],
                          reference_dice=report["reference"]["dice_mean"])
        return result


def run_meta(run: Path) -> dict[str, Any]:
    meta = json.loads((run / "model.json").read_text())
    return {"parameters": meta["parameters"], "best_epoch": meta["metrics"]["best_epoch"],
            "best_val_dice": meta["metrics"]["best_val_dice"], "train_images": meta["metrics"]["train_images"],
            "epochs": meta["metrics"]["epochs_done"]}


def train_args(epochs: int) -> list[str]:
    return ["--size", str(SIZE), "--epochs", str(epochs), "--lr", str(LR), "--device", "cpu", "--resume"]


# --- cells ---------------------------------------------------------------------------------------

def cell_teacher(c: Cell) -> dict[str, Any]:
    run = WORK / "teacher"
    c.nakt("train", *c.split("teacher"), "--arch", "deeplabv3plus", "--encoder", "resnet18", "--out", run,
           *train_args(TEACHER_EPOCHS))
    c.nakt("export", run, "--out", WORK / "teacher.onnx", "--calib", c.busi / "images", "--force")
    return {"run": run_meta(run), "test": c.evaluate(run)}


def cell_label(c: Cell) -> dict[str, Any]:
    b = c.busi
    c.nakt("label", "--teacher", WORK / "teacher.onnx", "--images", b / "images", "--manifest", b / "manifest.csv",
           "--split", "transfer", "--size", SIZE, "--device", "cpu", "--out", WORK / "pseudo-busi")
    c.nakt("phantoms", "--out", WORK / "natural", "--n", NATURAL_IMAGES, "--domain", "natural", "--size", SIZE,
           "--seed", 7, "--force")
    c.nakt("label", "--teacher", WORK / "teacher.onnx", "--images", WORK / "natural" / "images", "--size", SIZE,
           "--device", "cpu", "--out", WORK / "pseudo-natural")
    summaries = {name: json.loads((WORK / name / "summary.json").read_text())
                 for name in ("pseudo-busi", "pseudo-natural")}
    return {name: {"counts": s["counts"], "entropy_bits": s["entropy_bits"], "alpha": s["alpha_min_pixels"],
                   "beta": s["beta_max_entropy"]} for name, s in summaries.items()}


def student_cell(domain: str, student: str, include_excluded: bool = False) -> Callable[[Cell], dict[str, Any]]:
    def run_cell(c: Cell) -> dict[str, Any]:
        suffix = "-nofilter" if include_excluded else ""
        run = WORK / f"student-{domain}{suffix}-{student}"
        extra = ["--include-excluded"] if include_excluded else []
        c.nakt("distill", "--pseudo", WORK / f"pseudo-{domain}", *STUDENTS[student], "--out", run, *extra,
               *train_args(STUDENT_EPOCHS))
        return {"run": run_meta(run), "test": c.evaluate(run, reference=WORK / "teacher")}

    return run_cell


def c3_cell(student: str) -> Callable[[Cell], dict[str, Any]]:
    def run_cell(c: Cell) -> dict[str, Any]:
        tuned, scratch = WORK / f"finetuned-{student}", WORK / f"scratch-{student}"
        common = [*c.split("transfer"), "--limit", str(FEW_LABELS), "--epochs", str(FINETUNE_EPOCHS), "--lr",
                  str(LR), "--device", "cpu", "--resume"]
        c.nakt("finetune", WORK / f"student-busi-{student}", "--out", tuned, *common)
        c.nakt("train", *STUDENTS[student], "--out", scratch, *common, "--size", str(SIZE))
        return {"finetuned": {"run": run_meta(tuned), "test": c.evaluate(tuned, reference=WORK / "teacher")},
                "scratch": {"run": run_meta(scratch), "test": c.evaluate(scratch, reference=WORK / "teacher")}}

    return run_cell


def cell_c4(c: Cell) -> dict[str, Any]:
    teachers = {}
    for name, args in WEAK_TEACHERS.items():
        run = WORK / name
        c.nakt("train", *c.split("teacher"), *args, "--out", run, *train_args(WEAK_EPOCHS))
        c.nakt("export", run, "--out", WORK / f"{name}.onnx", "--calib", c.busi / "images", "--force")
        teachers[name] = {"run": run_meta(run), "test": c.evaluate(run)}
    return {"teachers": teachers, **c4_student(c, "mean")}


def label_paper_rules_first(c: Cell, args: list[Any], pseudo: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Label with the paper's rules; when beta excludes (nearly) every image, label again with the alpha rule
    alone (the entropy of a 256-level histogram is at most 8 bits: --max-entropy 8 switches beta off).
    Returns the set the student learns from and the summaries of the paper's set and of that one."""
    c.nakt("label", *args, "--out", pseudo)
    paper = json.loads((pseudo / "summary.json").read_text())
    if paper["counts"]["kept"] < FEW_LABELS:
        pseudo = pseudo.with_name(pseudo.name + "-alpha")
        c.nakt("label", *args, "--max-entropy", 8, "--out", pseudo)
    return pseudo, paper, json.loads((pseudo / "summary.json").read_text())


def c4_student(c: Cell, fusion: str) -> dict[str, Any]:
    """Label the transfer split with the four weak teachers fused by ``fusion``; distill one student."""
    b = c.busi
    suffix = "" if fusion == "mean" else f"-{fusion}"
    flags = [x for name in WEAK_TEACHERS for x in ("--teacher", str(WORK / f"{name}.onnx"))]
    common = ["--fusion", fusion, "--images", b / "images", "--manifest", b / "manifest.csv", "--split", "transfer",
              "--size", SIZE, "--device", "cpu"]
    pseudo, paper, used = label_paper_rules_first(c, [*flags, *common], WORK / f"pseudo-c4{suffix}")
    run = WORK / f"student-c4{suffix}"
    c.nakt("distill", "--pseudo", pseudo, *C4_STUDENT, "--out", run, *train_args(STUDENT_EPOCHS))
    return {"pseudo_paper_rules": {"counts": paper["counts"], "entropy_bits": paper["entropy_bits"],
                                   "teacher_agreement_mean": paper["teacher_agreement_mean"]},
            "pseudo": {"set": pseudo.name, "max_entropy": used["beta_max_entropy"], "counts": used["counts"],
                       "teacher_agreement_mean": used["teacher_agreement_mean"]},
            "student": {"run": run_meta(run), "test": c.evaluate(run)}}


SITES = 4


def site_manifest(busi: Path) -> Path:
    """BUSI's manifest with the `teacher` split cut by group into four disjoint sites (site1..site4).

    Groups are dealt to the sites in a seeded order, largest first, to even the image counts; the
    transfer and test rows are unchanged."""
    import random

    from nakt_edge.outputs import write_csv

    out = WORK / "manifest-sites.csv"
    rows = csv_rows(busi / "manifest.csv")
    sizes: dict[str, int] = {}
    for row in rows:
        if row["split"] == "teacher":
            sizes[row["group"]] = sizes.get(row["group"], 0) + 1
    order = sorted(sizes)
    random.Random(0).shuffle(order)
    order.sort(key=lambda g: -sizes[g])  # stable: ties keep the seeded order
    load, site_of = [0] * SITES, {}
    for group in order:
        site = min(range(SITES), key=lambda k: (load[k], k))
        site_of[group] = f"site{site + 1}"
        load[site] += sizes[group]
    for row in rows:
        if row["split"] == "teacher":
            row["split"] = site_of[row["group"]]
    write_csv(out, rows, list(rows[0]))
    return out


def ensemble_test(c: Cell, teachers: list[Path], fusion: str) -> dict[str, Any]:
    """The teachers' fused output run directly on `test`, scored like `nakt evaluate` (native mask size, > 0.5)."""
    import numpy as np

    from nakt_edge.data.images import read_gray, resize_to
    from nakt_edge.metrics import dice

    out = WORK / f"ensemble-sites-{fusion}-test"
    flags = [x for t in teachers for x in ("--teacher", str(t))]
    c.nakt("label", *flags, "--fusion", fusion, "--images", c.busi / "images", "--manifest", c.busi / "manifest.csv",
           "--split", "test", "--size", SIZE, "--no-filter", "--device", "cpu", "--out", out)
    scores, lesion = [], []
    for row in csv_rows(out / "manifest.csv"):
        truth = read_gray(c.busi / "masks" / f"{row['stem']}.png") > 0.5
        fused = resize_to(read_gray(out / "masks" / f"{row['stem']}.png"), *truth.shape) > 0.5
        scores.append(dice(fused, truth))
        if truth.any():
            lesion.append(scores[-1])
    return {"images": len(scores), "dice_mean": float(np.mean(scores)), "dice_std": float(np.std(scores)),
            "dice_lesion_mean": float(np.mean(lesion)), "lesion_images": len(lesion)}


def csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def cell_c4_sites(c: Cell) -> dict[str, Any]:
    """C4 as the paper did it: four teachers of four architectures, each trained to convergence on one site."""
    manifest = site_manifest(c.busi)
    teachers, files = {}, []
    for (name, args), site in zip(WEAK_TEACHERS.items(), range(1, SITES + 1)):
        run = WORK / f"site{site}-{name.removeprefix('weak_')}"
        c.nakt("train", "--images", c.busi / "images", "--masks", c.busi / "masks", "--manifest", manifest,
               "--split", f"site{site}", *args, "--out", run, *train_args(TEACHER_EPOCHS))
        c.nakt("export", run, "--out", run.with_suffix(".onnx"), "--calib", c.busi / "images", "--force")
        teachers[run.name] = {"site": site, "run": run_meta(run), "test": c.evaluate(run)}
        files.append(run.with_suffix(".onnx"))
    result: dict[str, Any] = {"teachers": teachers, "site_images": {
        f"site{k}": sum(1 for r in csv_rows(manifest) if r["split"] == f"site{k}") for k in range(1, SITES + 1)}}
    for fusion in ("mean", "staple"):
        pseudo, paper, used = label_paper_rules_first(c, [
            *[x for f in files for x in ("--teacher", str(f))], "--fusion", fusion, "--images", c.busi / "images",
            "--manifest", c.busi / "manifest.csv", "--split", "transfer", "--size", SIZE, "--device", "cpu"],
            WORK / f"pseudo-c4-sites-{fusion}")
        run = WORK / f"student-c4-sites-{fusion}"
        c.nakt("distill", "--pseudo", pseudo, *C4_STUDENT, "--out", run, *train_args(STUDENT_EPOCHS))
        student = c.evaluate(run)
        best = max(teachers.values(), key=lambda t: t["test"]["dice_mean"])
        result[fusion] = {"pseudo_paper_rules": {"counts": paper["counts"], "entropy_bits": paper["entropy_bits"],
                                                 "teacher_agreement_mean": paper["teacher_agreement_mean"]},
                          "pseudo": {"set": pseudo.name, "max_entropy": used["beta_max_entropy"],
                                     "counts": used["counts"]},
                          "student": {"run": run_meta(run), "test": student},
                          "ensemble_test": ensemble_test(c, files, fusion),
                          "margin_vs_best_teacher": student["dice_mean"] - best["test"]["dice_mean"],
                          "margin_vs_each_teacher": {n: student["dice_mean"] - t["test"]["dice_mean"]
                                                     for n, t in teachers.items()}}
    return result


def cell_c2_sites(c: Cell) -> dict[str, Any]:
    """C2 again with the strongest site teacher of `c4-sites`: out-of-domain (natural) transferal images,
    the paper's alpha/beta rules vs every image kept, one Attention U-Net student each."""
    best = max(json.loads((CELLS / "c4-sites.json").read_text())["result"]["teachers"].items(),
               key=lambda item: item[1]["test"]["dice_mean"])[0]
    teacher = WORK / best
    if not (WORK / "natural" / "images").is_dir():
        c.nakt("phantoms", "--out", WORK / "natural", "--n", NATURAL_IMAGES, "--domain", "natural", "--size", SIZE,
               "--seed", 7)
    pseudo = WORK / f"pseudo-natural-{best}"
    c.nakt("label", "--teacher", teacher.with_suffix(".onnx"), "--images", WORK / "natural" / "images", "--size",
           SIZE, "--device", "cpu", "--out", pseudo)
    summary = json.loads((pseudo / "summary.json").read_text())
    result: dict[str, Any] = {"teacher": best, "pseudo": {"counts": summary["counts"],
                                                          "entropy_bits": summary["entropy_bits"]}}
    for way, extra in (("paper_rules", []), ("every_image", ["--include-excluded"])):
        if way == "paper_rules" and summary["counts"]["kept"] == 0:
            result[way] = {"skipped": "the paper's rules kept no image"}
            continue
        run = WORK / f"student-natural-{best}-{way}"
        c.nakt("distill", "--pseudo", pseudo, *STUDENTS["attention_unet"], "--out", run, *extra,
               *train_args(STUDENT_EPOCHS))
        result[way] = {"run": run_meta(run), "test": c.evaluate(run, reference=teacher)}
    return result


ZOO_TEACHER = HERE.parents[1] / "models" / "busi_deeplabv3plus_r18_teacher_fp16.onnx"  # trained on `teacher`
SCALING_SIZES = (30, 60, 120, 234)


def transfer_subset_manifest(busi: Path, count: int) -> Path:
    """BUSI's manifest with only ``count`` `transfer` images left in that split (whole groups, seeded:
    each subset holds the smaller ones)."""
    from nakt_edge.data.pairing import collect_unlabeled
    from nakt_edge.data.subsets import take_by_group
    from nakt_edge.outputs import write_csv

    keep = {s.image.name for s in take_by_group(collect_unlabeled([busi / "images"], manifest=busi / "manifest.csv",
                                                                  split="transfer"), count, seed=0)}
    rows = csv_rows(busi / "manifest.csv")
    for row in rows:
        if row["split"] == "transfer" and row["file"] not in keep:
            row["split"] = "transfer-unused"
    out = WORK / f"manifest-transfer-{count}.csv"
    write_csv(out, rows, list(rows[0]))
    return out


def scaling_pseudo_set(c: Cell, count: int) -> Path:
    """The zoo teacher's pseudo set of ``count`` BUSI `transfer` images (paper rules); `nakt label` resumes."""
    pseudo = WORK / f"pseudo-scaling-{count}"
    c.nakt("label", "--teacher", ZOO_TEACHER, "--images", c.busi / "images", "--manifest",
           transfer_subset_manifest(c.busi, count), "--split", "transfer", "--size", SIZE, "--device", "cpu",
           "--out", pseudo)
    return pseudo


def cell_scaling_busi(c: Cell) -> dict[str, Any]:
    """The transferal-set scaling curve on BUSI: the zoo teacher, the paper's rules, one Attention U-Net
    student per size (30, 60, 120, all 234 `transfer` images), scored on `test` against the teacher."""
    points = []
    for count in SCALING_SIZES:
        pseudo = scaling_pseudo_set(c, count)
        summary = json.loads((pseudo / "summary.json").read_text())
        run = WORK / f"student-scaling-{count}"
        c.nakt("distill", "--pseudo", pseudo, *STUDENTS["attention_unet"], "--out", run,
               *train_args(STUDENT_EPOCHS))
        points.append({"transfer_images": count, "kept": summary["counts"]["kept"], "run": run_meta(run),
                       "test": c.evaluate(run, reference=ZOO_TEACHER)})
    return {"teacher": ZOO_TEACHER.name, "points": points}


SCALING_PHANTOMS = (500, 1000, 2000)  # generated breast phantoms added to all 234 transfer images


def cell_scaling_phantoms(c: Cell) -> dict[str, Any]:
    """The curve past BUSI: all 234 `transfer` images pooled with generated breast phantoms, both labeled by
    the same teacher with the paper's rules; the same student and test as `scaling-busi`. Points already in
    cells/scaling-phantoms.json are kept (with their commands), so a longer curve adds only new points."""
    record = CELLS / "scaling-phantoms.json"
    earlier = json.loads(record.read_text()) if record.is_file() else None
    done = {p["phantoms"]: p for p in earlier["result"]["points"]} if earlier else {}
    if earlier:  # their commands, marked, and the wall time of the runs that made them
        c.commands += [{**cmd, "earlier_run": True} for cmd in earlier["commands"]]
    earlier_seconds = (earlier["wall_seconds"] + earlier["result"].get("earlier_wall_seconds", 0)) if earlier else 0
    points = []
    for count in SCALING_PHANTOMS:
        if count in done:
            points.append(done[count])
            continue
        phantoms = WORK / f"phantoms-breast-{count}"
        if not (phantoms / "images").is_dir():
            c.nakt("phantoms", "--out", phantoms, "--n", count, "--domain", "breast", "--size", SIZE, "--seed", 11)
        pseudo = WORK / f"pseudo-phantoms-{count}"
        c.nakt("label", "--teacher", ZOO_TEACHER, "--images", phantoms / "images", "--size", SIZE, "--device",
               "cpu", "--out", pseudo)
        kept = json.loads((pseudo / "summary.json").read_text())["counts"]["kept"]
        run = WORK / f"student-scaling-234+{count}"
        c.nakt("distill", "--pseudo", scaling_pseudo_set(c, 234), "--pseudo", pseudo, *STUDENTS["attention_unet"],
               "--out", run, *train_args(STUDENT_EPOCHS))
        points.append({"transfer_images": 234 + count, "phantoms": count, "kept_phantoms": kept,
                       "run": run_meta(run), "test": c.evaluate(run, reference=ZOO_TEACHER)})
    return {"teacher": ZOO_TEACHER.name, "points": points, "earlier_wall_seconds": earlier_seconds}


def grid() -> dict[str, tuple[str, Callable[[Cell], dict[str, Any]], list[Path]]]:
    """cell name -> (claim, function, outputs that must exist for the cell to count as done)."""
    cells: dict[str, tuple[str, Callable[[Cell], dict[str, Any]], list[Path]]] = {
        "teacher": ("setup", cell_teacher, [WORK / "teacher.onnx"]),
        "label": ("setup/C2", cell_label, [WORK / "pseudo-busi" / "summary.json",
                                           WORK / "pseudo-natural" / "summary.json"]),
    }
    for student in STUDENTS:
        cells[f"c1-busi-{student}"] = ("C1", student_cell("busi", student), [WORK / f"student-busi-{student}"])
        cells[f"c1-natural-{student}"] = ("C1/C2", student_cell("natural", student),
                                          [WORK / f"student-natural-{student}"])
        cells[f"c2-natural-nofilter-{student}"] = ("C2", student_cell("natural", student, include_excluded=True),
                                                   [WORK / f"student-natural-nofilter-{student}"])
    for student in STUDENTS:
        cells[f"c3-{student}"] = ("C3", c3_cell(student), [WORK / f"finetuned-{student}"])
    cells["c4"] = ("C4", cell_c4, [WORK / "student-c4"])
    cells["c4-staple"] = ("C4 (ablation: STAPLE fusion)", lambda c: c4_student(c, "staple"),
                          [WORK / "student-c4-staple"])
    cells["c4-sites"] = ("C4 (faithful: one site per teacher)", cell_c4_sites,
                         [WORK / "student-c4-sites-mean", WORK / "student-c4-sites-staple"])
    cells["c2-sites"] = ("C2 (the strongest site teacher, both ways)", cell_c2_sites, [])
    cells["scaling-busi"] = ("scaling curve (BUSI part)", cell_scaling_busi, [])
    cells["scaling-phantoms"] = ("scaling curve (BUSI + phantoms)", cell_scaling_phantoms,
                                 [WORK / f"student-scaling-234+{n}" for n in SCALING_PHANTOMS])
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=HERE.parents[2] / "shared" / "data" / "busi")
    parser.add_argument("--only", nargs="*", help="run only these cells (their dependencies must be done)")
    args = parser.parse_args()
    CELLS.mkdir(exist_ok=True)
    WORK.mkdir(exist_ok=True)
    for name, (claim, function, outputs) in grid().items():
        if args.only and name not in args.only:
            continue
        result_path = CELLS / f"{name}.json"
        if result_path.is_file() and all(p.exists() for p in outputs):
            print(f"= {name}: done", flush=True)
            continue
        print(f"> {name} ({claim})", flush=True)
        cell = Cell(name, args.busi.resolve())
        started = time.perf_counter()
        result = function(cell)
        record = {"cell": name, "claim": claim, "wall_seconds": round(time.perf_counter() - started, 1),
                  "commands": cell.commands, "result": result}
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        tmp.replace(result_path)
        print(f"< {name}: {record['wall_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
