"""``bench``: latency and throughput of models across runtimes, batch sizes, threads and precisions.

Each model is an ONNX file (its precision read from ``nakt.precision``) or a run directory (run
in PyTorch, and exported on the fly to each requested precision for the ONNX Runtime runtimes).
Every configuration is warmed up, then timed until a minimum time and count; with ``rounds`` > 1 all
configurations are timed round-robin that many times and each row takes the median of its rounds,
so a drift of the machine's speed (up to 1.7x here) hits every model alike. Rows carry the
percentiles, images/s, the provider that actually ran, GFLOPs from the graph, achieved GFLOP/s
and its ratio to this machine's SGEMM peak measured in the same call on the same threads, and
Dice when labeled images are given.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from nakt_edge.bench.flops import count_gflops
from nakt_edge.bench.peak import sgemm_peak_gflops
from nakt_edge.bench.runners import Runner, canonical_runtime, ort_runner, torch_runner
from nakt_edge.bench.timing import Timing, time_callable
from nakt_edge.data.images import resize_to
from nakt_edge.data.pairing import collect_samples, list_images
from nakt_edge.data.phantoms import make_phantom
from nakt_edge.errors import DeviceError, InputError
from nakt_edge.evaluation import evaluate_samples
from nakt_edge.progress import Reporter
from nakt_edge.provenance import machine, versions
from nakt_edge.runtime.predictor import DEFAULT_SIZE, OnnxPredictor, TorchPredictor
from nakt_edge.training.run import is_run_dir, read_run_info

log = logging.getLogger("nakt_edge")


@dataclass
class BenchReport:
    rows: list[dict[str, Any]]
    peaks: dict[str, float]
    skipped: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sgemm_peak_gflops": self.peaks, "skipped": self.skipped, **self.context}


@dataclass(frozen=True)
class _Variant:
    """One model file in one precision (or a run directory for the torch runtimes)."""

    name: str
    precision: str
    onnx: Path | None
    run: Path | None
    size: int
    channels: int
    parameters: int


def _onnx_parameters(path: Path) -> int:
    graph = onnx.load(str(path)).graph
    return int(sum(int(np.prod(init.dims)) for init in graph.initializer))


def _variants(model: Path, precisions: Sequence[str], size: int | None, calib: Path | None,
              work: Path) -> list[_Variant]:
    if is_run_dir(model):
        from nakt_edge.export.exporter import export_model
        from nakt_edge.models.registry import build_model, count_parameters

        info = read_run_info(model)
        params = count_parameters(build_model(info.spec))
        variants = [_Variant(model.name, "torch", None, model, size or info.size, info.in_channels, params)]
        for precision in precisions:
            target = work / f"{model.name}-{precision}.onnx"
            export_model(model, target, precision=precision, calib=calib, force=True)
            variants.append(_Variant(model.name, precision, target, None, size or info.size, info.in_channels,
                                     params))
        return variants
    if not model.is_file():
        raise InputError("model not found", hint="pass .onnx files or run folders", path=model)
    segmenter_meta = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    static = segmenter_meta.get("nakt.size", "dynamic")
    working = size or (int(static.split(",")[0]) if static != "dynamic" else DEFAULT_SIZE)
    from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

    channels = OnnxSegmenter(model, device="cpu").spec.channels
    return [_Variant(model.name, segmenter_meta.get("nakt.precision", "fp32"), model, None, working, channels,
                     _onnx_parameters(model))]


def _inputs(images: Path | None, batch: int, size: int) -> np.ndarray:
    """``batch`` gray images for end-to-end timing: real ones when given, else phantoms at 1.5 x size."""
    if images is not None:
        files = list_images(images)
        picked = [files[i % len(files)].read_gray() for i in range(batch)]
        height, width = picked[0].shape
        return np.stack([resize_to(p, height, width) for p in picked])
    native = int(size * 1.5)
    return np.stack([make_phantom("breast", native, 7, i).image for i in range(batch)]).astype(np.float32) / 255


def bench(
    models: Sequence[str | Path],
    *,
    runtimes: Sequence[str] = ("ort-cpu",),
    batches: Sequence[int] = (1,),
    threads: Sequence[int | None] = (None,),
    size: int | None = None,
    precisions: Sequence[str] = ("fp32",),
    calib: str | Path | None = None,
    images: str | Path | None = None,
    masks: str | Path | None = None,
    manifest: str | Path | None = None,
    split: str | None = None,
    compile_model: bool = False,
    min_time_s: float = 1.0,
    min_runs: int = 10,
    rounds: int = 1,
    reporter: Reporter | None = None,
) -> BenchReport:
    """Time every (model x precision) x runtime x batch x threads configuration; see module doc."""
    if rounds < 1:
        raise InputError(f"--rounds must be at least 1 (got {rounds})", hint="e.g. --rounds 3")
    reporter = reporter or Reporter()
    runtimes = [canonical_runtime(r) for r in runtimes]
    peaks = {str(t): sgemm_peak_gflops(t) for t in threads}
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    samples = collect_samples(images, masks, manifest=manifest, split=split) \
        if images is not None and masks is not None else None
    with tempfile.TemporaryDirectory(prefix="nakt-bench-") as tmp:
        variants = [v for m in models for v in _variants(Path(m), precisions, size, Path(calib) if calib else None,
                                                         Path(tmp))]
        configs: list[_Config] = []
        for variant in variants:
            dice = _dice(variant, samples) if samples is not None else None
            gflops = count_gflops(variant.onnx, variant.channels, variant.size, variant.size) if variant.onnx else None
            for runtime in runtimes:
                if (runtime.startswith("torch")) != (variant.onnx is None):
                    continue
                for batch in batches:
                    for thread in threads:
                        runner = _runner(variant, runtime, batch, thread, images, skipped, compile_model)
                        if runner is None:
                            continue
                        if gflops is None and variant.run is not None:
                            gflops = _gflops_of_run(variants, variant)
                        configs.append(_Config(variant, runtime, batch, thread, runner, gflops, dice))
        reporter.start("bench", "benchmarking", len(configs) * rounds)
        for _ in range(rounds):
            for config in configs:
                config.time(min_time_s, min_runs)
                reporter.advance("bench")
        reporter.finish("bench")
        rows = [config.row(peaks[str(config.threads)]) for config in configs]
    context = {"machine": machine(), "versions": versions(), "min_time_s": min_time_s, "rounds": rounds}
    return BenchReport(rows, peaks, skipped, context)


@dataclass
class _Config:
    """One timed configuration and its timings, one pure and one end-to-end per round."""

    variant: _Variant
    runtime: str
    batch: int
    threads: int | None
    runner: Runner
    gflops: float | None
    dice: float | None
    pure: list[Timing] = field(default_factory=list)
    e2e: list[Timing] = field(default_factory=list)

    def time(self, min_time_s: float, min_runs: int) -> None:
        self.runner.activate()
        self.pure.append(time_callable(self.runner.pure, warmup=3, min_time_s=min_time_s, min_runs=min_runs))
        self.e2e.append(time_callable(self.runner.end_to_end, warmup=1, min_time_s=min_time_s / 2,
                                      min_runs=max(3, min_runs // 2)))

    def row(self, peak: float) -> dict[str, Any]:
        """Percentiles: the median over rounds of each round's percentile."""
        def median(timings: list[Timing], key: str) -> float:
            return float(np.median([getattr(t, key) for t in timings]))

        v, p50 = self.variant, median(self.pure, "p50_ms")
        achieved = self.gflops * self.batch * 1000.0 / p50 if self.gflops else None
        return {
            "model": v.name, "precision": v.precision, "runtime": self.runtime, "provider": self.runner.provider,
            "batch": self.batch, "threads": self.threads, "size": v.size, "p50_ms": p50,
            "p95_ms": median(self.pure, "p95_ms"), "p99_ms": median(self.pure, "p99_ms"),
            "runs": sum(t.runs for t in self.pure), "rounds": len(self.pure),
            "round_p50_ms": [t.p50_ms for t in self.pure], "images_per_s": self.batch * 1000.0 / p50,
            "e2e_p50_ms": median(self.e2e, "p50_ms"), "e2e_images_per_s": self.batch * 1000.0 / median(self.e2e,
                                                                                                       "p50_ms"),
            "onnx_mb": v.onnx.stat().st_size / 1e6 if v.onnx else None, "parameters": v.parameters,
            "gflops": self.gflops, "gflops_per_s": achieved, "sgemm_peak_gflops": peak,
            "peak_ratio": achieved / peak if achieved and self.runtime.endswith("cpu") else None, "dice": self.dice,
        }


