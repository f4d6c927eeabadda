"""A frame: what every reader yields, gray in [0, 1] with its index and pixel spacing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One frame of one input: ``index`` counts from 0 within the input; ``spacing_mm`` is (row, column)."""

    index: int
    gray: np.ndarray
    spacing_mm: tuple[float, float] | None = None
