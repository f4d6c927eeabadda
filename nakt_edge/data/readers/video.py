"""Video files (MP4, AVI, MOV, MKV, WebM) frame by frame through OpenCV, as gray luma in [0, 1]."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from nakt_edge.data.readers.frame import Frame
from nakt_edge.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def video_frames(path: Path) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError("OpenCV cannot open this video", hint="re-encode it (H.264 MP4 or FFV1 AVI)", path=path)
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield Frame(index, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0)
            index += 1
        if index == 0:
            raise InputError("video holds no readable frame", hint="re-encode it", path=path)
    finally:
        capture.release()