def _gflops_of_run(variants: list[_Variant], variant: _Variant) -> float | None:
    """A torch variant's GFLOPs: those of its FP32 export, when one was benchmarked beside it."""
    twin = next((v for v in variants if v.name == variant.name and v.precision == "fp32" and v.onnx), None)
    return count_gflops(twin.onnx, twin.channels, twin.size, twin.size) if twin and twin.onnx else None


def _dice(variant: _Variant, samples: list) -> float:
    """Dice at the model's own working size (nakt.size / the run's size), whatever size is timed."""
    predictor = TorchPredictor(variant.run, device="cpu") if variant.run else \
        OnnxPredictor(variant.onnx, device="cpu", size=variant.size)
    return float(evaluate_samples(predictor, samples).summary()["model"]["dice_mean"])


def _runner(variant: _Variant, runtime: str, batch: int, thread: int | None, images: str | Path | None,
            skipped: list[str], compile_model: bool) -> Runner | None:
    """The runner of one configuration, or None (recorded in ``skipped``) where its device is missing."""
    inputs = _inputs(Path(images) if images else None, batch, variant.size)
    try:
        return (torch_runner(variant.run, runtime, thread, variant.size, inputs, compile_model)
                if variant.run else ort_runner(variant.onnx, runtime, thread, variant.size, inputs))
    except DeviceError as error:
        skipped.append(f"{variant.name} {variant.precision} {runtime}: {error.message}")
        log.warning("skipped %s on %s: %s", variant.name, runtime, error.message)
        return None
