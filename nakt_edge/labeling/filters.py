"""The paper's exclusion rules for pseudo masks (Sec. 3.2).

alpha: an image is excluded when its fused mask has fewer than alpha target pixels (p > 0.5);
the paper's alpha = 256 at 384 x 384, scaled here with the area of the working size.
beta: an image is excluded when the Shannon entropy (bits) of the 256-bin gray-level histogram
of round(255 p) exceeds beta = 2.5; only for soft masks (a binary mask has at most 1 bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PAPER_ALPHA = 256
PAPER_AREA = 384 * 384
PAPER_BETA = 2.5


@dataclass(frozen=True)
class Assessment:
    target_pixels: int
    entropy_bits: float
    soft: bool
    kept: bool
    reason: str  # kept | few_pixels | high_entropy


def quantize(prob: np.ndarray) -> np.ndarray:
    """Probabilities -> uint8 gray levels round(255 p): the stored pseudo mask."""
    return np.round(np.clip(prob, 0.0, 1.0) * 255.0).astype(np.uint8)


def entropy_bits(gray: np.ndarray) -> float:
    """Shannon entropy in bits of the 256-bin histogram of a uint8 mask."""
    counts = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0


def is_soft(gray: np.ndarray) -> bool:
    """True when the quantized mask holds any level other than 0 and 255."""
    return bool(((gray > 0) & (gray < 255)).any())


def min_pixels_for(height: int, width: int, *, min_pixels: int | None = None,
                   min_fraction: float | None = None) -> int:
    """alpha for a working image: absolute, a fraction of the area, or the paper's 256 scaled by area."""
    if min_pixels is not None:
        return int(min_pixels)
    fraction = min_fraction if min_fraction is not None else PAPER_ALPHA / PAPER_AREA
    return int(math.ceil(fraction * height * width))


def assess(gray: np.ndarray, min_pixels: int, max_entropy: float | None, *, enabled: bool = True) -> Assessment:
    """Statistics of one quantized pseudo mask and whether the alpha/beta rules keep it.

    With ``enabled`` False the statistics are still computed but every mask is kept.
    """
    target = int((gray > 127).sum())  # round(255 p) > 127  <=>  p > 0.5 (up to quantization)
    entropy = entropy_bits(gray)
    soft = is_soft(gray)
    reason = "kept"
    if enabled and target < min_pixels:
        reason = "few_pixels"
    elif enabled and soft and max_entropy is not None and entropy > max_entropy:
        reason = "high_entropy"
    return Assessment(target, entropy, soft, reason == "kept", reason)
