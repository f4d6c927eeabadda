"""The accuracy gate's mask agreement: specks below alpha are noise, lost lesions are not."""

from __future__ import annotations

import numpy as np

from nakt_edge.export.gates import mask_agreement


def masks(*pixel_counts: int, size: int = 64) -> np.ndarray:
    stack = np.zeros((len(pixel_counts), size, size), bool)
    for i, count in enumerate(pixel_counts):
        stack[i].ravel()[:count] = True
    return stack


def test_speck_only_disagreement_counts_as_agreement() -> None:
    agreement, specks = mask_agreement(masks(2, 300), masks(4, 300), min_pixels=8)
    assert (agreement, specks) == (1.0, 1)


def test_a_speck_against_no_speck_is_still_a_speck() -> None:
    assert mask_agreement(masks(0), masks(5), min_pixels=8) == (1.0, 1)


def test_a_lost_lesion_fails_however_small_the_rest() -> None:
    agreement, specks = mask_agreement(masks(0, 300), masks(40, 300), min_pixels=8)
    assert (agreement, specks) == (0.5, 0)


def test_without_min_pixels_it_is_the_plain_per_image_mean() -> None:
    agreement, _ = mask_agreement(masks(2, 300), masks(4, 300), min_pixels=0)
    assert agreement == (2 * 2 / 6 + 1.0) / 2
