"""The GPU path in one run: ORT CUDA labeling against bare ORT, ORT on the CPU and PyTorch eager; AMP training; bench.

On a machine with a CUDA GPU, the project, torch with CUDA and onnxruntime-gpu (ENVIRONMENT.md says
how to bring the wheel), `benchmarks/gpu/run.sh` measures, in one run (sized for <= 8 minutes on an
H200):

- labeling at 256 and 384 px, batch 8/32/64, FP32 and FP16 teachers (DeepLabV3+-resnet18 and the
  paper's U-Net), on 5,000 generated phantoms: images/s of `nakt label --device cuda` end to end
  (``nakt_edge.labeling.labeler.label``, the command's code), of bare ONNX Runtime CUDA on the same
  preprocessed batches (plain ``session.run`` and pinned + IO-bound), of ORT on all CPU cores (256
  images) and of PyTorch eager on the GPU (FP32 and bf16 autocast); the provider of every Conv and
  MatMul node (ORT profiling); GPU utilisation and memory while labeling (nvidia-smi);
- training steps/s at 384 px, batch 16, of the teacher and a student (cmunext_edge), FP32 vs AMP (bf16);
- `nakt bench` of teachers and the student on ort-cuda and torch at batch 1 and 32.

Teachers are randomly initialised (throughput does not depend on the weights). Without
segmentation-models-pytorch, the DeepLabV3+ teacher is the committed zoo file
(models/busi_deeplabv3plus_r18_teacher_fp16.onnx and its FP32 copy) and its PyTorch rows are skipped.
`--dry-run` runs the same code on the CPU provider with tiny sizes (a test, < 2 minutes).
Writes OUT/results.json and OUT/RESULTS.md (default OUT: benchmarks/gpu).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nakt_edge.bench.harness import bench  # noqa: E402
from nakt_edge.config import LabelConfig, TrainConfig  # noqa: E402
from nakt_edge.data.images import resize_to  # noqa: E402
from nakt_edge.data.pairing import list_images  # noqa: E402
from nakt_edge.data.phantoms import write_phantom_set  # noqa: E402
from nakt_edge.export.exporter import export_model  # noqa: E402
from nakt_edge.export.quantize import fp16_to_fp32  # noqa: E402
from nakt_edge.labeling.labeler import label  # noqa: E402
from nakt_edge.outputs import write_json, write_text  # noqa: E402
from nakt_edge.provenance import machine, versions  # noqa: E402
from nakt_edge.runtime.cuda_feed import PinnedCudaFeeder  # noqa: E402
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter  # noqa: E402
from nakt_edge.runtime.providers import session_options  # noqa: E402
from nakt_edge.training.run import load_run  # noqa: E402
from nakt_edge.training.train import train  # noqa: E402

ZOO_TEACHER = ROOT / "models" / "busi_deeplabv3plus_r18_teacher_fp16.onnx"
TEACHERS = {"deeplabv3plus_r18": {"arch": "deeplabv3plus", "encoder": "resnet18"}, "unet_paper": {"arch": "unet"}}
STUDENT = {"arch": "cmunext_edge"}


@dataclass(frozen=True)
class Profile:
    device: str  # ORT and torch device
    sizes: tuple[int, ...]
    batches: tuple[int, ...]
    images: int
    cpu_images: int  # labeled on the CPU provider for the CPU row
    train_size: int
    train_batch: int
    train_steps: int
    bench_batches: tuple[int, ...]
    bench_runtimes: tuple[str, ...]
    min_time_s: float
    width: float  # of the randomly initialised U-Net teacher (1.0: the paper's)


FULL = Profile("cuda", (256, 384), (8, 32, 64), 5000, 256, 384, 16, 20, (1, 32), ("ort-cuda", "torch-cuda"), 2.0, 1.0)
DRY = Profile("cpu", (64,), (2, 4), 16, 8, 64, 2, 2, (1, 2), ("ort-cpu", "torch-cpu"), 0.1, 0.25)


class GpuSampler:
    """nvidia-smi utilisation and memory every 200 ms while a block runs (nothing without nvidia-smi)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            done = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                   "--format=csv,noheader,nounits", "-i", "0"], capture_output=True, text=True)
            try:
                util, memory = (float(v) for v in done.stdout.strip().split(","))
                self.samples.append((util, memory))
            except ValueError:
                pass
            self._stop.wait(0.2)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def summary(self) -> dict[str, float | None]:
        if not self.samples:
            return {"gpu_util_mean": None, "gpu_util_max": None, "gpu_memory_mib_max": None}
        util = [u for u, _ in self.samples]
        return {"gpu_util_mean": round(float(np.mean(util)), 1), "gpu_util_max": max(util),
                "gpu_memory_mib_max": max(m for _, m in self.samples)}


