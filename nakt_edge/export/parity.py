"""Checking an exported ONNX file against its PyTorch source in ONNX Runtime.

Checks, in order: output shape (fatal on mismatch), max |logit difference| <= ``atol``, and the
mask Dice between the two thresholded outputs >= ``min_dice``. Each check is one line of the
report; the caller decides whether a failure stops the export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from nakt_edge.metrics import dice
from nakt_edge.runtime.providers import create_session


@dataclass(frozen=True)
class Check:
    name: str
    value: float | str
    limit: str
    passed: bool

    def line(self) -> str:
        value = f"{self.value:.3g}" if isinstance(self.value, float) else self.value
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {value} (limit {self.limit})"


@dataclass(frozen=True)
class ParityReport:
    checks: tuple[Check, ...]
    images: int

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def value(self, name: str) -> float | str:
        return next(check.value for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, object]:
        return {"passed": self.passed, "images": self.images, "checks": [asdict(c) for c in self.checks]}


def mean_mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Mean per-image Dice of two stacks of boolean masks (both empty counts as 1)."""
    return float(np.mean([dice(x, y) for x, y in zip(a, b)]))


@torch.no_grad()
def check_parity(model: nn.Module, onnx_model: str | bytes, batch: np.ndarray, *, atol: float = 1e-3,
                 min_dice: float = 0.999, threshold: float = 0.5) -> ParityReport:
    """Compare PyTorch and ONNX Runtime (CPU) logits on ``batch`` (N, C, H, W) float32."""
    expected = model.eval().cpu()(torch.from_numpy(batch)).numpy()
    session = create_session(onnx_model, device="cpu").session
    got = session.run(None, {session.get_inputs()[0].name: batch})[0].astype(np.float32)
    shape_ok = got.shape == expected.shape
    checks = [Check("output shape", f"{tuple(got.shape)} vs torch {tuple(expected.shape)}", "equal", shape_ok)]
    if shape_ok:
        logit = float(np.log(threshold / (1 - threshold)))
        checks.append(Check("max |logit difference|", float(np.abs(got - expected).max()), f"<= {atol:g}",
                            float(np.abs(got - expected).max()) <= atol))
        mask_dice = mean_mask_dice(got[:, 0] > logit, expected[:, 0] > logit)
        checks.append(Check("mask Dice vs torch", mask_dice, f">= {min_dice:g}", mask_dice >= min_dice))
    return ParityReport(tuple(checks), len(batch))
