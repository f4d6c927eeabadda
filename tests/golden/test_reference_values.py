"""Golden tests: our metrics, STAPLE and entropy against MONAI, SimpleITK and scikit-image on fixtures.

expected.json was written by make_golden.py (beside this file) with the reference libraries; they
are not CI dependencies, their answers are. Every value must agree to 1e-4.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nakt_edge.labeling.filters import entropy_bits
from nakt_edge.labeling.fusion import staple
from nakt_edge.metrics import assd, dice, hd95
from tests.golden.fixtures import EMPTY_CASES, SPACING, mask_pairs, rater_stacks, soft_masks

EXPECTED = json.loads((Path(__file__).parent / "expected.json").read_text())
TOL = 1e-4


@pytest.mark.parametrize("name", sorted(mask_pairs()))
def test_dice_hd95_and_assd_match_monai(name: str) -> None:
    pred, target = mask_pairs()[name]
    want = EXPECTED["masks"][name]
    assert dice(pred, target) == pytest.approx(want["dice"], abs=TOL)
    assert hd95(pred, target) == pytest.approx(want["hd95"], abs=TOL)
    assert assd(pred, target) == pytest.approx(want["assd"], abs=TOL)
    assert hd95(pred, target, SPACING) == pytest.approx(want["hd95_mm"], abs=TOL)
    assert assd(pred, target, SPACING) == pytest.approx(want["assd_mm"], abs=TOL)


def test_the_spacing_used_is_the_one_the_references_saw() -> None:
    assert tuple(EXPECTED["spacing"]) == SPACING


def test_empty_mask_rules_are_ours_and_stated() -> None:
    # MONAI gives NaN/inf here; nakt-edge states: both empty = perfect, one empty = undefined
    pred, target = EMPTY_CASES["both_empty"]
    assert (dice(pred, target), hd95(pred, target), assd(pred, target)) == (1.0, 0.0, 0.0)
    for name in ("empty_prediction", "empty_target"):
        pred, target = EMPTY_CASES[name]
        assert dice(pred, target) == 0.0 and math.isnan(hd95(pred, target)) and math.isnan(assd(pred, target))


@pytest.mark.parametrize("name", sorted(rater_stacks()))
def test_staple_matches_simpleitk(name: str) -> None:
    want = EXPECTED["staple"][name]
    result = staple(rater_stacks()[name])
    assert result.converged
    np.testing.assert_allclose(result.posterior, np.asarray(want["posterior"]), atol=TOL)
    np.testing.assert_allclose(result.sensitivity, want["sensitivity"], atol=TOL)
    np.testing.assert_allclose(result.specificity, want["specificity"], atol=TOL)


@pytest.mark.parametrize("name", sorted(soft_masks()))
def test_entropy_matches_scikit_image(name: str) -> None:
    assert entropy_bits(soft_masks()[name]) == pytest.approx(EXPECTED["entropy_bits"][name], abs=TOL)
