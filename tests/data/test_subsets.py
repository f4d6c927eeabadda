from __future__ import annotations

from pathlib import Path

from nakt_edge.data.pairing import Sample
from nakt_edge.data.readers.item import ImageItem
from nakt_edge.data.subsets import take_by_group


def test_subset_is_seeded_and_made_of_whole_groups() -> None:
    samples = [Sample(ImageItem(Path(f"{i:02d}.png")), (), group=f"g{i // 3}") for i in range(30)]
    first = take_by_group(samples, 9, seed=1)
    assert first == take_by_group(samples, 9, seed=1) and len(first) == 9
    groups = {s.group for s in first}
    assert all(sum(s.group == g for s in first) == 3 for g in groups)
    assert take_by_group(samples, 9, seed=2) != first
    assert len(take_by_group(samples, 100)) == 30
