"""Does `nakt label` keep up with its teachers? (issue: pseudo-labeling, DESIGN.md "Numbers")

On a UNet-resnet18 teacher (1 input channel, exported by nakt-edge) and real BUSI images, at
working sizes 256 and 384, batch 1 and 8, 2 threads:

(a) end-to-end ``label`` images/s (decode, resize, teacher, fusion, filters, PNG + manifest
    writes) divided by bare ``session.run`` images/s on pre-loaded, pre-processed tensors
    (goal >= 0.90). The bare rate is measured before and after the end-to-end run and averaged,
    because this machine's speed drifts.
(b) ONNX Runtime vs PyTorch eager, same inputs, same threads (goal: ORT faster).
(c) peak RSS of a child process that labels a 10,000-image folder (hard links to BUSI images)
    with a tiny teacher at 384 px, next to what holding the decoded images and masks would take.

Usage: python benchmarks/label_throughput.py [--busi ../shared/data/busi] [--images 48] [--big 10000]
Writes benchmarks/results/label_throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nakt_edge.config import LabelConfig
from nakt_edge.data.images import resize_to
from nakt_edge.data.pairing import list_images, select_split
from nakt_edge.data.readers.item import ImageItem
from nakt_edge.export.onnx_export import torch_to_onnx
from nakt_edge.labeling.labeler import label
from nakt_edge.models.registry import ModelSpec, build_model
from nakt_edge.outputs import write_json, write_text
from nakt_edge.provenance import machine, versions
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

ROOT = Path(__file__).resolve().parent
THREADS = 2


def export_teacher(spec: ModelSpec, folder: Path) -> Path:
    torch.manual_seed(0)
    model = build_model(spec).eval()
    return torch_to_onnx(model, torch.zeros(1, 1, 256, 256), folder / f"{spec.arch}.onnx")


def bare_rate(segmenter: OnnxSegmenter, batches: list[np.ndarray]) -> float:
    segmenter.run(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        segmenter.run(batch)
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


@torch.no_grad()
def torch_rate(model: torch.nn.Module, batches: list[np.ndarray]) -> float:
    torch.set_num_threads(THREADS)
    tensors = [torch.from_numpy(b) for b in batches]
    model(tensors[0])
    started = time.perf_counter()
    for tensor in tensors:
        model(tensor)
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


def throughput_rows(teacher: Path, spec: ModelSpec, files: list[ImageItem], work: Path, repeats: int) -> list[dict]:
    """Per (size, batch): ``repeats`` label runs, each between two bare runs; the median ratio is reported."""
    torch.manual_seed(0)
    eager = build_model(spec).eval()
    rows = []
    for size in (256, 384):
        decoded = np.stack([resize_to(f.read_gray(), size, size) for f in files])
        for batch in (1, 8):
            segmenter = OnnxSegmenter(teacher, device="cpu", threads=THREADS, size=size)
            batches = [segmenter.preprocess(decoded[i:i + batch]) for i in range(0, len(decoded), batch)]
            config = LabelConfig(size=size, batch=batch, threads=THREADS, device="cpu")
            bare = [bare_rate(segmenter, batches)]
            labeled = []
            for _ in range(repeats):
                result = label([teacher], files[0].path.parent, work / f"label-{size}-{batch}", config,
                               manifest=work / "files.csv", force=True)
                labeled.append(result.images_per_s)
                bare.append(bare_rate(segmenter, batches))
            ratios = [rate / ((bare[i] + bare[i + 1]) / 2) for i, rate in enumerate(labeled)]
            torch_ips = torch_rate(eager, batches)
            ort_ips = bare_rate(segmenter, batches)
            rows.append({
                "size": size, "batch": batch, "threads": THREADS, "images": len(files),
                "bare_ort_images_per_s": float(np.median(bare)), "label_images_per_s": float(np.median(labeled)),
                "label_over_bare": float(np.median(ratios)), "label_over_bare_runs": ratios,
                "torch_images_per_s": torch_ips, "ort_images_per_s_beside_torch": ort_ips,
                "ort_over_torch": ort_ips / torch_ips,
            })
            print(json.dumps(rows[-1]), flush=True)
    return rows


_CHILD = """
import json, sys, time, threading
from pathlib import Path
from nakt_edge.config import LabelConfig
from nakt_edge.labeling.labeler import label
samples = []
def status_mb(key):
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
def rss_mb():
    return status_mb('VmRSS')
def watch():
    while True:
        samples.append(rss_mb()); time.sleep(0.5)
