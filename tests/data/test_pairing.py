from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.pairing import collect_samples, list_images
from nakt_edge.errors import InputError


def _png(path: Path, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))
    return path


def test_masks_pair_by_stem_in_a_mask_folder(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png")
    _png(tmp_path / "img" / "b.jpg")
    _png(tmp_path / "msk" / "a.png")
    _png(tmp_path / "msk" / "b.png")
    (tmp_path / "img" / "notes.txt").write_text("ignored")
    samples = collect_samples(tmp_path / "img", tmp_path / "msk")
    assert [(s.image.name, [m.name for m in s.masks]) for s in samples] == [("a.png", ["a.png"]), ("b.jpg", ["b.png"])]


def test_busi_style_masks_beside_the_image_are_all_found(tmp_path: Path) -> None:
    _png(tmp_path / "benign (1).png")
    _png(tmp_path / "benign (1)_mask.png")
    _png(tmp_path / "benign (1)_mask_1.png")
    _png(tmp_path / "benign (10).png")
    _png(tmp_path / "benign (10)_mask.png")
    samples = collect_samples(tmp_path)
    assert [s.image.name for s in samples] == ["benign (1).png", "benign (10).png"]
    assert [m.name for m in samples[0].masks] == ["benign (1)_mask.png", "benign (1)_mask_1.png"]
    assert [m.name for m in samples[1].masks] == ["benign (10)_mask.png"]


def test_image_without_mask_is_a_clear_error(tmp_path: Path) -> None:
    _png(tmp_path / "img" / "a.png")
    (tmp_path / "msk").mkdir()
    with pytest.raises(InputError, match="a.png: image has no mask") as info:
        collect_samples(tmp_path / "img", tmp_path / "msk")
    assert info.value.exit_code == 2


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images found"):
        list_images(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        list_images(tmp_path / "missing")


def test_duplicate_stems_are_refused(tmp_path: Path) -> None:
    _png(tmp_path / "a.png")
    _png(tmp_path / "a.bmp")
    with pytest.raises(InputError, match="share the stem"):
        list_images(tmp_path)


def _manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_manifest_split_selects_images_and_carries_groups(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        _png(tmp_path / "img" / f"{name}.png")
        _png(tmp_path / "msk" / f"{name}.png")
    manifest = _manifest(tmp_path / "m.csv", [
        {"file": "a.png", "split": "teacher", "group": "g1"},
        {"file": "b.png", "split": "test", "group": "g2"},
        {"file": "c.png", "split": "teacher", "group": "g1"},
    ])
    samples = collect_samples(tmp_path / "img", tmp_path / "msk", manifest=manifest, split="teacher")
    assert [(s.stem, s.group) for s in samples] == [("a", "g1"), ("c", "g1")]
    with pytest.raises(InputError, match="valid splits: teacher, test"):
        collect_samples(tmp_path / "img", tmp_path / "msk", manifest=manifest, split="train")
    with pytest.raises(InputError, match="--split needs --manifest"):
        collect_samples(tmp_path / "img", tmp_path / "msk", split="teacher")


def test_real_busi_split_pairs_every_image(busi: Path) -> None:
    samples = collect_samples(busi / "images", busi / "masks", manifest=busi / "manifest.csv", split="test")
    assert len(samples) == 156
    assert all(s.masks and s.masks[0].name == s.image.name for s in samples)
