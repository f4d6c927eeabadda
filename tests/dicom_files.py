"""Writing small DICOM files with pydicom for tests: known pixels in, so a reader can be checked exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid


def write_dicom(path: Path, frames: np.ndarray, photometric: str = "MONOCHROME2",
                spacing_mm: tuple[float, float] | None = None,
                region_delta_cm: tuple[float, float] | None = None) -> Path:
    """``frames``: (N, H, W) uint8 gray or (N, H, W, 3) uint8 RGB (converted to YBR_FULL when asked)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    pixels = frames
    if photometric == "YBR_FULL":
        from pydicom.pixels import convert_color_space

        pixels = np.stack([convert_color_space(f, "RGB", "YBR_FULL") for f in frames])
    ds.set_pixel_data(pixels if len(pixels) > 1 else pixels[0], photometric, 8)
    if spacing_mm:
        ds.PixelSpacing = [f"{spacing_mm[0]:g}", f"{spacing_mm[1]:g}"]
    if region_delta_cm:
        region = Dataset()
        region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
        region.PhysicalDeltaX, region.PhysicalDeltaY = region_delta_cm[1], region_delta_cm[0]
        ds.SequenceOfUltrasoundRegions = [region]
    ds.save_as(path, enforce_file_format=True)
    return path
