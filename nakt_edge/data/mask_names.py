"""BUSI-style mask file names: ``<stem>_mask.png`` or ``<stem>_mask_<n>.png`` beside their image."""

from __future__ import annotations

import re
from pathlib import Path

_MASK_STEM = re.compile(r"^(?P<stem>.+)_mask(_\d+)?$")


def mask_owner(path: Path) -> str | None:
    """The image stem a BUSI-style mask file belongs to (``a_mask_2.png`` -> ``a``), else None."""
    match = _MASK_STEM.match(path.stem)
    return match.group("stem") if match else None


def is_mask_file(path: Path) -> bool:
    return mask_owner(path) is not None