def gpu_description() -> dict[str, Any]:
    if not shutil.which("nvidia-smi"):
        return {"gpu": None}
    done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                          capture_output=True, text=True)
    name, driver, memory = (v.strip() for v in (done.stdout.splitlines() or [",,"])[0].split(","))
    return {"gpu": name, "driver": driver, "gpu_memory": memory}


def smp_available() -> bool:
    try:
        import segmentation_models_pytorch  # noqa: F401
    except ImportError:
        return False
    return True


def make_teachers(profile: Profile, phantoms: Path, work: Path) -> dict[str, dict[str, Any]]:
    """Per teacher: its run folder (None for the zoo file) and ONNX files by precision."""
    teachers: dict[str, dict[str, Any]] = {}
    for name, spec in TEACHERS.items():
        if spec["arch"] == "deeplabv3plus" and not smp_available():
            fp32 = fp16_to_fp32(ZOO_TEACHER, work / f"{name}-fp32.onnx")
            teachers[name] = {"run": None, "onnx": {"fp32": fp32, "fp16": ZOO_TEACHER}, "source": str(ZOO_TEACHER)}
            continue
        run = work / f"{name}-run"
        one_step = TrainConfig(size=max(profile.sizes), epochs=1, batch_size=2, max_steps_per_epoch=1,
                               val_fraction=0.0, device=profile.device, augment=False)
        train(phantoms / "images", phantoms / "masks", spec["arch"], run, encoder=spec.get("encoder"),
              width=profile.width if spec["arch"] == "unet" else 1.0, config=one_step, force=True)
        onnx = {p: export_model(run, work / f"{name}-{p}.onnx", precision=p, force=True).path for p in ("fp32", "fp16")}
        teachers[name] = {"run": run, "onnx": onnx, "source": "randomly initialised, one training step"}
    return teachers


def provider_counts(model: Path, device: str, batch: np.ndarray) -> dict[str, dict[str, int]]:
    """For Conv and MatMul nodes: how many ran on which execution provider (ORT profiling of one run)."""
    import onnxruntime as ort

    from nakt_edge.runtime.providers import CPU, CUDA

    options = session_options(None)
    options.enable_profiling = True
    options.profile_file_prefix = str(model.with_suffix("")) + "-profile"
    session = ort.InferenceSession(str(model), options, providers=[CUDA, CPU] if device == "cuda" else [CPU])
    session.run(None, {session.get_inputs()[0].name: batch})
    trace = Path(session.end_profiling())
    counts: dict[str, dict[str, int]] = {}
    for event in json.loads(trace.read_text()):
        args = event.get("args", {})
        op = args.get("op_name")
        if event.get("cat") == "Node" and op in ("Conv", "MatMul", "FusedConv", "FusedMatMul", "Gemm") \
                and event["name"].endswith("_kernel_time"):
            kind = "MatMul" if "MatMul" in op or op == "Gemm" else "Conv"
            counts.setdefault(kind, {}).setdefault(args.get("provider", "?"), 0)
            counts[kind][args.get("provider", "?")] += 1
    trace.unlink()
    return counts


def rate(fn: Any, batches: list[np.ndarray], images: int) -> float:
    """Images per second of ``fn`` over all batches, after one warm-up batch."""
    fn(batches[0])
    started = time.perf_counter()
    for batch in batches:
        fn(batch)
    return images / (time.perf_counter() - started)


