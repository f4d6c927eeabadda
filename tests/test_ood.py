"""The out-of-domain reference: fitted on one domain, it flags another; AUROC by hand; metadata round trip."""

from __future__ import annotations

import numpy as np
import pytest

from nakt_edge.data.phantoms import make_phantom
from nakt_edge.ood import IntensityReference, auroc


def _phantoms(domain: str, count: int, seed: int) -> list[np.ndarray]:
    return [make_phantom(domain, 96, seed, i).image.astype(np.float32) / 255 for i in range(count)]


def test_a_breast_reference_flags_thyroid_and_natural_frames_but_few_breast_ones() -> None:
    reference = IntensityReference.fit(_phantoms("breast", 150, 1), 64)  # a 99th percentile needs ~150
    held_out = [reference.distance(g) for g in _phantoms("breast", 40, 2)]
    assert np.mean(np.asarray(held_out) > reference.threshold) <= 0.1
    for domain in ("thyroid", "natural"):
        distances = [reference.distance(g) for g in _phantoms(domain, 40, 3)]
        assert auroc(np.asarray(held_out), np.asarray(distances)) >= 0.9, domain
    blank = np.full((96, 96), 0.02, np.float32)  # probe lifted off the skin
    assert reference.distance(blank) > reference.threshold


def test_metadata_round_trip_gives_the_same_distances() -> None:
    reference = IntensityReference.fit(_phantoms("breast", 20, 1), 64)
    again = IntensityReference.from_metadata(reference.to_metadata())
    frame = _phantoms("thyroid", 1, 5)[0]
    assert again is not None and again.distance(frame) == pytest.approx(reference.distance(frame), rel=1e-9)
    assert IntensityReference.from_metadata(None) is None
    assert IntensityReference.from_metadata('{"features": "other"}') is None


def test_auroc_by_hand() -> None:
    assert auroc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert auroc(np.array([0.3, 0.4]), np.array([0.1, 0.2])) == 0.0
    assert auroc(np.array([0.1, 0.5]), np.array([0.5, 0.9])) == pytest.approx(0.875)  # one tie counts half
