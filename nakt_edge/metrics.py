"""Segmentation metrics as pure functions on binary masks, with the empty-mask rules stated.

Empty-mask rules (the same for every metric here):
- both prediction and target empty: Dice = IoU = 1.0 and HD95 = 0.0 (a correct "no lesion");
- exactly one empty: Dice = IoU = 0.0 and HD95 = NaN (undefined; excluded from HD95 means,
  which report how many images they cover).
HD95 is in pixels of the mask given, i.e. at native resolution when masks are native.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np


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


def _boundary(mask: np.ndarray) -> np.ndarray:
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return mask & ~eroded.astype(bool)


def hd95(pred: np.ndarray, target: np.ndarray) -> float:
    """95th-percentile symmetric Hausdorff distance between mask boundaries, in pixels.

    The larger of the two directed 95th percentiles (the medpy convention).
    """
    pred, target = pred.astype(bool), target.astype(bool)
    if not pred.any() and not target.any():
        return 0.0
    if not pred.any() or not target.any():
        return math.nan
    pred_edge, target_edge = _boundary(pred), _boundary(target)
    to_target = cv2.distanceTransform((~target_edge).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_pred = cv2.distanceTransform((~pred_edge).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    forward = to_target[pred_edge]
    backward = to_pred[target_edge]
    return float(max(np.percentile(forward, 95), np.percentile(backward, 95)))


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
