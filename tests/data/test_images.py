from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.images import check_working_size, read_gray, read_mask, read_masks_merged, read_soft_mask
from nakt_edge.errors import InputError


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif"])
def test_reads_common_formats_as_unit_gray(tmp_path: Path, suffix: str) -> None:
    image = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (16, 1))
    cv2.imwrite(str(tmp_path / f"a{suffix}"), image)
    gray = read_gray(tmp_path / f"a{suffix}")
    assert gray.dtype == np.float32 and gray.shape == (16, 32)
    assert 0.0 <= gray.min() and gray.max() <= 1.0
    assert abs(gray[0, -1] - 1.0) < 0.03 and gray[0, 0] < 0.03


def test_16_bit_rgb_and_rgba_become_the_same_gray(tmp_path: Path) -> None:
    gray8 = np.tile(np.array([[0, 128, 255, 64]], np.uint8), (16, 4))
    cv2.imwrite(str(tmp_path / "g16.png"), gray8.astype(np.uint16) * 257)
    cv2.imwrite(str(tmp_path / "rgb.png"), np.dstack([gray8] * 3))
    cv2.imwrite(str(tmp_path / "rgba.png"), np.dstack([gray8] * 3 + [np.full_like(gray8, 255)]))
    expected = gray8.astype(np.float32) / 255
    for name in ("g16.png", "rgb.png", "rgba.png"):
        np.testing.assert_allclose(read_gray(tmp_path / name), expected, atol=1 / 255)


def test_color_uses_luma_weights(tmp_path: Path) -> None:
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 2] = 255  # BGR
    cv2.imwrite(str(tmp_path / "red.png"), red)
    assert read_gray(tmp_path / "red.png")[0, 0] == pytest.approx(0.299, abs=0.005)


def test_specks_are_no_images_but_small_masks_are_read(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "speck.png"), np.full((3, 3), 200, np.uint8))
    with pytest.raises(InputError, match="speck.png: image is 3x3, smaller than 16 px"):
        read_gray(tmp_path / "speck.png")
    assert read_mask(tmp_path / "speck.png").all()


def test_zero_one_masks_read_as_foreground(tmp_path: Path) -> None:
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 1
    cv2.imwrite(str(tmp_path / "m01.png"), mask)
    cv2.imwrite(str(tmp_path / "m255.png"), mask * 255)
    np.testing.assert_array_equal(read_mask(tmp_path / "m01.png"), read_mask(tmp_path / "m255.png"))
    assert read_mask(tmp_path / "m01.png").sum() == 16


@pytest.mark.parametrize("content", [b"", b"this is not an image"])
def test_unreadable_files_name_the_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_gray(bad)
    assert "bad.png" in str(info.value) and info.value.exit_code == 2


def test_masks_threshold_at_half_range_and_merge_by_or(tmp_path: Path) -> None:
    a = np.zeros((4, 4), np.uint8)
    a[0, 0], a[1, 1] = 255, 100
    b = np.zeros((4, 4), np.uint8)
    b[3, 3] = 200
    cv2.imwrite(str(tmp_path / "a.png"), a)
    cv2.imwrite(str(tmp_path / "b.png"), b)
    assert read_mask(tmp_path / "a.png").sum() == 1
    merged = read_masks_merged([tmp_path / "a.png", tmp_path / "b.png"])
    assert merged[0, 0] and merged[3, 3] and merged.sum() == 2


def test_merging_masks_of_different_sizes_fails(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((5, 4), np.uint8))
    with pytest.raises(InputError, match="b.png"):
        read_masks_merged([tmp_path / "a.png", tmp_path / "b.png"])


def test_soft_mask_keeps_probabilities(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "p.png"), np.array([[0, 51, 255]], np.uint8))
    np.testing.assert_allclose(read_soft_mask(tmp_path / "p.png"), [[0.0, 0.2, 1.0]], atol=1e-6)


def test_working_size_error_names_the_nearest_valid_size() -> None:
    assert check_working_size(128) == 128
    with pytest.raises(InputError, match="--size 96"):
        check_working_size(100)
    with pytest.raises(InputError, match="--size 160"):
        check_working_size(150, 32, arch="fpn")
