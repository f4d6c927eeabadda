"""One interface over the two kinds of model a user evaluates: ONNX files and training runs.

A predictor maps gray images (N, H, W) in [0, 1] to foreground probabilities (N, H, W) and knows
its working size and threshold, so evaluation and benchmarks treat both kinds alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from nakt_edge.data.images import resize_stack
from nakt_edge.errors import InputError
from nakt_edge.ood import IntensityReference

DEFAULT_SIZE = 384  # the paper's working size, for foreign ONNX models with a dynamic input


class Predictor(Protocol):
    name: str
    working_size: int
    threshold: float
    ood: IntensityReference | None  # the out-of-domain reference an exported model carries (nakt.ood)

    def predict(self, images: np.ndarray) -> np.ndarray: ...


class OnnxPredictor:
    """An ``OnnxSegmenter`` with the threshold from ``nakt.threshold`` (0.5 when absent)."""

    def __init__(self, path: str | Path, *, device: str = "auto", threads: int | None = None,
                 size: int | None = None, overrides: dict[str, str] | None = None) -> None:
        from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

        self.segmenter = OnnxSegmenter(path, overrides=overrides, device=device, threads=threads, size=size)
        self.name = Path(path).name
        static = self.segmenter.spec.size
        self.working_size = static[0] if static else (size or DEFAULT_SIZE)
        self.threshold = float(self.segmenter.metadata.get("nakt.threshold", 0.5))
        self.ood = IntensityReference.from_metadata(self.segmenter.metadata.get("nakt.ood"))
        self.provider = self.segmenter.provider

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.segmenter.predict(images)


class TorchPredictor:
    """The best weights of a training run, run in PyTorch eager mode."""

    def __init__(self, run_dir: str | Path, *, device: str = "auto", threads: int | None = None) -> None:
        import torch

        from nakt_edge.runtime.devices import torch_device
        from nakt_edge.training.run import load_run

        if threads:
            torch.set_num_threads(threads)
        self.model, self.info = load_run(run_dir)
        self.device = torch_device(device)
        self.model.to(self.device)
        self.name = Path(run_dir).name
        self.working_size = self.info.size
        self.threshold = self.info.threshold
        self.ood = None  # calibration and the OOD reference belong to exported files
        self.provider = f"torch-{self.device.type}"

    def predict(self, images: np.ndarray) -> np.ndarray:
        import torch

        size = self.working_size
        batch = torch.from_numpy(resize_stack(images.astype(np.float32), size, size))[:, None]
        batch = batch.expand(-1, self.info.in_channels, -1, -1).to(self.device)
        with torch.no_grad():
            prob = torch.sigmoid(self.model(batch)[:, 0].float()).cpu().numpy()
        return resize_stack(prob, *images.shape[1:])


def open_predictor(model: str | Path, *, device: str = "auto", threads: int | None = None,
                   size: int | None = None) -> Predictor:
    """An ONNX file (run in ONNX Runtime) or a run directory (run in PyTorch)."""
    path = Path(model)
    if path.is_dir():
        return TorchPredictor(path, device=device, threads=threads)
    if path.suffix.lower() == ".onnx" or path.is_file():
        return OnnxPredictor(path, device=device, threads=threads, size=size)
    raise InputError("model not found", hint="pass an .onnx file or a run directory", path=path)
