"""Scaling out on one 2-core machine: 1 vs 2 processes for labeling (shards, Ray) and for DDP distillation.

Labeling: all 780 BUSI images at 128 px with the zoo's FP16 DeepLabV3+ teacher: one `nakt label`
process (ORT 2 threads, and 1 thread), then `--shard 1/2` and `--shard 2/2` side by side (1 thread
each) plus `--merge`, then `--ray local --ray-actors 2` (1 thread each; Ray's start-up included: it
is what a user waits for). Each set is checked byte for byte against the single run. Training:
`nakt distill --pseudo` of the cmunext_edge student at 128 px on that set, 3 epochs, one process
(batch 8, torch's default threads) vs `torchrun --nproc_per_node 2` (gloo, batch 4 each: the same
global batch; one thread each, as torchrun sets), seconds per epoch from history.
On 2 cores the processes share the cores one process could already use, so these ratios measure the
overhead of each engine, not a speed-up; on N machines the work divides by N.

Usage: python benchmarks/scale_out.py [--busi ../shared/data/busi]
Writes benchmarks/results/scale_out.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from nakt_edge.outputs import read_json, write_json, write_text  # noqa: E402
from nakt_edge.provenance import machine, usable_cores, versions  # noqa: E402

TEACHER = ROOT.parent / "models" / "busi_deeplabv3plus_r18_teacher_fp16.onnx"
NAKT = [sys.executable, "-m", "nakt_edge"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}  # what torchrun gives each of several processes


def run(*commands: list[str], env: dict[str, str] | None = None) -> float:
    """Run the commands side by side; seconds until the last one ends (each must succeed)."""
    started = time.perf_counter()
    procs = [subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env or dict(os.environ)) for command in commands]
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, proc.args))}\n{err[-2000:]}")
    return time.perf_counter() - started


def same_set(a: Path, b: Path) -> bool:
    masks = sorted(p.name for p in (a / "masks").iterdir())
    return (a / "manifest.csv").read_bytes() == (b / "manifest.csv").read_bytes() and masks == sorted(
        p.name for p in (b / "masks").iterdir()) and all(
        (a / "masks" / m).read_bytes() == (b / "masks" / m).read_bytes() for m in masks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=ROOT.parents[1] / "shared" / "data" / "busi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nakt-scale-out-") as tmp:
        work = Path(tmp)
        label = [*NAKT, "label", "--teacher", TEACHER, "--images", args.busi / "images", "--size", "128",
                 "--device", "cpu"]
        images = 780
        single = run([*label, "--threads", "2", "--out", work / "single"])
        single_1t = run([*label, "--threads", "1", "--out", work / "single-1t"])
        label += ["--threads", "1"]
        shards = run(*[[*label, "--shard", f"{k}/2", "--out", work / f"s{k}"] for k in (1, 2)], env=ONE_THREAD)
        merge = run([*NAKT, "label", "--merge", work / "s1", "--merge", work / "s2", "--out", work / "merged"])
        ray = run([*label, "--ray", "local", "--ray-actors", "2", "--out", work / "ray"], env=ONE_THREAD)
        labeling = [
            {"engine": "1 process, ORT 2 threads", "processes": 1, "seconds": round(single, 2),
             "images_per_s": round(images / single, 1), "identical_to_single": True},
            {"engine": "1 process, ORT 1 thread", "processes": 1, "seconds": round(single_1t, 2),
             "images_per_s": round(images / single_1t, 1),
             "identical_to_single": same_set(work / "single", work / "single-1t")},
            {"engine": "--shard 1/2 + 2/2 side by side, then --merge", "processes": 2,
             "seconds": round(shards + merge, 2), "merge_seconds": round(merge, 2),
             "images_per_s": round(images / (shards + merge), 1),
             "identical_to_single": same_set(work / "single", work / "merged")},
            {"engine": "--ray local --ray-actors 2 (start-up included)", "processes": 2, "seconds": round(ray, 2),
             "images_per_s": round(images / ray, 1), "identical_to_single": same_set(work / "single", work / "ray")},
        ]
        for row in labeling:
            row["ratio_to_1_process"] = round(single / row["seconds"], 3)
        distill = [*NAKT, "distill", "--pseudo", work / "single", "--arch", "cmunext_edge", "--size", "128",
                   "--epochs", "3", "--lr", "0.0003", "--device", "cpu"]
        run([*distill, "--batch-size", "8", "--out", work / "d1"])
        run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *distill[1:],
             "--batch-size", "4", "--out", work / "d2"], env=ONE_THREAD)
        training = []
        for name, processes in (("d1", 1), ("d2", 2)):
            meta = read_json(work / name / "model.json")
            epoch_seconds = [row["seconds"] for row in meta["history"]]
            training.append({"processes": processes, "backend": meta["effective"]["backend"],
                             "global_batch_size": meta["effective"]["global_batch_size"],
                             "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 2),
                             "best_val_dice": round(meta["metrics"]["best_val_dice"], 4)})
        training[1]["ratio_to_1_process"] = round(training[0]["seconds_per_epoch"] / training[1]["seconds_per_epoch"],
                                                  3)
    write_json(ROOT / "results" / "scale_out.json", {"labeling": labeling, "training": training,
                                                     "usable_cores": usable_cores(), "machine": machine(),
                                                     "versions": versions()})
    lines = ["# Scaling out: 1 vs 2 processes on one 2-core machine", "",
             f"Command: `python benchmarks/scale_out.py` ({usable_cores()} usable cores; BUSI, 780 images, 128 px, "
             "FP16 DeepLabV3+ teacher; ORT threads per process as in each row).", "",
             "| labeling | seconds | images/s | vs 1 process | masks and manifest identical to 1 process |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {r['engine']} | {r['seconds']} | {r['images_per_s']} | {r['ratio_to_1_process']} | "
              f"{'yes' if r['identical_to_single'] else 'NO'} |" for r in labeling]
    lines += ["", "| distill cmunext_edge, 3 epochs | backend | global batch | s / epoch | vs 1 process "
                  "| best val Dice |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['processes']} process(es) | {r['backend'] or '-'} | {r['global_batch_size']} | "
              f"{r['seconds_per_epoch']} | {r.get('ratio_to_1_process', 1.0)} | {r['best_val_dice']} |"
              for r in training]
    write_text(ROOT / "results" / "scale_out.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
