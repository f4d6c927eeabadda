"""Mask fixtures for the golden tests, built by code (no binary files): smooth shapes, a far speck,
empty, full, one-pixel and border-touching masks, STAPLE rater stacks and soft masks."""

from __future__ import annotations

import numpy as np

SHAPE = (96, 128)


def disk(cy: float, cx: float, r: float, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def ellipse(cy: float, cx: float, ry: float, rx: float, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1


def _pixel(y: int, x: int) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[y, x] = True
    return mask


def mask_pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name: (prediction, target), boolean masks of SHAPE."""
    target = disk(48, 60, 20)
    border = np.zeros(SHAPE, bool)
    border[:30, :40] = True
    return {
        "disk_vs_shifted_disk": (disk(50, 64, 20), target),
        "disk_vs_ellipse": (ellipse(48, 60, 16, 26), target),
        "far_speck": (target | disk(85, 118, 2), target),
        "one_pixel_vs_disk": (_pixel(48, 60), target),
        "one_pixel_vs_far_pixel": (_pixel(10, 10), _pixel(80, 100)),
        "touching_border": (border, np.roll(border, 3, axis=1)),
        "full_vs_disk": (np.ones(SHAPE, bool), target),
        "ragged_vs_disk": (target ^ (np.random.default_rng(0).random(SHAPE) < 0.05) & disk(48, 60, 26), target),
    }


EMPTY_CASES = {
    "both_empty": (np.zeros(SHAPE, bool), np.zeros(SHAPE, bool)),
    "empty_prediction": (np.zeros(SHAPE, bool), disk(48, 60, 20)),
    "empty_target": (disk(48, 60, 20), np.zeros(SHAPE, bool)),
}

SPACING = (0.3, 0.2)  # mm per pixel, (row, column): anisotropic like many ultrasound scanners


def rater_stacks() -> dict[str, np.ndarray]:
    """name: (T, H, W) boolean segmentations for STAPLE."""
    rng = np.random.default_rng(7)
    truth = ellipse(48, 64, 24, 34)
    noisy = truth ^ (rng.random(SHAPE) < 0.08)
    return {
        "four_teachers": np.stack([truth, disk(48, 66, 24), ellipse(50, 62, 20, 30), noisy]),
        "two_disagreeing": np.stack([disk(40, 50, 18), disk(56, 78, 18)]),
        "three_with_outlier": np.stack([truth, truth & (rng.random(SHAPE) < 0.9), disk(20, 20, 10)]),
    }


def soft_masks() -> dict[str, np.ndarray]:
    """name: uint8 soft masks round(255 p)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    ramp = np.clip(1 - np.hypot(yy - 48, xx - 64) / 40, 0, 1)
    return {
        "binary": (disk(48, 64, 20) * 255).astype(np.uint8),
        "smooth_ramp": np.round(ramp * 255).astype(np.uint8),
        "noisy": np.round(np.clip(ramp + rng.normal(0, 0.1, SHAPE), 0, 1) * 255).astype(np.uint8),
        "constant": np.full(SHAPE, 128, np.uint8),
    }
