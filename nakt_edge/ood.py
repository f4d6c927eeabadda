"""An out-of-domain flag from the input alone: how far a frame's intensity and texture statistics lie
from those of the student's reference (transferal or calibration) images.

Features of a gray frame at the model's working size: the mean and standard deviation of the
intensity, and at full and half resolution the mean and standard deviation of the gradient magnitude
and the mean absolute Laplacian (speckle, edges and gain differ from one scanner, preset, organ or
scene to the next). The reference stores the features' mean and standard deviation over the
reference images and the inverse of their correlation matrix (shrunk towards the identity, so a few
hundred images suffice); a frame's distance is the Mahalanobis distance of its standardised features,
and it is flagged when the distance exceeds the reference images' own 99th percentile (so about 1% of
frames like the reference are flagged). Costs no model run. benchmarks/confidence measures it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from nakt_edge.data.images import resize_to

FEATURES = "mean,std,grad_mean,grad_std,abs_laplacian@1,1/2"
SHRINKAGE = 0.1  # correlation matrix -> (1 - s) C + s I
FLAG_PERCENTILE = 99.0


def intensity_features(gray: np.ndarray, size: int) -> np.ndarray:
    """The feature vector (8,) of one (H, W) gray frame in [0, 1], resized to ``size`` x ``size``."""
    image = resize_to(gray.astype(np.float32), size, size)
    features = [float(image.mean()), float(image.std())]
    for scale in (image, cv2.resize(image, (size // 2, size // 2), interpolation=cv2.INTER_AREA)):
        gradient = np.hypot(cv2.Sobel(scale, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(scale, cv2.CV_32F, 0, 1, ksize=3))
        laplacian = np.abs(cv2.Laplacian(scale, cv2.CV_32F))
        features += [float(gradient.mean()), float(gradient.std()), float(laplacian.mean())]
    return np.asarray(features, np.float64)


@dataclass(frozen=True)
class IntensityReference:
    """Feature mean and spread over the reference images, the inverse shrunk correlation, the flag threshold."""

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    precision: tuple[tuple[float, ...], ...]
    threshold: float
    images: int

    @classmethod
    def fit(cls, grays: Iterable[np.ndarray], size: int) -> IntensityReference:
        features = np.stack([intensity_features(g, size) for g in grays])
        mean, std = features.mean(axis=0), features.std(axis=0) + 1e-9
        standardised = (features - mean) / std
        correlation = np.cov(standardised, rowvar=False) if len(features) > 1 else np.eye(features.shape[1])
        precision = np.linalg.inv((1 - SHRINKAGE) * correlation + SHRINKAGE * np.eye(len(correlation)))
        reference = cls(size, tuple(map(float, mean)), tuple(map(float, std)),
                        tuple(tuple(map(float, row)) for row in precision), 0.0, len(features))
        distances = [reference._distance_of(f) for f in features]
        return cls(**{**reference.__dict__, "threshold": float(np.percentile(distances, FLAG_PERCENTILE))})

    def _distance_of(self, features: np.ndarray) -> float:
        z = (features - np.asarray(self.mean)) / np.asarray(self.std)
        return float(np.sqrt(max(0.0, z @ np.asarray(self.precision) @ z)))

    def distance(self, gray: np.ndarray) -> float:
        return self._distance_of(intensity_features(gray, self.size))

    def to_metadata(self) -> str:
        return json.dumps({"features": FEATURES, "size": self.size, "mean": self.mean, "std": self.std,
                           "precision": self.precision, "threshold": self.threshold, "images": self.images})

    @classmethod
    def from_metadata(cls, text: str | None) -> IntensityReference | None:
        """The reference stored in ``nakt.ood``; None when absent or written with other features."""
        if not text:
            return None
        data = json.loads(text)
        if data.get("features") != FEATURES:
            return None
        return cls(int(data["size"]), tuple(data["mean"]), tuple(data["std"]),
                   tuple(tuple(row) for row in data["precision"]), float(data["threshold"]), int(data["images"]))


def auroc(in_domain: np.ndarray, out_of_domain: np.ndarray) -> float:
    """Area under the ROC curve of a score that should be higher out of domain (Mann-Whitney U, ties halved)."""
    from scipy.stats import rankdata

    scores = np.concatenate([np.asarray(in_domain, np.float64), np.asarray(out_of_domain, np.float64)])
    ranks = rankdata(scores)[len(in_domain):]
    positives, negatives = len(out_of_domain), len(in_domain)
    return float((ranks.sum() - positives * (positives + 1) / 2) / (positives * negatives))