threading.Thread(target=watch, daemon=True).start()
teacher, images, out = sys.argv[1:4]
started = time.perf_counter()
result = label([teacher], images, out, LabelConfig(size=384, batch=8, threads=2, device='cpu'))
peak = status_mb('VmHWM')  # ru_maxrss would include the parent's RSS at fork
tenth = samples[: max(1, len(samples) // 10)]
print(json.dumps({'images': result.processed, 'seconds': time.perf_counter() - started,
                  'peak_rss_mb': peak, 'rss_first_tenth_max_mb': max(tenth), 'rss_last_mb': samples[-1],
                  'rss_samples': len(samples)}))
"""


def memory_row(files: list[ImageItem], count: int, work: Path) -> dict:
    tiny = export_teacher(ModelSpec("unet", width=0.125), work)
    big = work / "big"
    big.mkdir()
    for index in range(count):
        source = files[index % len(files)].path
        os.link(source, big / f"{index:05d}_{source.name}")
    done = subprocess.run([sys.executable, "-c", _CHILD, str(tiny), str(big), str(work / "big-out")],
                          capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    held_mb = count * 384 * 384 * (4 + 4) / 2**20  # decoded float32 image + float32 probability map
    row.update({"folder_images": count, "all_decoded_mb": held_mb,
                "all_decoded_over_peak": held_mb / row["peak_rss_mb"]})
    print(json.dumps(row), flush=True)
    return row


def markdown(report: dict) -> str:
    lines = ["# Label throughput (UNet-resnet18 teacher, BUSI images, CPU)", "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; "
             f"onnxruntime {report['versions'].get('onnxruntime-gpu', report['versions'].get('onnxruntime'))}, "
             f"torch {report['versions']['torch']}. Command: `{report['command']}`", "",
             "| size | batch | threads | bare ORT img/s | `nakt label` img/s | (a) label / bare (runs) "
             "| torch eager img/s | (b) ORT / torch |", "|---|---|---|---|---|---|---|---|"]
    for r in report["throughput"]:
        lines.append(f"| {r['size']} | {r['batch']} | {r['threads']} | {r['bare_ort_images_per_s']:.2f} | "
                     f"{r['label_images_per_s']:.2f} | **{r['label_over_bare']:.3f}** "
                     f"({', '.join(f'{x:.2f}' for x in r['label_over_bare_runs'])}) | {r['torch_images_per_s']:.2f} "
                     f"| **{r['ort_over_torch']:.2f}x** |")
    m = report["memory"]
    lines += ["", "(a) goal >= 0.90: median over label runs, each divided by the mean of the bare ORT runs just "
              "before and after it (this machine's speed drifts by up to 1.7x). (b) goal > 1: ORT and torch timed "
              "back to back on the same pre-processed batches.", "",
              f"(c) Labeling a {m['folder_images']}-image folder at 384 px: peak RSS **{m['peak_rss_mb']:.0f} MB** "
              f"(max RSS in the first tenth of the run {m['rss_first_tenth_max_mb']:.0f} MB, at the end "
              f"{m['rss_last_mb']:.0f} MB); holding every decoded image and probability map would take "
              f"{m['all_decoded_mb']:.0f} MB, {m['all_decoded_over_peak']:.0f}x the peak. "
              f"{m['images']} images in {m['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=ROOT.parents[1] / "shared" / "data" / "busi")
    parser.add_argument("--images", type=int, default=128, help="BUSI transfer images per throughput cell")
    parser.add_argument("--repeats", type=int, default=3, help="label runs per cell")
    parser.add_argument("--big", type=int, default=10_000, help="images in the memory test folder")
    args = parser.parse_args()
    files, _ = select_split(list_images(args.busi / "images"), args.busi / "manifest.csv", "transfer")
    files = files[: args.images]  # the transfer split has 234 images
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "files.csv").write_text("file\n" + "".join(f"{f.name}\n" for f in files))
        spec = ModelSpec("smp_unet", encoder="resnet18")
        teacher = export_teacher(spec, work)
        report = {"command": " ".join(["python", *sys.argv]), "machine": machine(), "versions": versions(),
                  "teacher": "smp Unet, resnet18 encoder, 1 channel (random weights: speed only)",
                  "throughput": throughput_rows(teacher, spec, files, work, args.repeats),
                  "memory": memory_row(list_images(args.busi / "images"), args.big, work)}
    results = ROOT / "results"
    write_json(results / "label_throughput.json", report)
    write_text(results / "label_throughput.md", markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
