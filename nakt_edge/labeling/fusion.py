"""Fusing several teachers' foreground probabilities into one pseudo mask per image.

- ``mean``: the paper's weighted average y = sum_i w_i T_i(x) (weights normalised to sum 1); soft.
- ``vote``: weighted majority of the binarized outputs (p > 0.5); binary, ties go to background.
- ``staple``: STAPLE (Warfield et al. 2004), per image: EM over the binarized outputs that
  estimates each teacher's sensitivity and specificity; the output is the posterior probability
  of foreground (soft).

Inputs are (T, N, H, W) float32 stacks: T teachers, N images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nakt_edge.errors import InputError
from nakt_edge.metrics import dice

FUSIONS = ("mean", "vote", "staple")


def normalised_weights(weights: Sequence[float] | None, teachers: int) -> np.ndarray:
    """Weights as float32 summing to 1 (equal when None); the error says how many are needed."""
    if weights is None:
        return np.full(teachers, 1.0 / teachers, np.float32)
    array = np.asarray(weights, np.float32)
    if array.shape != (teachers,) or (array < 0).any() or array.sum() <= 0:
        raise InputError(f"--weights needs {teachers} non-negative numbers with a positive sum (got {list(weights)})",
                         hint="e.g. --weights " + ",".join(["1"] * teachers))
    return array / array.sum()


def _weighted_sum(weights: np.ndarray, stack: np.ndarray) -> np.ndarray:
    """sum_i w_i stack_i, elementwise: BLAS (tensordot) would wake OpenBLAS threads that spin and
    steal the cores ONNX Runtime is using (it halved the labeling rate at batch 1)."""
    total = weights[0] * stack[0]
    for weight, item in zip(weights[1:], stack[1:]):
        total += weight * item
    return total.astype(np.float32, copy=False)


def fuse_mean(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return _weighted_sum(weights, probs)


def fuse_vote(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    votes = _weighted_sum(weights, (probs > 0.5).astype(np.float32))
    return (votes > 0.5 + 1e-6).astype(np.float32)


def staple(decisions: np.ndarray, iterations: int = 50, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary STAPLE on one image.

    Args:
        decisions: (T, H, W) boolean segmentations of T raters.

    Returns:
        (posterior foreground probability (H, W), sensitivities (T,), specificities (T,)).
    """
    flat = decisions.reshape(decisions.shape[0], -1).astype(np.float64)
    prior = float(flat.mean())
    if prior in (0.0, 1.0):  # every rater agrees on every pixel: nothing to estimate
        return decisions[0].astype(np.float32), np.ones(len(flat)), np.ones(len(flat))
    sensitivity = np.full(len(flat), 0.99)
    specificity = np.full(len(flat), 0.99)
    posterior = flat.mean(axis=0)
    eps = 1e-10
    for _ in range(iterations):
        log_fg = np.log(prior) + (flat * np.log(sensitivity + eps)[:, None]
                                  + (1 - flat) * np.log(1 - sensitivity + eps)[:, None]).sum(axis=0)
        log_bg = np.log(1 - prior) + ((1 - flat) * np.log(specificity + eps)[:, None]
                                      + flat * np.log(1 - specificity + eps)[:, None]).sum(axis=0)
        updated = 1.0 / (1.0 + np.exp(np.clip(log_bg - log_fg, -50, 50)))
        sensitivity = (updated * flat).sum(axis=1) / max(updated.sum(), eps)
        specificity = ((1 - updated) * (1 - flat)).sum(axis=1) / max((1 - updated).sum(), eps)
        converged = np.abs(updated - posterior).max() < tol
        posterior = updated
        if converged:
            break
    return posterior.reshape(decisions.shape[1:]).astype(np.float32), sensitivity, specificity


def fuse_staple(probs: np.ndarray) -> np.ndarray:
    return np.stack([staple(probs[:, n] > 0.5)[0] for n in range(probs.shape[1])])


def fuse(probs: np.ndarray, method: str = "mean", weights: Sequence[float] | None = None) -> np.ndarray:
    """Fused pseudo masks (N, H, W) float32 in [0, 1] from teacher outputs (T, N, H, W)."""
    if method not in FUSIONS:
        raise InputError(f"unknown fusion '{method}'", hint=f"use one of {', '.join(FUSIONS)}")
    w = normalised_weights(weights, probs.shape[0])
    if method == "mean":
        return fuse_mean(probs, w)
    if method == "vote":
        return fuse_vote(probs, w)
    return fuse_staple(probs)


def teacher_agreement(probs: np.ndarray) -> np.ndarray:
    """Per image, the mean pairwise Dice of the binarized teachers (NaN with a single teacher)."""
    teachers, images = probs.shape[:2]
    if teachers < 2:
        return np.full(images, np.nan, np.float32)
    binary = probs > 0.5
    pairs = [(a, b) for a in range(teachers) for b in range(a + 1, teachers)]
    return np.array([np.mean([dice(binary[a, n], binary[b, n]) for a, b in pairs]) for n in range(images)],
                    np.float32)
