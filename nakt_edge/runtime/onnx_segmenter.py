"""``OnnxSegmenter``: any ONNX segmentation model in, float32 foreground probabilities (N, H, W) out.

Pre-processing follows the model's ``TeacherSpec`` (resize to its static size, 1 or 3 channels,
normalization, NCHW/NHWC, float32/float16 input); post-processing turns logits or probabilities,
sigmoid or softmax, into the foreground probability, resized back to the input's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx

from nakt_edge.data.images import resize_stack
from nakt_edge.errors import InputError, ModelSpecError
from nakt_edge.runtime.cuda_feed import PinnedCudaFeeder
from nakt_edge.runtime.model_file import load_graph
from nakt_edge.runtime.providers import CUDA, create_session
from nakt_edge.runtime.spec import MAX_CLASSES, TeacherSpec, resolve_spec

_ORT_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def _last_op(model: onnx.ModelProto) -> str | None:
    output = model.graph.output[0].name
    for node in reversed(model.graph.node):
        if output in node.output:
            return node.op_type
    return None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without loading its weights)."""
    model = load_graph(path)
    return {prop.key: prop.value for prop in model.metadata_props}


class OnnxSegmenter:
    """An ONNX Runtime session plus the I/O contract of its model.

    Args:
        path: the .onnx file.
        overrides: contract keys that win over metadata and sidecar (e.g. ``{"layout": "NHWC"}``).
        device: ``auto`` (CUDA when usable, else CPU with a warning), ``cpu`` or ``cuda`` (fails
            with DeviceError unless the session really runs on CUDA).
        threads: ONNX Runtime intra-op threads (None: ORT's default).
        size: working size fed to models whose input size is dynamic and not in the metadata.
    """

    def __init__(self, path: str | Path, *, overrides: dict[str, Any] | None = None, device: str = "auto",
                 threads: int | None = None, size: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("model file not found", hint="check the path of the .onnx file", path=self.path)
        graph = load_graph(self.path)
        info = create_session(self.path, device=device, threads=threads)
        self.session, self.provider, self.fell_back = info.session, info.provider, info.fell_back
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        batch_dim = model_input.shape[0] if model_input.shape else None
        self.static_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        self.input_dtype = _ORT_FLOAT_TYPES.get(model_input.type)
        if self.input_dtype is None:
            raise ModelSpecError(f"input type {model_input.type} is not a float tensor",
                                 hint="export the model with a float32 input", path=self.path)
        self.output_name = self.session.get_outputs()[0].name
        metadata = {prop.key: prop.value for prop in graph.metadata_props}
        self.metadata = metadata
        self.spec: TeacherSpec = resolve_spec(self.path, list(model_input.shape), _last_op(graph), metadata, overrides,
                                              list(self.session.get_outputs()[0].shape))
        self.size = size
        self._checked = False
        self._feeder: PinnedCudaFeeder | bool | None = None  # False: CUDA session, but torch sees no GPU

    def feed_size(self, height: int, width: int) -> tuple[int, int]:
        """The H, W the model is fed for images of ``height`` x ``width``."""
        if self.spec.size is not None:
            return self.spec.size
        if self.size is not None:
            return self.size, self.size
        return height, width

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W) float32 gray in [0, 1] -> the model's input tensor."""
        if images.ndim != 3:
            raise ValueError(f"expected (N, H, W) images, got shape {images.shape}")
        height, width = self.feed_size(*images.shape[1:])
        batch = resize_stack(images.astype(np.float32, copy=False), height, width)[:, None]
        if self.spec.channels == 3:
            batch = np.repeat(batch, 3, axis=1)
        mean, std, scale = self.spec.normalization()
        mean_array = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        std_array = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        batch = (batch * scale - mean_array) / std_array
        if self.spec.layout == "NHWC":
            batch = batch.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(batch, dtype=self.input_dtype)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the session on a pre-processed batch; the raw first output.

        A model exported with a fixed batch size is run in chunks of that size (the last padded).
        """
        step = self.static_batch
        if step is None or step == len(batch):
            feeder = self._cuda_feeder()
            if feeder is not None:
                return feeder.run(batch)
            return self.session.run([self.output_name], {self.input_name: batch})[0]
        outputs = []
        for start in range(0, len(batch), step):
            chunk = batch[start:start + step]
            padded = np.concatenate([chunk, np.repeat(chunk[-1:], step - len(chunk), axis=0)]) \
                if len(chunk) < step else chunk
            outputs.append(self.session.run([self.output_name], {self.input_name: padded})[0][: len(chunk)])
        return np.concatenate(outputs)

    def _cuda_feeder(self) -> PinnedCudaFeeder | None:
        """On CUDA (and with torch seeing the GPU): pinned buffers and IO binding (``runtime.cuda_feed``)."""
        if self.provider != CUDA:
            return None
        if self._feeder is None:
            import torch

            self._feeder = PinnedCudaFeeder(self.session, self.input_name, self.output_name) \
                if torch.cuda.is_available() else False
        return self._feeder or None

    def postprocess(self, raw: np.ndarray, height: int, width: int) -> np.ndarray:
        """The raw output -> foreground probabilities (N, height, width) float32, temperature-scaled when the
        model states a ``nakt.temperature`` (calibration, nakt_edge.calibration)."""
        if self.spec.temperature != 1.0:
            prob = 1.0 / (1.0 + np.exp(-self.foreground_logits(raw) / self.spec.temperature))
        else:
            prob = self._foreground(raw, logits=False)
        return np.clip(resize_stack(np.ascontiguousarray(prob, np.float32), height, width), 0.0, 1.0)

    def foreground_logits(self, raw: np.ndarray) -> np.ndarray:
        """The foreground logit z (N, h, w) at the model's output size, p = sigmoid(z): a sigmoid logit, the
        log-odds of a softmax's foreground against the other classes, or the logit of a stated probability."""
        return self._foreground(raw, logits=True)

    def _foreground(self, raw: np.ndarray, *, logits: bool) -> np.ndarray:
        raw = raw.astype(np.float32, copy=False)
        if raw.ndim == 3:
            raw = raw[:, None]
        if raw.ndim != 4:
            raise ModelSpecError(f"output has shape {raw.shape}; expected (N, C, H, W) or (N, H, W)",
                                 hint="set nakt.output_layout in the sidecar", path=self.path)
        if self.spec.output_layout == "NHWC":
            raw = raw.transpose(0, 3, 1, 2)
        classes = raw.shape[1]
        if not self._checked:
            self._check_plausible(raw)
        activation = self.spec.activation or ("sigmoid" if classes == 1 else "softmax")
        if self.spec.foreground is None and classes > 2:
            raise ModelSpecError(f"the output has {classes} classes and no foreground class is stated",
                                 hint='set {"nakt.foreground": "<class index>"} in the sidecar <model>.onnx.json',
                                 path=self.path)
        foreground = self.spec.foreground if self.spec.foreground is not None else (1 if activation == "softmax" else 0)
        if foreground >= classes:
            raise ModelSpecError(f"foreground channel {foreground} but the output has {classes} channel(s)",
                                 hint="set nakt.foreground in the sidecar", path=self.path)
        if self.spec.output == "probabilities":
            prob = raw[:, foreground]
            if logits:
                clipped = np.clip(prob, 1e-7, 1 - 1e-7)
                return np.log(clipped / (1 - clipped))
        elif activation == "sigmoid":
            if logits:
                return raw[:, foreground]
            prob = 1.0 / (1.0 + np.exp(-raw[:, foreground]))
        elif logits:
            others = np.delete(raw, foreground, axis=1)
            peak = others.max(axis=1)
            return raw[:, foreground] - (peak + np.log(np.exp(others - peak[:, None]).sum(axis=1)))
        else:
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            prob = shifted[:, foreground] / shifted.sum(axis=1)
        return prob

    def _check_plausible(self, raw: np.ndarray) -> None:
        """On the first batch: finite values, at most 32 classes, probabilities that are probabilities."""
        classes = raw.shape[1]
        where = f"{self.path.name} (first batch, output shape {list(raw.shape)})"
        if not np.isfinite(raw).all():
            raise ModelSpecError(f"output holds NaN or Inf values: {where}",
                                 hint="check the model and its nakt.normalize; it is not usable as is", path=self.path)
        if classes > MAX_CLASSES:
            raise ModelSpecError(f"output has {classes} channels, more than {MAX_CLASSES} classes: {where}",
                                 hint="set nakt.output_layout if the class axis is another one", path=self.path)
        if self.spec.output == "probabilities":
            low, high = float(raw.min()), float(raw.max())
            if low < -1e-3 or high > 1 + 1e-3:
                raise ModelSpecError(f"declared probabilities range over [{low:.3g}, {high:.3g}]: {where}",
                                     hint="set nakt.output=logits", path=self.path)
            activation = self.spec.activation or ("sigmoid" if classes == 1 else "softmax")
            if activation == "softmax" and classes > 1:
                worst = float(np.abs(raw.sum(axis=1) - 1).max())
                if worst > 1e-2:
                    raise ModelSpecError(f"softmax probabilities sum to 1 +- {worst:.3g} over the class axis: {where}",
                                         hint="set nakt.output_layout (the class axis is another one) or "
                                              "nakt.activation=sigmoid", path=self.path)
        self._checked = True

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Foreground probabilities (N, H, W) float32 for gray images (N, H, W) in [0, 1]."""
        return self.postprocess(self.run(self.preprocess(images)), *images.shape[1:])

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "provider": self.provider, "contract": self.spec.to_dict()}
