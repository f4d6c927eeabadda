"""Reading images and masks into grayscale arrays, and resizing them to the working size.

Images of any common format, 8 or 16 bit, gray/RGB/RGBA, become float32 gray in [0, 1]
(ITU-R 601 luma, as Pillow's ``convert("L")``). Masks become boolean (foreground where the gray
value is above half the range) or, for pseudo masks, float32 probabilities ``value / 255``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from nakt_edge.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MIN_IMAGE_SIDE = 16  # smaller "images" (icons, thumbnails, specks) hold no anatomy worth segmenting


def _decode(path: Path) -> np.ndarray:
    """Decode ``path`` with its native depth and channels; raise InputError when it is no image."""
    if not path.is_file():
        raise InputError("file not found", hint="check the path", path=path)
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise InputError("file is empty", hint="remove it or replace it with a valid image", path=path)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None or array.size == 0:
        raise InputError(
            "not a readable image",
            hint=f"remove it or convert it to one of {', '.join(IMAGE_SUFFIXES)}",
            path=path,
        )
    if array.dtype not in (np.uint8, np.uint16):
        array = _float_to_unit_uint16(array)
    return array


def _float_to_unit_uint16(array: np.ndarray) -> np.ndarray:
    """Rescale an exotic-depth image (float TIFF, int32) to 16 bit by its own range."""
    array = array.astype(np.float64)
    low, high = float(np.nanmin(array)), float(np.nanmax(array))
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return np.round(scaled * 65535).astype(np.uint16)


def _to_gray(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        return array
    if array.shape[2] == 1:
        return array[:, :, 0]
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(array[:, :, :3], cv2.COLOR_BGR2GRAY)


def _image(path: Path) -> np.ndarray:
    """An image (not a mask) as native-depth gray; refuse ones too small to hold anatomy."""
    array = _to_gray(_decode(path))
    if min(array.shape[:2]) < MIN_IMAGE_SIDE:
        raise InputError(f"image is {array.shape[1]}x{array.shape[0]}, smaller than {MIN_IMAGE_SIDE} px on a side",
                         hint="remove it: it cannot be an ultrasound frame", path=path)
    return array


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as float32 gray in [0, 1], shape (H, W)."""
    array = _image(Path(path))
    scale = 65535.0 if array.dtype == np.uint16 else 255.0
    return array.astype(np.float32) / scale


def read_gray_u8(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 gray, shape (H, W) (16-bit images are scaled down)."""
    array = _image(Path(path))
    if array.dtype == np.uint16:
        array = np.round(array.astype(np.float32) / 257.0).astype(np.uint8)
    return array


def read_mask(path: str | Path) -> np.ndarray:
    """Read a label mask as bool (H, W): foreground where the gray value exceeds half the range.

    Masks stored as 0/1 (a common export; they look black) hold no value above 1: there any
    non-zero pixel is foreground, else they would be read as empty."""
    array = _to_gray(_decode(Path(path)))
    if int(array.max(initial=0)) == 1:
        return array > 0
    half = 32767 if array.dtype == np.uint16 else 127
    return array > half


def read_masks_merged(paths: list[Path] | tuple[Path, ...]) -> np.ndarray:
    """Read one or more masks of the same image and merge them with logical OR (BUSI style)."""
    merged = read_mask(paths[0])
    for path in paths[1:]:
        other = read_mask(path)
        if other.shape != merged.shape:
            raise InputError(
                f"mask size {other.shape[1]}x{other.shape[0]} differs from {paths[0].name} "
                f"({merged.shape[1]}x{merged.shape[0]})",
                hint="masks of one image must have the same size",
                path=path,
            )
        merged |= other
    return merged


def read_soft_mask(path: str | Path) -> np.ndarray:
    """Read a stored pseudo mask (uint8 = round(255 p)) as float32 probabilities (H, W)."""
    array = _to_gray(_decode(Path(path)))
    scale = 65535.0 if array.dtype == np.uint16 else 255.0
    return array.astype(np.float32) / scale


def resize_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an (H, W) float or uint8 array: area averaging when shrinking, bilinear otherwise."""
    if array.shape[:2] == (height, width):
        return array
    shrinking = height * width < array.shape[0] * array.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interpolation)


def resize_stack(stack: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize every map of an (N, H, W) stack with ``resize_to``."""
    if stack.shape[1:] == (height, width):
        return stack
    return np.stack([resize_to(item, height, width) for item in stack])


def nearest_multiple(size: int, divisor: int) -> int:
    """The multiple of ``divisor`` nearest to ``size`` (ties go up), at least ``divisor``."""
    return max(divisor, int((size + divisor / 2) // divisor) * divisor)


def check_working_size(size: int, divisor: int = 16, arch: str | None = None) -> int:
    """Return ``size`` if it is a positive multiple of ``divisor``, else raise naming the nearest valid one."""
    if size > 0 and size % divisor == 0:
        return size
    who = f"architecture '{arch}'" if arch else "the working size"
    raise InputError(
        f"size {size} is not a multiple of {divisor}, which {who} needs",
        hint=f"use --size {nearest_multiple(size, divisor)}",
    )
