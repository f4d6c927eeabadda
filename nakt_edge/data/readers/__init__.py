"""Frames from what devices produce: image files, DICOM (cine loops) and video, behind one ``iter_frames``.

Frames are streamed one at a time (pydicom decodes a loop frame by frame; OpenCV reads video frame
by frame), so a long loop never sits in memory whole. Every frame is float32 gray in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nakt_edge.data.images import IMAGE_SUFFIXES, read_gray
from nakt_edge.data.mask_names import is_mask_file
from nakt_edge.data.readers.dicom import DICOM_SUFFIXES, dicom_frames, has_dicom_preamble
from nakt_edge.data.readers.frame import Frame
from nakt_edge.data.readers.video import VIDEO_SUFFIXES, video_frames
from nakt_edge.errors import InputError

__all__ = ["Frame", "expand_inputs", "iter_frames", "kind_of"]


def kind_of(path: Path) -> str:
    """``image``, ``dicom`` or ``video`` by suffix (DICOM also by its DICM preamble)."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in DICOM_SUFFIXES or has_dicom_preamble(path):
        return "dicom"
    raise InputError("not an image, DICOM or video file",
                     hint=f"pass {', '.join(IMAGE_SUFFIXES + DICOM_SUFFIXES + VIDEO_SUFFIXES)} files", path=path)


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
        yield from video_frames(path)
    else:
        yield from dicom_frames(path)
