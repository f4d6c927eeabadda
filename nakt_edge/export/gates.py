"""The two gates a reduced-precision model must pass before it is written.

accuracy: the mean per-image Dice between the FP32 masks and the reduced-precision masks on real
images is at least 1 - max_dice_drop. An image where both masks hold fewer than alpha pixels (the
paper's "no target" rule, scaled with the area) counts as agreeing: Dice of a 4-pixel speck against
a 2-pixel one is 0.67 and would otherwise decide the gate on noise. speed: at batch 1 on this host,
the model is faster than FP32 (INT8 only: users report INT8 models slower than FP32,
microsoft/onnxruntime#20052). Both models are timed in alternating rounds, so drift of the machine's
speed hits both alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.bench.timing import time_callable
from nakt_edge.labeling.filters import min_pixels_for
from nakt_edge.metrics import dice
from nakt_edge.runtime.providers import create_session


@dataclass(frozen=True)
class GateResult:
    name: str
    value: float
    limit: str
    passed: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name} gate: {self.value:.4g} (limit {self.limit})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _logits(model: str | Path, images: np.ndarray, threads: int | None = None) -> np.ndarray:
    session = create_session(model, device="cpu", threads=threads).session
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: images[i:i + 1]})[0] for i in range(len(images))])


def mask_agreement(got: np.ndarray, ref: np.ndarray, min_pixels: int) -> tuple[float, int]:
    """Mean per-image Dice of two (N, H, W) boolean stacks, and how many images were speck-only.

    Images where both masks hold fewer than ``min_pixels`` pixels count as agreeing (Dice 1).
    """
    scores, specks = [], 0
    for a, b in zip(got, ref):
        if max(int(a.sum()), int(b.sum())) < min_pixels:
            specks += 1
            scores.append(1.0)
        else:
            scores.append(dice(a, b))
    return float(np.mean(scores)), specks


def accuracy_gate(reference: str | Path, candidate: str | Path, images: np.ndarray, max_dice_drop: float,
                  threshold_logit: float = 0.0) -> GateResult:
    """Mask agreement of ``candidate`` with the FP32 ``reference`` on ``images`` (N, C, H, W)."""
    ref = _logits(reference, images)[:, 0] > threshold_logit
    got = _logits(candidate, images)[:, 0] > threshold_logit
    min_pixels = min_pixels_for(*ref.shape[1:])
    agreement, specks = mask_agreement(got, ref, min_pixels)
    pooled = dice(got, ref)
    return GateResult("accuracy", agreement, f">= {1 - max_dice_drop:g} (Dice vs FP32 masks)",
                      agreement >= 1 - max_dice_drop,
                      {"images": len(images), "max_dice_drop": max_dice_drop, "min_pixels": min_pixels,
                       "speck_only_images": specks, "pooled_dice": pooled})


def speed_gate(reference: str | Path, candidate: str | Path, sample: np.ndarray, threads: int | None = None,
               rounds: int = 3) -> GateResult:
    """p50 latency at batch 1 of ``candidate`` vs the FP32 ``reference``, timed in alternating rounds."""
    sessions = {}
    for key, path in (("fp32", reference), ("candidate", candidate)):
        session = create_session(path, device="cpu", threads=threads).session
        sessions[key] = (session, session.get_inputs()[0].name)
    p50: dict[str, list[float]] = {"fp32": [], "candidate": []}
    for _ in range(rounds):
        for key, (session, name) in sessions.items():
            timing = time_callable(lambda s=session, n=name: s.run(None, {n: sample}), warmup=2, min_time_s=0.5,
                                   min_runs=5)
            p50[key].append(timing.p50_ms)
    fp32_ms, candidate_ms = float(np.median(p50["fp32"])), float(np.median(p50["candidate"]))
    ratio = candidate_ms / fp32_ms
    return GateResult("speed", ratio, "< 1 (latency / FP32 latency at batch 1)", ratio < 1.0,
                      {"fp32_p50_ms": fp32_ms, "p50_ms": candidate_ms, "threads": threads, "rounds": rounds})