def labeling(profile: Profile, teachers: dict[str, dict[str, Any]], phantoms: Path, work: Path) -> list[dict]:
    rows = []
    files = list_images(phantoms / "images")
    for size in profile.sizes:
        gray = np.stack([resize_to(f.read_gray(), size, size) for f in files])
        for name, teacher in teachers.items():
            for precision, model in teacher["onnx"].items():
                segmenter = OnnxSegmenter(model, device=profile.device, size=size)
                nodes = provider_counts(model, profile.device, segmenter.preprocess(gray[:2]))
                for batch in profile.batches:
                    out = work / "label" / f"{name}-{precision}-{size}-{batch}"
                    config = LabelConfig(size=size, batch=batch, device=profile.device, filter=False)
                    with GpuSampler() as sampler:
                        result = label([model], phantoms / "images", out, config, force=True)
                    shutil.rmtree(out)
                    batches = [segmenter.preprocess(gray[i:i + batch]) for i in range(0, len(gray), batch)]
                    session = segmenter.session
                    names = ([segmenter.output_name], segmenter.input_name)
                    bare = rate(lambda b, s=session, n=names: s.run(n[0], {n[1]: b}), batches, len(gray))
                    row = {"teacher": name, "precision": precision, "size": size, "batch": batch,
                           "images": len(gray), "provider": result.summary["provider"],
                           "label_images_per_s": round(result.images_per_s, 1),
                           "bare_ort_images_per_s": round(bare, 1), **sampler.summary(), "nodes": nodes}
                    if segmenter.provider == "CUDAExecutionProvider":
                        feeder = PinnedCudaFeeder(segmenter.session, segmenter.input_name, segmenter.output_name)
                        row["bare_ort_pinned_images_per_s"] = round(rate(feeder.run, batches, len(gray)), 1)
                    row["label_vs_bare"] = round(row["label_images_per_s"] / row["bare_ort_images_per_s"], 3)
                    rows.append(row)
                cpu = OnnxSegmenter(model, device="cpu", size=size)  # all cores (ORT's default threads)
                subset = [cpu.preprocess(gray[i:i + 8]) for i in range(0, min(profile.cpu_images, len(gray)), 8)]
                cpu_rate = rate(cpu.run, subset, sum(len(b) for b in subset))
                for row in rows[-len(profile.batches):]:
                    row["ort_cpu_images_per_s"] = round(cpu_rate, 1)
            if teacher["run"] is not None:
                torch_rates = torch_eager(teacher["run"], gray, profile)
                for row in rows:
                    if row["teacher"] == name and row["size"] == size:
                        row.update(torch_rates.get(row["batch"], {}))
    return rows


def torch_eager(run: Path, gray: np.ndarray, profile: Profile) -> dict[int, dict[str, float]]:
    """PyTorch eager images/s per batch size, FP32 and bf16 autocast, on the profile's device."""
    import torch

    model, _ = load_run(run)
    device = torch.device(profile.device)
    model.to(device)
    rates: dict[int, dict[str, float]] = {}
    with torch.inference_mode():
        for batch in profile.batches:
            tensors = [torch.from_numpy(gray[i:i + batch, None]).to(device) for i in range(0, len(gray), batch)]
            for label_, dtype in (("torch_fp32_images_per_s", None), ("torch_bf16_images_per_s", torch.bfloat16)):
                def step(x: torch.Tensor, dtype: Any = dtype) -> None:
                    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                        model(x)
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                rates.setdefault(batch, {})[label_] = round(rate(step, tensors, len(gray)), 1)
    return rates


def training(profile: Profile, teachers: dict[str, dict[str, Any]], phantoms: Path, work: Path) -> list[dict]:
    """Steps/s of the second epoch (the first pays for start-up), FP32 vs bf16 AMP."""
    rows = []
    models = {"teacher " + n: TEACHERS[n] for n, t in teachers.items() if t["run"] is not None}
    models["student cmunext_edge"] = STUDENT
    for name, spec in models.items():
        for amp in ("off", "bf16"):
            config = TrainConfig(size=profile.train_size, epochs=2, batch_size=profile.train_batch,
                                 max_steps_per_epoch=profile.train_steps, val_fraction=0.0, device=profile.device,
                                 amp=amp)
            run = work / "train" / f"{name.split()[-1]}-{amp}"
            result = train(phantoms / "images", phantoms / "masks", spec["arch"], run, encoder=spec.get("encoder"),
                           config=config, force=True)
            seconds = result.history[-1]["seconds"]
            rows.append({"model": name, "amp": amp, "size": profile.train_size, "batch": profile.train_batch,
                         "steps": profile.train_steps, "steps_per_s": round(profile.train_steps / seconds, 2)})
        rows[-1]["amp_speedup"] = round(rows[-1]["steps_per_s"] / rows[-2]["steps_per_s"], 3)
    return rows


def benching(profile: Profile, teachers: dict[str, dict[str, Any]], work: Path) -> list[dict]:
    student = work / "train" / "cmunext_edge-off"
    models = [t["run"] or t["onnx"]["fp32"] for t in teachers.values()] + [student]
    report = bench(models, runtimes=profile.bench_runtimes, batches=profile.bench_batches, threads=(None,),
                   size=max(profile.sizes), min_time_s=profile.min_time_s, min_runs=3)
    return report.to_dict()["rows"]


