from __future__ import annotations

import numpy as np
import pytest

from nakt_edge.errors import InputError
from nakt_edge.labeling.fusion import fuse, staple, staple_summary, teacher_agreement


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
    result = staple(np.stack([truth, truth, noisy, shrunk]))
    posterior, sensitivity, specificity = result.posterior, result.sensitivity, result.specificity
    assert result.converged and 1 <= result.iterations < 50
    assert ((posterior > 0.5) == truth).mean() > 0.99
    assert sensitivity[0] > 0.98 and specificity[0] > 0.98
    assert sensitivity[2] < 0.9 and specificity[2] < 0.9
    assert sensitivity[3] < sensitivity[0] and specificity[3] > 0.99


def test_staple_of_identical_raters_is_their_mask() -> None:
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:5] = True
    np.testing.assert_array_equal(staple(np.stack([mask, mask, mask])).posterior > 0.5, mask)
    assert not staple(np.zeros((2, 8, 8), bool)).posterior.any()


def test_staple_over_vote_patterns_equals_the_per_pixel_em() -> None:
    rng = np.random.default_rng(1)
    truth = np.zeros((48, 48), bool)
    truth[10:30, 8:40] = True
    raters = np.stack([truth ^ (rng.random(truth.shape) < rate) for rate in (0.02, 0.1, 0.3)])
    flat = raters.reshape(3, -1).astype(np.float64)  # the textbook EM, pixel by pixel, SimpleITK's order
    post = flat.mean(axis=0)
    prior, last = post.mean(), None
    for _ in range(1000):
        sens, spec = (post * flat).sum(1) / post.sum(), ((1 - post) * (1 - flat)).sum(1) / (1 - post).sum()
        fg = prior * np.prod(np.where(flat > 0, sens[:, None], 1 - sens[:, None]), axis=0)
        bg = (1 - prior) * np.prod(np.where(flat > 0, 1 - spec[:, None], spec[:, None]), axis=0)
        post = fg / (fg + bg)
        if last is not None and max(np.abs(sens - last[0]).max(), np.abs(spec - last[1]).max()) <= 1e-7:
            break
        last = (sens, spec)
    result = staple(raters)
    np.testing.assert_allclose(result.posterior.ravel(), post, atol=1e-6)
    np.testing.assert_allclose(result.sensitivity, sens, atol=1e-8)


def test_staple_says_when_it_stops_at_the_cap() -> None:
    rng = np.random.default_rng(2)
    raters = rng.random((3, 32, 32)) < 0.5  # noise: EM keeps moving
    capped = staple(raters, iterations=2)
    assert capped.iterations == 2 and not capped.converged
    agreeing = staple(raters[:1].repeat(3, 0))
    assert agreeing.converged
    summary = staple_summary([capped, agreeing], cap=2)
    assert summary["hit_cap"] == 1 and summary["images"] == 2
    assert summary["iterations_max"] == max(2, agreeing.iterations)


def test_agreement_is_mean_pairwise_dice() -> None:
    a = np.zeros((1, 4, 4), np.float32)
    a[0, 0, :2] = 1
    b = np.zeros((1, 4, 4), np.float32)
    b[0, 0, 1:4] = 1
    assert teacher_agreement(np.stack([a, b]))[0] == pytest.approx(0.4)
    assert np.isnan(teacher_agreement(np.stack([a]))[0])
