"""DICOM files, single- and multi-frame (cine loops), decoded frame by frame by pydicom.

MONOCHROME1 is inverted; RGB and YBR_FULL / YBR_FULL_422 (converted to RGB by pydicom) become
ITU-R 601 luma, as image files do. The pixel spacing in mm comes from PixelSpacing or, for
ultrasound, the first region of SequenceOfUltrasoundRegions (PhysicalDeltaX/Y, in cm).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nakt_edge.data.readers.frame import Frame
from nakt_edge.errors import InputError

DICOM_SUFFIXES = (".dcm", ".dicom")


def has_dicom_preamble(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(132)[128:132] == b"DICM"


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


def _pydicom():  # noqa: ANN202  (the module, imported where DICOM is read)
    try:
        import pydicom
        import pydicom.pixels
    except ImportError as error:  # pragma: no cover  (a dependency; only a broken install lacks it)
        raise InputError("reading DICOM needs pydicom", hint="pip install pydicom") from error
    return pydicom


def _header(path: Path) -> object:
    try:
        return _pydicom().dcmread(path, stop_before_pixels=True)
    except InputError:
        raise
    except Exception as error:  # noqa: BLE001  (pydicom raises InvalidDicomError and friends)
        raise InputError(f"not a readable DICOM file ({type(error).__name__})", hint="check the file",
                         path=path) from None


def _undecodable(path: Path, error: Exception) -> InputError:
    return InputError(f"cannot decode the DICOM pixel data ({str(error).splitlines()[0][:120]})",
                      hint="a decoder plugin (pylibjpeg, gdcm) may be needed for this transfer syntax", path=path)


_DECODE_ERRORS = (ValueError, RuntimeError, NotImplementedError, AttributeError, KeyError)


def _frame_count(header: object) -> int:
    return max(1, int(getattr(header, "NumberOfFrames", 1) or 1))


def dicom_frame_count(path: Path) -> int:
    """Frames in a DICOM file, from its header alone (NumberOfFrames; 1 when absent)."""
    return _frame_count(_header(path))


def _decode_frame(path: Path, header: object, index: int) -> Frame:
    """Frame ``index``, decoded alone by ``pixel_array(path, index=...)`` (YBR converted to RGB by pydicom).

    Not ``iter_pixels``: pydicom 3.0.2 steps through native YBR_FULL_422 loops with the frame size of
    RGB (3 bytes a pixel, not 2), so frame 1 comes out wrong without a word and frame 2 fails."""
    try:
        pixels = _pydicom().pixels.pixel_array(path, index=index)
    except _DECODE_ERRORS as error:
        raise _undecodable(path, error) from None
    photometric = str(getattr(header, "PhotometricInterpretation", "MONOCHROME2"))
    return Frame(index, dicom_to_gray(pixels, photometric, int(getattr(header, "BitsStored", 8))),
                 dicom_spacing_mm(header))


def dicom_frames(path: Path) -> Iterator[Frame]:
    """Every frame of a DICOM file, decoded one at a time (a cine loop never sits in memory whole)."""
    header = _header(path)
    for index in range(_frame_count(header)):
        yield _decode_frame(path, header, index)


def dicom_frame(path: Path, index: int) -> Frame:
    """Frame ``index`` of a DICOM file, decoding that frame only (random access for training sets)."""
    header = _header(path)
    count = _frame_count(header)
    if not 0 <= index < count:
        raise InputError(f"has {count} frame(s), no frame {index}", hint="check the frame index", path=path)
    return _decode_frame(path, header, index)
