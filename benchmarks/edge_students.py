"""Which student fits the edge device? Latency, size and GFLOP/s of candidate students vs the teacher.

Candidates (smp names): U-Net mobilenet_v2, U-Net efficientnet-b0, a narrow SDU-Net, FPN
mobilenet_v2, Segformer mit_b0, plus the BUSI-distilled students (Attention U-Net w0.25, the edge
U-Net mobilenet_v2 w0.25) and the DeepLabV3+-resnet18 teacher from benchmarks/busi when their runs
exist (trained at 128 px: their Dice is measured at 128 px, their latency at 256 px). Each is
exported with `nakt export` in FP32, FP16 and INT8 (calibrated on BUSI transfer images; gates
recorded, not enforced: --force), then timed with `nakt bench` at 256 x 256, batch 1, 1 and 2
threads, ONNX Runtime CPU. Models without trained BUSI weights are initialised by one optimizer step
on phantoms: their latency is real, their Dice is not reported.

Usage: python benchmarks/edge_students.py [--busi ../shared/data/busi]
Writes benchmarks/results/edge_students.{json,csv,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
GRID = ROOT / "busi" / "work"
NAKT = [sys.executable, "-m", "nakt_edge"]
CANDIDATES = {  # name: nakt train arguments
    "unet_mobilenet_v2": ["--arch", "smp_unet", "--encoder", "mobilenet_v2"],
    "unet_efficientnet-b0": ["--arch", "smp_unet", "--encoder", "efficientnet-b0"],
    "sdu_net_w0.25": ["--arch", "sdu_net", "--width", "0.25"],
    "fpn_mobilenet_v2": ["--arch", "fpn", "--encoder", "mobilenet_v2"],
    "segformer_mit_b0": ["--arch", "segformer", "--encoder", "mit_b0"],
}
TRAINED = {"busi_attention_unet_student": GRID / "student-busi-attention_unet",
           "busi_edge_student": GRID / "student-busi-edge", "busi_teacher_deeplabv3plus": GRID / "teacher"}


def nakt(*args: object) -> None:
    command = NAKT + [str(a) for a in args]
    print("$ nakt " + " ".join(str(a) for a in args), flush=True)
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busi", type=Path, default=ROOT.parents[1] / "shared" / "data" / "busi")
    parser.add_argument("--min-time", type=float, default=1.5)
    args = parser.parse_args()
    busi = args.busi.resolve()
    out = ROOT / "results" / "edge_students.json"
    with tempfile.TemporaryDirectory(prefix="nakt-edge-") as tmp:
        work = Path(tmp)
        nakt("phantoms", "--out", work / "ph", "--n", 8, "--size", 256)
        runs = {}
        for name, train_args in CANDIDATES.items():
            run = work / name
            nakt("train", "--images", work / "ph" / "images", "--masks", work / "ph" / "masks", *train_args, "--size",
                 256, "--epochs", 1, "--max-steps", 1, "--val-fraction", 0, "--batch-size", 4, "--device", "cpu",
                 "--out", run)
            runs[name] = run
        runs.update({name: run for name, run in TRAINED.items() if (run / "model.json").is_file()})
        models = []
        for name, run in runs.items():
            for precision in ("fp32", "fp16", "int8"):
                target = work / f"{name}-{precision}.onnx"
                nakt("export", run, "--out", target, "--precision", precision, "--calib", busi / "images",
                     "--manifest", busi / "manifest.csv", "--split", "transfer", "--threads", 2, "--force")
                models.append(target)
        trained = [m for m in models if any(m.name.startswith(t) for t in TRAINED)]
        nakt("bench", *[m for m in models if m not in trained], "--batch", 1, "--threads", "1,2", "--size", 256,
             "--min-time", args.min_time, "--out", work / "untrained.json")
        if trained:
            nakt("bench", *trained, "--batch", 1, "--threads", "1,2", "--size", 256, "--min-time", args.min_time,
                 "--images", busi / "images", "--masks", busi / "masks", "--manifest", busi / "manifest.csv",
                 "--split", "test", "--out", work / "trained.json")
        merged = json.loads((work / "untrained.json").read_text())
        if trained:
            merged["rows"] += json.loads((work / "trained.json").read_text())["rows"]
        from nakt_edge.bench.harness import BenchReport
        from nakt_edge.bench.report import write_bench

        report = BenchReport(merged["rows"], merged["sgemm_peak_gflops"], merged["skipped"],
                             {k: merged[k] for k in ("machine", "versions", "min_time_s")})
        write_bench(report, out, plot=True, title="Edge students: 256 x 256, batch 1, ONNX Runtime CPU")
        import onnx

        gates = {}
        for model in models:
            props = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
            gates[model.stem] = json.loads(props.get("nakt.gates", "{}"))
        (ROOT / "results" / "edge_students_gates.json").write_text(json.dumps(gates, indent=2) + "\n")
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
