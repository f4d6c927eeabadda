"""An image of a data folder: an image file, or one frame of a DICOM file (a cine loop is many).

Folders given to ``label``, ``train``, ``evaluate`` and ``bench`` may hold DICOM files; each frame
of a multi-frame file is an item of its own, named ``<stem>_f<frame>`` (masks and pseudo masks
take that name) and listed in manifests as ``<file>#<frame>``. All frames of one file share its
stem as their leakage group: frames of one loop are near-duplicates and never cross a split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nakt_edge.data.images import IMAGE_SUFFIXES, read_gray, read_gray_u8
from nakt_edge.data.readers.dicom import DICOM_SUFFIXES, dicom_frame, dicom_frame_count, has_dicom_preamble
from nakt_edge.errors import InputError

FRAME_MARK = "#"  # manifest names of frames: loop.dcm#12


@dataclass(frozen=True, order=True)
class ImageItem:
    """``path`` and, for a frame of a multi-frame DICOM file, its ``frame`` index (from 0)."""

    path: Path
    frame: int | None = None

    @property
    def stem(self) -> str:
        return self.path.stem if self.frame is None else f"{self.path.stem}_f{self.frame:05d}"

    @property
    def name(self) -> str:
        return self.path.name if self.frame is None else f"{self.path.name}{FRAME_MARK}{self.frame}"

    @property
    def group(self) -> str:
        """The default leakage group: the file's stem (all frames of a loop together)."""
        return self.path.stem

    def __str__(self) -> str:
        return str(self.path) if self.frame is None else f"{self.path} frame {self.frame}"

    def read_gray(self) -> np.ndarray:
        """The image as float32 gray in [0, 1]; InputError when it cannot be read."""
        if self.frame is None and not is_dicom_file(self.path):
            return read_gray(self.path)
        return dicom_frame(self.path, self.frame or 0).gray

    def read_gray_u8(self) -> np.ndarray:
        """The image as uint8 gray (16-bit data scaled down), as training sets hold it."""
        if self.frame is None and not is_dicom_file(self.path):
            return read_gray_u8(self.path)
        return np.round(self.read_gray() * 255.0).astype(np.uint8)


def is_dicom_file(path: Path) -> bool:
    """A DICOM file by suffix, or a suffix-less file with the DICM preamble (as scanners write them)."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return True
    return suffix == "" and path.is_file() and has_dicom_preamble(path)


def items_of(path: Path) -> list[ImageItem]:
    """The items of one file: itself, or one per frame of a multi-frame DICOM file.

    A DICOM file whose header cannot be read stays one item; reading it later reports why.
    """
    if not is_dicom_file(path):
        return [ImageItem(path)]
    try:
        count = dicom_frame_count(path)
    except InputError:
        return [ImageItem(path)]
    return [ImageItem(path)] if count == 1 else [ImageItem(path, i) for i in range(count)]


def is_image_file(path: Path) -> bool:
    """A file a data folder's listing takes: an image (by suffix) or a DICOM file."""
    return path.suffix.lower() in IMAGE_SUFFIXES or is_dicom_file(path)


def item_named(folder: Path, name: str) -> ImageItem:
    """The item a manifest names (``a.png`` or ``loop.dcm#12``) in ``folder``."""
    file, mark, frame = name.rpartition(FRAME_MARK)
    if mark and frame.isdigit() and is_dicom_file(folder / file):
        return ImageItem(folder / file, int(frame))
    return ImageItem(folder / name)
