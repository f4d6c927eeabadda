"""``export_model``: a training run -> one checked ONNX file (nothing is written unless every check passes)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nakt_edge.data.images import read_gray, resize_to
from nakt_edge.data.pairing import list_images
from nakt_edge.data.phantoms import make_phantom
from nakt_edge.errors import ParityError
from nakt_edge.export.metadata import student_metadata
from nakt_edge.export.onnx_export import DEFAULT_OPSET, set_metadata, torch_to_onnx
from nakt_edge.export.parity import ParityReport, check_parity
from nakt_edge.reporting import atomic_path, guard_file
from nakt_edge.training.run import load_run

log = logging.getLogger("nakt_edge")


@dataclass
class ExportResult:
    path: Path
    precision: str
    parity: ParityReport
    size_bytes: int
    details: dict[str, Any] = field(default_factory=dict)


def sample_images(folder: str | Path | None, size: int, count: int, seed: int = 1234) -> np.ndarray:
    """Up to ``count`` gray images (N, S, S) in [0, 1]: from ``folder`` (spread evenly), else breast phantoms."""
    if folder is None:
        return np.stack([make_phantom("breast", size, seed, i).image for i in range(count)]).astype(np.float32) / 255
    files = list_images(folder)
    picks = np.linspace(0, len(files) - 1, num=min(count, len(files))).round().astype(int)
    return np.stack([resize_to(read_gray(files[i]), size, size) for i in sorted(set(picks))])


def export_model(
    run: str | Path,
    out: str | Path,
    *,
    calib: str | Path | None = None,
    parity_images: int = 8,
    atol: float = 1e-3,
    min_dice: float = 0.999,
    opset: int = DEFAULT_OPSET,
    exporter: str = "legacy",
    force: bool = False,
) -> ExportResult:
    """Export the best weights of ``run`` to ``out`` and check it against PyTorch in ONNX Runtime.

    Parity is measured on ``parity_images`` images from ``calib`` (else breast phantoms) at the
    run's working size: max |logit difference| <= ``atol`` and mask Dice >= ``min_dice``.

    Raises:
        OutputExistsError: ``out`` exists and not ``force``.
        ParityError: a check failed; nothing is written.
    """
    out = guard_file(out, force)
    model, info = load_run(run)
    images = sample_images(calib, info.size, parity_images)
    batch = np.ascontiguousarray(np.repeat(images[:, None], info.in_channels, axis=1), dtype=np.float32)
    with atomic_path(out) as tmp:
        torch_to_onnx(model, torch.from_numpy(batch[:1]), tmp, opset=opset, exporter=exporter)
        parity = check_parity(model, str(tmp), batch, atol=atol, min_dice=min_dice, threshold=info.threshold)
        if not parity.passed:
            failed = "; ".join(c.line() for c in parity.checks if not c.passed)
            raise ParityError(f"exported model disagrees with PyTorch: {failed}",
                              hint="nothing was written; try --exporter dynamo or another --opset")
        set_metadata(tmp, student_metadata(info, "fp32", {"parity": parity.to_dict(), "exporter": exporter,
                                                         "opset": str(opset)}))
    return ExportResult(out, "fp32", parity, out.stat().st_size)
