from __future__ import annotations

import numpy as np
import pytest

from nakt_edge.errors import InputError
from nakt_edge.labeling.fusion import fuse, staple, teacher_agreement


def test_weighted_mean_is_the_papers_formula() -> None:
    probs = np.stack([np.full((1, 2, 2), 0.2), np.full((1, 2, 2), 0.8)]).astype(np.float32)
    np.testing.assert_allclose(fuse(probs), 0.5, atol=1e-6)
    np.testing.assert_allclose(fuse(probs, weights=[3, 1]), 0.35, atol=1e-6)
    with pytest.raises(InputError, match="--weights needs 2"):
        fuse(probs, weights=[1, 1, 1])


def test_vote_is_binary_and_ties_go_to_background() -> None:
    probs = np.array([[[[0.9, 0.9, 0.1]]], [[[0.9, 0.1, 0.1]]]], np.float32)  # (T=2, N=1, 1, 3)
    np.testing.assert_array_equal(fuse(probs, "vote"), [[[1.0, 0.0, 0.0]]])
    three = np.concatenate([probs, np.array([[[[0.1, 0.9, 0.9]]]], np.float32)])
    np.testing.assert_array_equal(fuse(three, "vote"), [[[1.0, 1.0, 0.0]]])


def test_staple_recovers_the_truth_and_rates_a_noisy_teacher_lower() -> None:
    rng = np.random.default_rng(0)
    truth = np.zeros((64, 64), bool)
    truth[16:40, 10:50] = True
    noisy = truth ^ (rng.random(truth.shape) < 0.2)  # 20% of pixels flipped
    shrunk = np.zeros_like(truth)
    shrunk[18:38, 12:48] = True  # under-segments: perfect specificity, lower sensitivity
    posterior, sensitivity, specificity = staple(np.stack([truth, truth, noisy, shrunk]))
    assert ((posterior > 0.5) == truth).mean() > 0.99
    assert sensitivity[0] > 0.98 and specificity[0] > 0.98
    assert sensitivity[2] < 0.9 and specificity[2] < 0.9
    assert sensitivity[3] < sensitivity[0] and specificity[3] > 0.99


def test_staple_of_identical_raters_is_their_mask() -> None:
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:5] = True
    posterior, _, _ = staple(np.stack([mask, mask, mask]))
    np.testing.assert_array_equal(posterior > 0.5, mask)
    empty, _, _ = staple(np.zeros((2, 8, 8), bool))
    assert not empty.any()


def test_agreement_is_mean_pairwise_dice() -> None:
    a = np.zeros((1, 4, 4), np.float32)
    a[0, 0, :2] = 1
    b = np.zeros((1, 4, 4), np.float32)
    b[0, 0, 1:4] = 1
    assert teacher_agreement(np.stack([a, b]))[0] == pytest.approx(0.4)
    assert np.isnan(teacher_agreement(np.stack([a]))[0])
