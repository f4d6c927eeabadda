"""The frame reader against independent paths: pixels we wrote ourselves (DICOM uncompressed, FFV1 video)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.readers import expand_inputs, iter_frames
from nakt_edge.errors import InputError
from tests.dicom_files import write_dicom, ybr_full_422_luma

RNG = np.random.default_rng(4)


def _gray_frames(count: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (count, 24, 32), dtype=np.uint8)


def test_multi_frame_monochrome2_reads_the_written_pixels_one_frame_at_a_time(tmp_path: Path) -> None:
    frames = _gray_frames(4)
    path = write_dicom(tmp_path / "loop.dcm", frames, spacing_mm=(0.2, 0.25))
    stream = iter_frames(path)
    first = next(stream)  # a generator: the loop is not decoded whole
    got = [first, *stream]
    assert [f.index for f in got] == [0, 1, 2, 3]
    np.testing.assert_array_equal(np.round(np.stack([f.gray for f in got]) * 255).astype(np.uint8), frames)
    assert got[0].spacing_mm == (0.2, 0.25)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    frames = _gray_frames(1)
    (frame,) = iter_frames(write_dicom(tmp_path / "m1.dcm", frames, "MONOCHROME1"))
    np.testing.assert_allclose(frame.gray, 1.0 - frames[0] / 255.0, atol=1e-6)


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_colour_dicom_becomes_luma_like_an_image_file(tmp_path: Path, photometric: str) -> None:
    rgb = RNG.integers(0, 256, (2, 24, 32, 3), dtype=np.uint8)
    got = [f.gray for f in iter_frames(write_dicom(tmp_path / "c.dcm", rgb, photometric,
                                                   region_delta_cm=(0.01, 0.02)))]
    reference = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]) / 255.0  # OpenCV's own luma
    tolerance = 1.01 / 255 if photometric == "RGB" else 3.01 / 255  # YBR_FULL round trip rounds in 8 bits
    assert np.abs(np.stack(got) - reference).max() <= tolerance
    assert next(iter_frames(tmp_path / "c.dcm")).spacing_mm == pytest.approx((0.1, 0.2))


def test_native_ybr_full_422_loop_reads_the_stored_luma_on_every_frame(tmp_path: Path) -> None:
    """pydicom 3.0.2's iter_pixels gets frame 1 of such a loop wrong and fails on frame 2: we must not."""
    rgb = RNG.integers(40, 216, (4, 24, 32, 3), dtype=np.uint8)
    got = np.stack([f.gray for f in iter_frames(write_dicom(tmp_path / "y422.dcm", rgb, "YBR_FULL_422"))])
    assert got.shape == (4, 24, 32)
    # luma of the RGB pydicom rebuilds is the stored Y (the chroma terms cancel), up to 8-bit rounding
    assert np.abs(got * 255 - ybr_full_422_luma(rgb)).max() <= 1.0


def test_lossless_video_frames_are_the_written_ones(tmp_path: Path) -> None:
    frames = _gray_frames(5)
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 10, (32, 24), True)
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    got = np.stack([f.gray for f in iter_frames(path)])
    np.testing.assert_array_equal(np.round(got * 255).astype(np.uint8), frames)


def test_unreadable_inputs_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.dcm").write_bytes(b"not dicom at all")
    with pytest.raises(InputError, match="bad.dcm: not a readable DICOM"):
        list(iter_frames(tmp_path / "bad.dcm"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="notes.txt: not an image, DICOM or video"):
        list(iter_frames(tmp_path / "notes.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images, DICOM or video files"):
        expand_inputs([tmp_path / "empty"])
