"""Choosing a small labeled subset (e.g. the paper's 50 fine-tuning images) without splitting groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nakt_edge.data.pairing import Sample
from nakt_edge.errors import InputError


def take_by_group(samples: Sequence[Sample], count: int, seed: int = 0) -> list[Sample]:
    """``count`` samples made of whole groups drawn in a seeded order (the last group may be cut).

    The same (samples, count, seed) always gives the same subset, so a fine-tuned student and a
    from-scratch baseline see exactly the same labeled images.
    """
    if count < 1:
        raise InputError(f"--limit must be at least 1 (got {count})", hint="e.g. --limit 50")
    if count >= len(samples):
        return list(samples)
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.group or sample.stem, []).append(sample)
    names = sorted(groups)
    chosen: list[Sample] = []
    for index in np.random.default_rng(seed).permutation(len(names)):
        chosen.extend(groups[names[index]])
        if len(chosen) >= count:
            break
    return sorted(chosen[:count], key=lambda s: s.image.name)
