"""`nakt predict` on ultrasound cine loops as scanners write them (issue "Run students where ultrasound lives").

Generates native YBR_FULL_422 cine loops, 600x800, with an ultrasound region giving the pixel spacing,
of 100 and 1000 frames (phantom frames drifting a pixel a frame, tinted so chroma is not empty), runs
``nakt predict models/busi_cmunext_edge.onnx LOOP --out OUT --overlay`` in a child process on each, and
records what it wrote (masks, overlay MP4, CSV with mm^2), the frames/s and p50/p95 it printed, and the
child's peak RSS (VmHWM): it must stay flat from 100 to 1000 frames, because frames are decoded one at a time.

Usage: python benchmarks/dicom_predict/run.py [--work /tmp/nakt-dicom-predict] [--frames 100 1000]
Writes benchmarks/dicom_predict/results.json and RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parents[1]
sys.path.insert(0, str(REPO))

from nakt_edge.data.phantoms import make_phantom  # noqa: E402
from nakt_edge.outputs import write_json, write_text  # noqa: E402
from nakt_edge.provenance import machine, versions  # noqa: E402
from tests.dicom_files import write_dicom  # noqa: E402  (the same writer the tests use)

MODEL = REPO / "models" / "busi_cmunext_edge.onnx"
ROWS, COLUMNS, DISTINCT = 600, 800, 40
SPACING_CM = (0.008, 0.008)  # 0.08 mm a pixel

_CHILD = """
import atexit, json, sys
from pathlib import Path
def peak_mb():
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
atexit.register(lambda: print('PEAK_RSS_MB', peak_mb(), flush=True))
from nakt_edge.cli import app
sys.argv = ['nakt', *sys.argv[1:]]
app()
"""


def make_loop(path: Path, frames: int) -> None:
    base = [cv2.resize(make_phantom("breast", 384, 11, i).image, (COLUMNS, ROWS)) for i in range(DISTINCT)]
    tint = np.array([1.0, 0.93, 0.82], np.float32)  # a warm scanner palette: chroma is not constant
    loop = np.empty((frames, ROWS, COLUMNS, 3), np.uint8)
    for index in range(frames):
        gray = np.roll(base[index % DISTINCT], index % 25, axis=1).astype(np.float32)
        loop[index] = np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)
    write_dicom(path, loop, "YBR_FULL_422", region_delta_cm=SPACING_CM)


def run_predict(loop: Path, out: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, "predict", str(MODEL), str(loop), "--out", str(out),
                           "--overlay", "--force"], capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    peak = float(done.stdout.split("PEAK_RSS_MB")[-1].split()[0])
    summary = json.loads((out / "summary.json").read_text())
    with (out / f"{loop.stem}.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {"frames": summary["frames"], "frames_per_s": summary["frames_per_s"], "p50_ms": summary["p50_ms"],
            "p95_ms": summary["p95_ms"], "provider": summary["provider"], "peak_rss_mb": round(peak, 1),
            "loop_mb": round(loop.stat().st_size / 2**20, 1),
            "masks": len(list((out / "masks").glob("*.png"))),
            "overlay_mp4": [p.name for p in out.rglob("*.mp4")],
            "csv_rows": len(rows), "mm2_filled": sum(1 for r in rows if r["lesion_mm2"] != ""),
            "mean_lesion_mm2": round(float(np.mean([float(r["lesion_mm2"]) for r in rows])), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/nakt-dicom-predict"))
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    runs = []
    for frames in args.frames:
        loop = args.work / f"loop{frames}.dcm"
        if not loop.is_file():
            make_loop(loop, frames)
        runs.append(run_predict(loop, args.work / f"out{frames}"))
        print(json.dumps(runs[-1]), flush=True)
    result = {"model": MODEL.name, "loop": {"rows": ROWS, "columns": COLUMNS, "photometric": "YBR_FULL_422",
                                           "transfer_syntax": "Explicit VR Little Endian (native)",
                                           "spacing_mm": [10 * s for s in SPACING_CM]},
              "runs": runs, "peak_rss_ratio_last_to_first": round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3),
              "machine": machine(), "versions": versions()}
    write_json(ROOT / "results.json", result)
    lines = ["# `nakt predict` on YBR_FULL_422 cine loops", "",
             f"Command: `python benchmarks/dicom_predict/run.py` (model `models/{MODEL.name}`, loops "
             f"{ROWS}x{COLUMNS}, native YBR_FULL_422, spacing {10 * SPACING_CM[0]:g} mm from the ultrasound region).",
             "", "| frames | loop MB | masks | MP4 | CSV rows with mm^2 | frames/s | p50 ms | p95 ms | peak RSS MB |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['frames']} | {r['loop_mb']} | {r['masks']} | {', '.join(r['overlay_mp4'])} | {r['mm2_filled']} | "
              f"{r['frames_per_s']} | {r['p50_ms']} | {r['p95_ms']} | {r['peak_rss_mb']} |" for r in runs]
    lines += ["", f"Peak RSS, last over first: {result['peak_rss_ratio_last_to_first']} "
                  f"(frames are decoded one at a time, so it does not grow with the loop).", ""]
    write_text(ROOT / "RESULTS.md", "\n".join(lines))


if __name__ == "__main__":
    main()
