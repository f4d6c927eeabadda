"""Segmentation metrics as pure functions on binary masks, with the empty-mask rules stated.

Surface distances follow MONAI (``monai.metrics.compute_hausdorff_distance`` with
``percentile=95``, ``compute_average_surface_distance`` with ``symmetric=True``): a mask's boundary
is the mask minus its erosion by scipy's default cross-shaped (4-connected) structuring element,
pixels outside the image counting as background, so a mask touching the border has a boundary
there; distances are Euclidean from each boundary pixel of one mask to the nearest boundary pixel
of the other, scaled by the pixel spacing (rows, columns) when it is given. HD95 is the larger of
the two directed 95th percentiles (numpy's linear interpolation); ASSD is the mean of both
directions' distances pooled. Checked against MONAI 1.x on fixtures (tests/golden/).

Empty-mask rules (the same for every metric here; MONAI itself returns NaN or inf there):
- both prediction and target empty: Dice = IoU = 1.0 and HD95 = ASSD = 0.0 (a correct "no lesion");
- exactly one empty: Dice = IoU = 0.0 and HD95 = ASSD = NaN (undefined; excluded from the means,
  which report how many images they cover).
Distances are in pixels of the mask given (native resolution when masks are native), or in mm
when ``spacing`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

Spacing = tuple[float, float]


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice coefficient 2|P & T| / (|P| + |T|) of two boolean masks of the same shape."""
    pred, target = pred.astype(bool), target.astype(bool)
    total = int(pred.sum()) + int(target.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(pred, target).sum()) / total


def iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Intersection over union |P & T| / |P | T| of two boolean masks."""
    pred, target = pred.astype(bool), target.astype(bool)
    union = int(np.logical_or(pred, target).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(pred, target).sum()) / union


def boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels: ``mask`` minus its 4-connected erosion (outside the image is background)."""
    mask = mask.astype(bool)
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def _directed_distances(pred: np.ndarray, target: np.ndarray, spacing: Spacing | None
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """Distances pred boundary -> target boundary and back, or None when a mask is empty."""
    if not pred.any() or not target.any():
        return None
    pred_edge, target_edge = boundary(pred), boundary(target)
    to_target = ndimage.distance_transform_edt(~target_edge, sampling=spacing)
    to_pred = ndimage.distance_transform_edt(~pred_edge, sampling=spacing)
    return to_target[pred_edge], to_pred[target_edge]


def hd95(pred: np.ndarray, target: np.ndarray, spacing: Spacing | None = None) -> float:
    """95th-percentile Hausdorff distance between mask boundaries (MONAI's convention; see the module).

    Args:
        pred, target: boolean masks of one shape.
        spacing: (row, column) pixel size, e.g. DICOM PixelSpacing in mm; None: pixels.
    """
    pred, target = pred.astype(bool), target.astype(bool)
    if not pred.any() and not target.any():
        return 0.0
    distances = _directed_distances(pred, target, spacing)
    if distances is None:
        return math.nan
    forward, backward = distances
    return float(max(np.percentile(forward, 95), np.percentile(backward, 95)))


def assd(pred: np.ndarray, target: np.ndarray, spacing: Spacing | None = None) -> float:
    """Average symmetric surface distance: the mean of both directions' boundary distances pooled (MONAI's
    ``compute_average_surface_distance(symmetric=True)``); the empty-mask rules of the module."""
    pred, target = pred.astype(bool), target.astype(bool)
    if not pred.any() and not target.any():
        return 0.0
    distances = _directed_distances(pred, target, spacing)
    if distances is None:
        return math.nan
    return float(np.concatenate(distances).mean())


def soft_dice(prob: np.ndarray, target: np.ndarray, eps: float = 1e-6) -> float:
    """Dice of probabilities (no threshold); used to compare soft outputs of two models."""
    return float((2 * (prob * target).sum() + eps) / (prob.sum() + target.sum() + eps))


def ktc(student_dice: float, teacher_dice: float) -> float:
    """Knowledge transfer capability: student Dice / teacher Dice on the same test set."""
    return student_dice / teacher_dice if teacher_dice > 0 else math.nan


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean and population std of the finite values, and how many there were."""
    finite = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if finite.size == 0:
        return math.nan, math.nan, 0
    return float(finite.mean()), float(finite.std()), int(finite.size)
