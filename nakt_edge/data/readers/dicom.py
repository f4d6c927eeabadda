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


def dicom_frames(path: Path) -> Iterator[Frame]:
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