def checks(label_rows: list[dict], train_rows: list[dict]) -> dict[str, Any]:
    """The issue's done-when, from the rows (on the GPU run)."""
    at_384 = [r for r in label_rows if r["size"] == max(r["size"] for r in label_rows)]
    best = max(at_384, key=lambda r: r["label_images_per_s"])
    fp16_nodes = [r["nodes"] for r in label_rows if r["precision"] == "fp16"]
    on_cuda = all(set(kinds) <= {"CUDAExecutionProvider"} for n in fp16_nodes for kinds in n.values())
    teacher_amp = [r["amp_speedup"] for r in train_rows if r["model"].startswith("teacher") and "amp_speedup" in r]
    return {"label_best_images_per_s_at_largest_size": best["label_images_per_s"], "best_row": {
                k: best[k] for k in ("teacher", "precision", "size", "batch")},
            "label_vs_bare_at_that_row": best["label_vs_bare"],
            "fp16_conv_matmul_all_on_cuda": on_cuda,
            "teacher_amp_speedup": max(teacher_amp) if teacher_amp else None,
            "targets": {"label_images_per_s": 2000, "label_vs_bare": 0.9, "teacher_amp_speedup": 1.5}}


def markdown(results: dict[str, Any]) -> str:
    env = results["environment"]
    ort_version = env["versions"].get("onnxruntime-gpu") or env["versions"].get("onnxruntime")
    lines = [f"# GPU path ({'dry run on the CPU' if results['dry_run'] else env.get('gpu')})", "",
             f"Command: `{results['command']}`, {results['seconds']:.0f} s. Driver {env.get('driver')}, "
             f"onnxruntime {ort_version}, torch {env['versions'].get('torch')}.", "",
             "## Labeling (images/s)", "",
             "| teacher | precision | size | batch | nakt label | bare ORT | bare ORT pinned | label / bare | ORT CPU "
             "| torch FP32 | torch bf16 | GPU util mean/max % | GPU MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in results["labeling"]:
        lines.append(f"| {r['teacher']} | {r['precision']} | {r['size']} | {r['batch']} | {r['label_images_per_s']} | "
                     f"{r['bare_ort_images_per_s']} | {r.get('bare_ort_pinned_images_per_s', '-')} | "
                     f"{r['label_vs_bare']} | {r.get('ort_cpu_images_per_s', '-')} | "
                     f"{r.get('torch_fp32_images_per_s', '-')} | {r.get('torch_bf16_images_per_s', '-')} | "
                     f"{r['gpu_util_mean']}/{r['gpu_util_max']} | {r['gpu_memory_mib_max']} |")
    lines += ["", "Conv/MatMul nodes by provider (ORT profiling): " + "; ".join(
        sorted({f"{r['teacher']} {r['precision']}: {json.dumps(r['nodes'])}" for r in results["labeling"]})), "",
              "## Training (steps/s)", "", "| model | AMP | size | batch | steps/s | AMP / FP32 |",
              "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['amp']} | {r['size']} | {r['batch']} | {r['steps_per_s']} | "
              f"{r.get('amp_speedup', '-')} |" for r in results["training"]]
    lines += ["", "## nakt bench", "", "| model | runtime | batch | p50 ms | images/s |", "|---|---|---:|---:|---:|"]
    lines += [f"| {Path(r['model']).name} | {r['runtime']} | {r['batch']} | {r['p50_ms']:.2f} | "
              f"{r['images_per_s']:.1f} |" for r in results["bench"]]
    lines += ["", "## Checks", "", "```json", json.dumps(results["checks"], indent=2), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "gpu")
    parser.add_argument("--dry-run", action="store_true", help="CPU provider, tiny sizes: the same code in < 2 min")
    args = parser.parse_args()
    profile = DRY if args.dry_run else FULL
    started = time.perf_counter()
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    phantoms = work / "phantoms"
    write_phantom_set(phantoms, profile.images, "breast", max(profile.sizes), seed=0)
    teachers = make_teachers(profile, phantoms, work)
    label_rows = labeling(profile, teachers, phantoms, work)
    train_rows = training(profile, teachers, phantoms, work)
    bench_rows = benching(profile, teachers, work)
    results = {"dry_run": args.dry_run, "command": "benchmarks/gpu/run.sh" + (" --dry-run" if args.dry_run else ""),
               "environment": {**gpu_description(), "machine": machine(), "versions": versions(),
                               "smp": smp_available()},
               "teachers": {n: {"source": t["source"], "onnx": {p: Path(f).name for p, f in t["onnx"].items()}}
                            for n, t in teachers.items()},
               "labeling": label_rows, "training": train_rows, "bench": bench_rows,
               "checks": checks(label_rows, train_rows)}
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out / "results.json", results)
    write_text(args.out / "RESULTS.md", markdown(results))
    shutil.rmtree(work)
    print(f"wrote {args.out / 'results.json'} and RESULTS.md in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
