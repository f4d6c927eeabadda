"""Does `nakt label --workers N` (decoding threads beside the teachers) keep up on this machine?

Labels the BUSI `transfer` split (234 images, decoded from PNG at native size, resized to 256) with a fast
teacher (the zoo's cmunext_edge student, ~2 ms an image, where decoding matters most) and the zoo's FP16
DeepLabV3+ teacher, ORT on 2 threads, batch 8, with 1, 2 and 4 decoding workers, alternating the settings
over 3 repeats in one run. The default is the usable cores (2 here); the old default was 1 on 2 cores.

Usage: python benchmarks/label_workers.py [--busi ../shared/data/busi] [--repeats 3]
Writes benchmarks/results/label_workers.{json,md}.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from nakt_edge.config import LabelConfig  # noqa: E402
from nakt_edge.labeling.labeler import label  # noqa: E402
from nakt_edge.outputs import write_json, write_text  # noqa: E402
from nakt_edge.provenance import machine, usable_cores, versions  # noqa: E402

TEACHERS = ("busi_cmunext_edge.onnx", "busi_deeplabv3plus_r18_teacher_fp16.onnx")
WORKERS = (1, 2, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=ROOT.parents[1] / "shared" / "data" / "busi")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, dict[int, list[float]]] = {t: {w: [] for w in WORKERS} for t in TEACHERS}
    with tempfile.TemporaryDirectory(prefix="nakt-label-workers-") as tmp:
        for _ in range(args.repeats):
            for teacher in TEACHERS:
                for workers in WORKERS:
                    out = Path(tmp) / f"{teacher}-{workers}"
                    shutil.rmtree(out, ignore_errors=True)
                    config = LabelConfig(size=256, batch=8, threads=2, device="cpu", workers=workers)
                    result = label([ROOT.parent / "models" / teacher], args.busi / "images", out, config,
                                   manifest=args.busi / "manifest.csv", split="transfer")
                    rates[teacher][workers].append(result.images_per_s)
    rows = [{"teacher": t, "workers": w, "images_per_s_median": round(float(np.median(v)), 1),
             "images_per_s": [round(x, 1) for x in v], "ratio_to_1_worker": round(float(np.median(v) /
                                                                                       np.median(rates[t][1])), 3)}
            for t in TEACHERS for w, v in rates[t].items()]
    write_json(ROOT / "results" / "label_workers.json", {"rows": rows, "usable_cores": usable_cores(),
                                                         "machine": machine(), "versions": versions()})
    lines = ["# `nakt label --workers` on BUSI transfer (234 images, 256 px, batch 8, ORT 2 threads)", "",
             f"Command: `python benchmarks/label_workers.py` ({args.repeats} alternating repeats, medians; "
             f"{usable_cores()} usable cores).", "",
             "| teacher | workers | images/s (median) | vs 1 worker |", "|---|---:|---:|---:|"]
    lines += [f"| {r['teacher']} | {r['workers']} | {r['images_per_s_median']} | {r['ratio_to_1_worker']} |"
              for r in rows]
    write_text(ROOT / "results" / "label_workers.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
