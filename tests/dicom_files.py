"""Writing small DICOM files with pydicom for tests: known pixels in, so a reader can be checked exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid


def write_dicom(path: Path, frames: np.ndarray, photometric: str = "MONOCHROME2",
                spacing_mm: tuple[float, float] | None = None,
                region_delta_cm: tuple[float, float] | None = None) -> Path:
    """``frames``: (N, H, W) uint8 gray or (N, H, W, 3) uint8 RGB (converted to YBR_FULL or, native and
    chroma-subsampled as scanners write it, YBR_FULL_422 when asked)."""
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
    if photometric == "YBR_FULL_422":
        _set_ybr_full_422(ds, frames)
    else:
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


def ybr_full_422_luma(frames: np.ndarray) -> np.ndarray:
    """The Y plane (0-255) that ``write_dicom(..., "YBR_FULL_422")`` stores for RGB ``frames``."""
    from pydicom.pixels import convert_color_space

    return np.stack([np.round(convert_color_space(f, "RGB", "YBR_FULL")[..., 0]) for f in frames])


def _set_ybr_full_422(ds: Dataset, frames: np.ndarray) -> None:
    """Native YBR_FULL_422 (PS3.3 C.7.6.3.1.2): per pair of pixels Y1 Y2 Cb Cr, chroma averaged over the pair."""
    from pydicom.pixels import convert_color_space

    count, rows, columns, _ = frames.shape
    ybr = np.stack([convert_color_space(f, "RGB", "YBR_FULL") for f in frames]).astype(np.float32)
    pairs = ybr.reshape(count, rows, columns // 2, 2, 3)
    packed = np.empty((count, rows, columns // 2, 4), np.uint8)
    packed[..., 0], packed[..., 1] = pairs[..., 0, 0], pairs[..., 1, 0]
    packed[..., 2:] = np.round(pairs[..., 1:].mean(axis=3))
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PlanarConfiguration = rows, columns, 3, 0
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.NumberOfFrames = count
    ds.PixelData = packed.tobytes()
