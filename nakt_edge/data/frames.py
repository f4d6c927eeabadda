"""Frames from what devices produce: image files, DICOM (single- and multi-frame cine loops) and video.

One reader for every command that runs a model on new data. Frames are streamed one at a time
(pydicom's ``iter_pixels`` decodes a loop frame by frame; OpenCV reads video frame by frame), so a
long loop never sits in memory whole. Every frame becomes float32 gray in [0, 1]: MONOCHROME1 is
inverted, RGB and YBR_FULL / YBR_FULL_422 (converted to RGB by pydicom) become ITU-R 601 luma, as
image files do. The pixel spacing in mm comes from PixelSpacing or, for ultrasound, the first
region of SequenceOfUltrasoundRegions (PhysicalDeltaX/Y, in cm).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nakt_edge.data.images import IMAGE_SUFFIXES, read_gray
from nakt_edge.data.pairing import is_mask_file
from nakt_edge.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
DICOM_SUFFIXES = (".dcm", ".dicom")


@dataclass(frozen=True)
class Frame:
    """One frame of one input: ``index`` counts from 0 within the input; ``spacing_mm`` is (row, column)."""

    index: int
    gray: np.ndarray
    spacing_mm: tuple[float, float] | None = None


def kind_of(path: Path) -> str:
    """``image``, ``dicom`` or ``video`` by suffix (DICOM also by its DICM preamble)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in DICOM_SUFFIXES or _has_dicom_preamble(path):
        return "dicom"
    raise InputError("not an image, DICOM or video file",
                     hint=f"pass {', '.join(IMAGE_SUFFIXES + DICOM_SUFFIXES + VIDEO_SUFFIXES)} files", path=path)


def _has_dicom_preamble(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(132)[128:132] == b"DICM"


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """Files as given, folders as their readable files (sorted, BUSI ``*_mask*`` files left out)."""
    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and not is_mask_file(p) and _readable_kind(p))
            if not found:
                raise InputError("no images, DICOM or video files found", hint="check the folder", path=item)
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise InputError("input not found", hint="check the path", path=item)
    stems = {}
    for path in files:
        if path.stem in stems:
            raise InputError(f"two inputs share the stem '{path.stem}' ({stems[path.stem]}, {path})",
                             hint="rename one: outputs are named by stem", path=path)
        stems[path.stem] = path
    return files


def _readable_kind(path: Path) -> bool:
    try:
        kind_of(path)
        return True
    except (InputError, OSError):
        return False


def iter_frames(path: Path) -> Iterator[Frame]:
    """The frames of ``path``, one at a time; InputError when the file cannot be read at all."""
    kind = kind_of(path)
    if kind == "image":
        yield Frame(0, read_gray(path))
    elif kind == "video":
        yield from _video_frames(path)
    else:
        yield from _dicom_frames(path)


def _video_frames(path: Path) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError("OpenCV cannot open this video", hint="re-encode it (H.264 MP4 or FFV1 AVI)", path=path)
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield Frame(index, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0)
            index += 1
        if index == 0:
            raise InputError("video holds no readable frame", hint="re-encode it", path=path)
    finally:
        capture.release()


def dicom_spacing_mm(dataset: object) -> tuple[float, float] | None:
    """(row, column) spacing in mm from PixelSpacing, else the first ultrasound region's PhysicalDeltaY/X."""
    spacing = getattr(dataset, "PixelSpacing", None)
    if spacing is not None and len(spacing) == 2:
        return float(spacing[0]), float(spacing[1])
    for region in getattr(dataset, "SequenceOfUltrasoundRegions", None) or []:
        units = (getattr(region, "PhysicalUnitsXDirection", None), getattr(region, "PhysicalUnitsYDirection", None))
        if units == (3, 3):  # 3 = cm
            return abs(float(region.PhysicalDeltaY)) * 10.0, abs(float(region.PhysicalDeltaX)) * 10.0
    return None


def dicom_to_gray(pixels: np.ndarray, photometric: str, bits_stored: int) -> np.ndarray:
    """One decoded DICOM frame (RGB already converted from YBR by pydicom) as float32 gray in [0, 1]."""
    values = pixels.astype(np.float32)
    if pixels.ndim == 3:  # RGB after pydicom's colour conversion
        values = values @ np.array([0.299, 0.587, 0.114], np.float32)
    elif np.issubdtype(pixels.dtype, np.signedinteger):
        values += 2 ** (bits_stored - 1)
    gray = np.clip(values / (2 ** bits_stored - 1), 0.0, 1.0)
    return 1.0 - gray if pixels.ndim == 2 and photometric == "MONOCHROME1" else gray


def _dicom_frames(path: Path) -> Iterator[Frame]:
    try:
        import pydicom
        from pydicom.pixels import iter_pixels
    except ImportError as error:  # pragma: no cover  (a dependency; only a broken install lacks it)
        raise InputError("reading DICOM needs pydicom", hint="pip install pydicom", path=path) from error
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as error:  # noqa: BLE001  (pydicom raises InvalidDicomError and friends)
        raise InputError(f"not a readable DICOM file ({type(error).__name__})", hint="check the file",
                         path=path) from None
    photometric = str(getattr(header, "PhotometricInterpretation", "MONOCHROME2"))
    bits = int(getattr(header, "BitsStored", 8))
    spacing = dicom_spacing_mm(header)
    try:
        for index, pixels in enumerate(iter_pixels(path)):  # YBR_FULL(_422) -> RGB by pydicom (as_rgb)
            yield Frame(index, dicom_to_gray(pixels, photometric, bits), spacing)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError) as error:
        raise InputError(f"cannot decode the DICOM pixel data ({str(error).splitlines()[0][:120]})",
                         hint="a decoder plugin (pylibjpeg, gdcm) may be needed for this transfer syntax",
                         path=path) from None
