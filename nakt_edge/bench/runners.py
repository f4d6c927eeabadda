"""One runner per runtime: pure inference on a prepared batch, and end-to-end from gray images.

``ort-cpu``, ``ort-cuda`` (IO binding: the batch lives on the GPU, so copies are not timed as
inference), ``ort-tensorrt`` (when ONNX Runtime has it) and ``torch-cpu`` / ``torch-cuda`` (eager,
or ``torch.compile``). End-to-end adds pre-processing (resize, normalization, layout) and post-
processing (activation, resize back) of real-sized images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nakt_edge.errors import InputError
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

RUNTIMES = ("ort-cpu", "ort-cuda", "ort-tensorrt", "torch-cpu", "torch-cuda")
ALIASES = {"torch": "torch-cpu", "ort": "ort-cpu"}


@dataclass
class Runner:
    """What the harness times: ``pure()`` runs the prepared batch, ``end_to_end()`` the raw images; ``activate()``
    restores process-wide settings (PyTorch's thread count) before a runner is timed beside others."""

    runtime: str
    provider: str
    pure: Callable[[], object]
    end_to_end: Callable[[], object]
    activate: Callable[[], None] = lambda: None


def canonical_runtime(name: str) -> str:
    name = ALIASES.get(name, name)
    if name not in RUNTIMES:
        raise InputError(f"unknown runtime '{name}'", hint=f"use one of {', '.join(RUNTIMES)} (or torch)")
    return name


def ort_runner(path: Path, runtime: str, threads: int | None, size: int, images: np.ndarray) -> Runner:
    """An ONNX Runtime runner fed at ``size`` x ``size``; ``images`` (N, H, W) gray in [0, 1] at any size."""
    device = {"ort-cpu": "cpu", "ort-cuda": "cuda", "ort-tensorrt": "tensorrt"}[runtime]
    segmenter = OnnxSegmenter(path, device=device, threads=threads, overrides={"size": f"{size},{size}"})
    shape = segmenter.session.get_inputs()[0].shape
    static = shape[2:4] if segmenter.spec.layout == "NCHW" else shape[1:3]
    if all(isinstance(d, int) for d in static) and tuple(static) != (size, size):
        raise InputError(f"the model's input is fixed at {static[0]}x{static[1]}", hint="drop --size", path=path)
    batch = segmenter.preprocess(images)
    session = segmenter.session
    if runtime == "ort-cpu":
        feeds = {segmenter.input_name: batch}

        def pure() -> object:
            return session.run([segmenter.output_name], feeds)
    else:
        import onnxruntime as ort

        binding = session.io_binding()
        binding.bind_ortvalue_input(segmenter.input_name, ort.OrtValue.ortvalue_from_numpy(batch, "cuda", 0))
        binding.bind_output(segmenter.output_name, "cuda")

        def pure() -> object:
            session.run_with_iobinding(binding)
            return binding

    return Runner(runtime, segmenter.provider, pure, lambda: segmenter.predict(images))


def torch_runner(run_dir: Path, runtime: str, threads: int | None, size: int, images: np.ndarray,
                 compile_model: bool = False) -> Runner:
    """A PyTorch runner for a run directory fed at ``size`` (eager, or torch.compile when ``compile_model``)."""
    import torch

    from nakt_edge.data.images import resize_stack
    from nakt_edge.runtime.predictor import TorchPredictor

    predictor = TorchPredictor(run_dir, device="cuda" if runtime == "torch-cuda" else "cpu", threads=threads)
    model = torch.compile(predictor.model) if compile_model else predictor.model
    batch = torch.from_numpy(resize_stack(images.astype(np.float32), size, size))[:, None]
    batch = batch.expand(-1, predictor.info.in_channels, -1, -1).contiguous().to(predictor.device)
    synchronize = torch.cuda.synchronize if predictor.device.type == "cuda" else (lambda: None)

    def pure() -> object:
        with torch.no_grad():
            out = model(batch)
        synchronize()
        return out

    def activate() -> None:
        if threads:
            torch.set_num_threads(threads)

    label = f"torch-{predictor.device.type}" + ("-compiled" if compile_model else "")
    return Runner(runtime, label, pure, lambda: predictor.predict(images), activate)
