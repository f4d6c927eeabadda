"""The ONNX Runtime format (.ort) for ORT Mobile and minimal builds, checked against the ONNX file.

Saved by ONNX Runtime itself with basic (hardware-independent) graph optimisations, as its
converter does for portable files; the ``nakt.*`` metadata travels inside. The .ort file must give
the same logits as the ONNX file on real images (and so the same masks), or it is not written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from nakt_edge.errors import ParityError


def _session(path: Path, save_as: Path | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    if save_as is not None:
        options.optimized_model_filepath = str(save_as)
        options.add_session_config_entry("session.save_model_format", "ORT")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def to_ort_format(model: str | Path, dst: str | Path, images: np.ndarray, atol: float = 1e-4) -> dict[str, Any]:
    """Write ``model`` as ORT format to ``dst`` and check it on ``images`` (N, C, H, W); the parity record."""
    model, dst = Path(model), Path(dst)
    reference = _session(model, save_as=dst)
    converted = _session(dst)
    name = reference.get_inputs()[0].name
    worst, same_masks = 0.0, True
    for i in range(len(images)):
        want = reference.run(None, {name: images[i:i + 1]})[0]
        got = converted.run(None, {name: images[i:i + 1]})[0]
        worst = max(worst, float(np.abs(got - want).max()))
        same_masks &= bool(np.array_equal(got > 0, want > 0))
    record = {"images": len(images), "max_abs_difference": worst, "same_masks": same_masks, "atol": atol}
    if worst > atol or not same_masks:
        raise ParityError(f"the .ort file disagrees with the ONNX file (max |difference| {worst:.3g}, same masks: "
                          f"{same_masks})", hint="nothing was written; keep the .onnx file")
    return record
