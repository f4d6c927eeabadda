"""Segment a video file or a camera stream with a nakt-edge student; needs only onnxruntime, numpy, opencv.

The student's ``nakt.*`` metadata says how to feed it and read it (layout, channels, input size,
normalisation, logits or probabilities, sigmoid or softmax, foreground channel, threshold, temperature), so this
one file runs any exported student (.onnx, or .ort for ORT Mobile builds) without nakt-edge.

    python examples/segment_stream.py models/busi_cmunext_edge.onnx --source scan.mp4 --out overlay.mp4
    python examples/segment_stream.py student.ort --source 0 --show        # camera 0, live window

It prints the frames/s and p50 latency of the model at the end; ``--masks DIR`` also writes one
mask PNG per frame.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Student:
    """An ONNX Runtime session plus the pre- and post-processing its nakt.* metadata describes."""

    def __init__(self, path: str) -> None:
        self.session = ort.InferenceSession(path, providers=ort.get_available_providers())
        meta = self.session.get_modelmeta().custom_metadata_map
        self.input = self.session.get_inputs()[0].name
        self.layout = meta.get("nakt.layout", "NCHW")
        self.output_layout = meta.get("nakt.output_layout", "NCHW")  # stated by nakt export, never guessed
        self.channels = int(meta.get("nakt.channels", "1"))
        size = meta.get("nakt.size", "dynamic")
        self.size = None if size == "dynamic" else tuple(int(v) for v in size.split(","))
        self.normalize = meta.get("nakt.normalize", "unit")
        self.output = meta.get("nakt.output", "logits")
        self.activation = meta.get("nakt.activation")
        self.foreground = meta.get("nakt.foreground")
        self.threshold = float(meta.get("nakt.threshold", "0.5"))
        self.temperature = float(meta.get("nakt.temperature", "1"))  # set by nakt calibrate / export --calibrate

    @staticmethod
    def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
        if image.shape[:2] == (height, width):
            return image
        shrinking = height * width < image.shape[0] * image.shape[1]
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

    def _input(self, gray: np.ndarray) -> np.ndarray:
        height, width = self.size or gray.shape
        x = self._resize(gray, height, width)[None, None]
        x = np.repeat(x, self.channels, axis=1)
        if self.normalize == "raw255":
            x = x * 255.0
        elif self.normalize == "imagenet":
            mean = np.asarray(IMAGENET_MEAN if self.channels == 3 else (sum(IMAGENET_MEAN) / 3,), np.float32)
            std = np.asarray(IMAGENET_STD if self.channels == 3 else (sum(IMAGENET_STD) / 3,), np.float32)
            x = (x - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)
        elif self.normalize != "unit":
            mean, std = (float(v) for v in self.normalize.split(","))
            x = (x - mean) / std
        if self.layout == "NHWC":
            x = x.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x, np.float32)

    def probability(self, gray: np.ndarray) -> np.ndarray:
        """Foreground probability (H, W) for one gray frame in [0, 1]."""
        raw = self.session.run(None, {self.input: self._input(gray)})[0].astype(np.float32)
        raw = raw[:, None] if raw.ndim == 3 else raw
        if self.output_layout == "NHWC":
            raw = raw.transpose(0, 3, 1, 2)
        activation = self.activation or ("sigmoid" if raw.shape[1] == 1 else "softmax")
        foreground = int(self.foreground) if self.foreground is not None else (1 if activation == "softmax" else 0)
        if self.output == "probabilities":
            prob = raw[0, foreground]
        elif activation == "sigmoid":
            prob = 1.0 / (1.0 + np.exp(-raw[0, foreground]))
        else:
            shifted = np.exp(raw[0] - raw[0].max(axis=0))
            prob = shifted[foreground] / shifted.sum(axis=0)
        if self.temperature != 1.0:  # calibrated: sigmoid(logit / T)
            clipped = np.clip(prob, 1e-7, 1 - 1e-7)
            prob = 1.0 / (1.0 + np.exp(-np.log(clipped / (1 - clipped)) / self.temperature))
        return np.clip(self._resize(np.ascontiguousarray(prob), *gray.shape), 0.0, 1.0)


def overlay(frame_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    tinted = frame_bgr.copy()
    tinted[mask] = (0.5 * tinted[mask] + 0.5 * np.array([0, 0, 255])).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tinted, contours, -1, (0, 255, 255), 1)
    return tinted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="student .onnx or .ort file exported by nakt export")
    parser.add_argument("--source", default="0", help="video file, or a camera index (default 0)")
    parser.add_argument("--out", help="write the overlay video here (.mp4)")
    parser.add_argument("--masks", help="write one mask PNG per frame into this folder")
    parser.add_argument("--show", action="store_true", help="show a live window (q quits)")
    args = parser.parse_args()
    student = Student(args.model)
    capture = cv2.VideoCapture(int(args.source) if args.source.isdigit() else args.source)
    if not capture.isOpened():
        raise SystemExit(f"error: cannot open {args.source} (a video file or a camera index)")
    writer, latencies, index = None, [], 0
    if args.masks:
        Path(args.masks).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        tick = time.perf_counter()
        mask = student.probability(gray) > student.threshold
        latencies.append(1000 * (time.perf_counter() - tick))
        shown = overlay(frame, mask)
        if args.masks:
            cv2.imwrite(str(Path(args.masks) / f"frame_{index:05d}.png"), mask.astype(np.uint8) * 255)
        if args.out:
            if writer is None:
                writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"),
                                         capture.get(cv2.CAP_PROP_FPS) or 15.0, (frame.shape[1], frame.shape[0]))
            writer.write(shown)
        if args.show:
            cv2.imshow("nakt-edge", shown)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
        index += 1
    seconds = time.perf_counter() - started
    capture.release()
    if writer is not None:
        writer.release()
    if latencies:
        print(f"{index} frames, {index / seconds:.1f} frames/s, model p50 {np.percentile(latencies, 50):.2f} ms "
              f"on {student.session.get_providers()[0]}")


if __name__ == "__main__":
    main()
