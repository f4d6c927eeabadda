from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.datasets import AugmentedDataset, load_samples, split_by_group
from nakt_edge.data.pairing import Sample, collect_samples
from nakt_edge.data.readers.item import ImageItem
from nakt_edge.errors import InputError


def test_group_split_never_puts_one_group_on_both_sides() -> None:
    groups = ["a", "a", "b", "c", "c", "c", "d", "e", "f", "f"]
    for seed in range(20):
        train, val = split_by_group(groups, 0.3, seed)
        assert sorted(train + val) == list(range(len(groups)))
        assert not {groups[i] for i in train} & {groups[i] for i in val}
        assert val and train


def test_no_validation_when_fraction_is_zero_or_one_group() -> None:
    assert split_by_group(["a", "b"], 0.0, 0) == ([0, 1], [])
    assert split_by_group(["a", "a", "a"], 0.5, 0) == ([0, 1, 2], [])


def test_load_resizes_to_working_size_and_binarizes_labels(phantom_set: Path) -> None:
    samples = collect_samples(phantom_set / "images", phantom_set / "masks")[:4]
    arrays = load_samples(samples, 32)
    assert arrays.images.shape == (4, 32, 32) and arrays.images.dtype == np.uint8
    assert set(np.unique(arrays.targets)) <= {0, 255}
    image, target = AugmentedDataset(arrays, in_channels=3)[0]
    assert image.shape == (3, 32, 32) and target.shape == (1, 32, 32)
    assert float(image.max()) <= 1.0


def test_mask_of_another_size_is_a_clear_error(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((16, 16), np.uint8))
    cv2.imwrite(str(tmp_path / "a_mask.png"), np.zeros((17, 16), np.uint8))
    with pytest.raises(InputError, match="a_mask.png: mask is 16x17 but its image is 16x16"):
        load_samples([Sample(ImageItem(tmp_path / "a.png"), (tmp_path / "a_mask.png",))], 16)
