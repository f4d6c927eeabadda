"""Overlays of predicted masks: a tinted frame with the outline, and an MP4 of a loop's overlays."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from nakt_edge.outputs import atomic_path

OVERLAY_FPS = 15.0


def overlay(gray: np.ndarray, mask: np.ndarray, *, flagged: bool = False) -> np.ndarray:
    """BGR uint8: the frame with the mask tinted red and its outline in yellow; a frame flagged as
    unsure gets an orange outline and a "low confidence" label."""
    image = cv2.cvtColor(np.round(gray * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    tint = image.copy()
    tint[mask] = (0.5 * tint[mask] + 0.5 * np.array([0, 0, 255])).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tint, contours, -1, (0, 140, 255) if flagged else (0, 255, 255), 1)
    if flagged:
        cv2.putText(tint, "low confidence", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 140, 255), 1, cv2.LINE_AA)
    return tint


class LoopVideo:
    """An MP4 of a loop's overlays, written to a temp file and renamed when the loop is complete."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self._context = path, None, atomic_path(path)
        self.temp = self._context.__enter__()

    def add(self, image: np.ndarray) -> None:
        if self.writer is None:
            height, width = image.shape[:2]
            self.writer = cv2.VideoWriter(str(self.temp.with_suffix(".mp4")), cv2.VideoWriter_fourcc(*"mp4v"),
                                          OVERLAY_FPS, (width, height))
        self.writer.write(image)

    def close(self, ok: bool) -> None:
        encoded = self.temp.with_suffix(".mp4")  # OpenCV picks the container by the suffix
        if self.writer is not None:
            self.writer.release()
        if ok and encoded.is_file():
            encoded.replace(self.temp)
            self._context.__exit__(None, None, None)
        else:
            encoded.unlink(missing_ok=True)
            self._context.__exit__(RuntimeError, RuntimeError("loop not complete"), None)
