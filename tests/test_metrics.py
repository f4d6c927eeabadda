from __future__ import annotations

import math

import numpy as np
import pytest

from nakt_edge.metrics import dice, hd95, iou, ktc, mean_std


def test_dice_and_iou_by_hand() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0, :2] = True  # 2 px
    b[0, 1:4] = True  # 3 px, overlap 1
    assert dice(a, b) == pytest.approx(2 * 1 / 5)
    assert iou(a, b) == pytest.approx(1 / 4)


def test_empty_mask_rules() -> None:
    empty = np.zeros((5, 5), bool)
    full = np.ones((5, 5), bool)
    assert dice(empty, empty) == 1.0 and iou(empty, empty) == 1.0 and hd95(empty, empty) == 0.0
    assert dice(full, empty) == 0.0 and iou(empty, full) == 0.0 and math.isnan(hd95(full, empty))


def test_hd95_of_a_shifted_square_is_the_shift() -> None:
    a = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b = np.roll(a, 3, axis=1)
    assert hd95(a, b) == pytest.approx(3.0, abs=0.01)
    assert hd95(a, a) == 0.0


def test_ktc_and_mean_std_skip_nan() -> None:
    assert ktc(0.8, 0.85) == pytest.approx(0.941, abs=1e-3)
    assert mean_std([1.0, math.nan, 3.0]) == (2.0, 1.0, 2)
