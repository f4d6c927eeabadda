from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nakt_edge.data.phantoms import DOMAINS, make_phantom, write_phantom_set
from nakt_edge.errors import InputError, OutputExistsError


def test_phantoms_are_seeded_and_independent_of_the_count() -> None:
    a = make_phantom("breast", 64, seed=1, index=5)
    b = make_phantom("breast", 64, seed=1, index=5)
    c = make_phantom("breast", 64, seed=2, index=5)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("domain", DOMAINS)
def test_lesions_are_darker_or_distinct_and_masks_match_counts(domain: str) -> None:
    phantoms = [make_phantom(domain, 96, 0, i) for i in range(30)]
    with_lesion = [p for p in phantoms if p.mask.any()]
    assert len(with_lesion) >= 15
    assert all(p.lesions == 0 for p in phantoms if not p.mask.any())
    contrast = [abs(float(p.image[p.mask > 0].mean()) - float(p.image[p.mask == 0].mean())) for p in with_lesion]
    assert np.median(contrast) > 10


def test_domains_look_different() -> None:
    stats = {d: np.mean([make_phantom(d, 96, 0, i).image.std() for i in range(10)]) for d in DOMAINS}
    means = {d: np.mean([make_phantom(d, 96, 0, i).image.mean() for i in range(10)]) for d in DOMAINS}
    assert len({round(v, 0) for v in stats.values()} | {round(v, 0) for v in means.values()}) >= 4


def test_write_phantom_set_refuses_to_overwrite(tmp_path: Path) -> None:
    manifest = write_phantom_set(tmp_path / "p", 3, "thyroid", 32, seed=0)
    assert manifest.read_text().count("\n") == 4
    assert len(list((tmp_path / "p" / "images").glob("*.png"))) == 3
    with pytest.raises(OutputExistsError):
        write_phantom_set(tmp_path / "p", 3, "thyroid", 32)
    write_phantom_set(tmp_path / "p", 2, "natural", 32, force=True)
    assert len(list((tmp_path / "p" / "images").glob("*.png"))) == 2
    with pytest.raises(InputError, match="unknown domain"):
        write_phantom_set(tmp_path / "q", 2, "liver", 32)
