"""Calibration of a student's foreground probability: temperature scaling and the reliability it buys.

Temperature scaling (Guo et al. 2017, "On calibration of modern neural networks") divides the
foreground logit by one scalar T fitted to minimise the pixel-level binary cross-entropy on a
labeled (or pseudo-labeled) set; ranks, and with the threshold moved accordingly, masks, stay the
same. Calibration is measured by the pixel-level expected calibration error: pixels binned by their
foreground probability p, ECE = sum over bins of (pixels in bin / all pixels) * |mean p - fraction
foreground|, and shown as a reliability diagram.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar

from nakt_edge.outputs import atomic_path

ECE_BINS = 15
LOG_T_BOUNDS = (np.log(0.05), np.log(20.0))


def _bce(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean binary cross-entropy (nats) of sigmoid(logits / T) against soft targets in [0, 1], computed stably."""
    z = logits / temperature
    return float(np.mean(np.maximum(z, 0) - z * targets + np.log1p(np.exp(-np.abs(z)))))


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> tuple[float, float, float]:
    """(T, BCE before, BCE after) for foreground logits and targets of the same shape (any, flattened)."""
    z = np.asarray(logits, np.float64).ravel()
    y = np.asarray(targets, np.float64).ravel()
    found = minimize_scalar(lambda log_t: _bce(z, y, float(np.exp(log_t))), bounds=LOG_T_BOUNDS, method="bounded",
                            options={"xatol": 1e-4})
    temperature = float(np.exp(found.x))
    return temperature, _bce(z, y, 1.0), _bce(z, y, temperature)


def calibrated_threshold(threshold: float, temperature: float) -> float:
    """The cut on calibrated probabilities that gives the masks the uncalibrated ``threshold`` gave."""
    logit = np.log(threshold / (1.0 - threshold))
    return float(1.0 / (1.0 + np.exp(-logit / temperature)))


class Reliability:
    """Pixel counts, summed probabilities and foreground pixels per probability bin, filled image by image."""

    def __init__(self, bins: int = ECE_BINS) -> None:
        self.edges = np.linspace(0.0, 1.0, bins + 1)
        self.count = np.zeros(bins, np.int64)
        self.prob_sum = np.zeros(bins, np.float64)
        self.positive = np.zeros(bins, np.float64)

    def add(self, prob: np.ndarray, target: np.ndarray) -> None:
        p = np.asarray(prob, np.float64).ravel()
        index = np.clip(np.searchsorted(self.edges, p, side="right") - 1, 0, len(self.count) - 1)
        self.count += np.bincount(index, minlength=len(self.count))
        self.prob_sum += np.bincount(index, weights=p, minlength=len(self.count))
        self.positive += np.bincount(index, weights=np.asarray(target, np.float64).ravel(), minlength=len(self.count))

    def ece(self) -> float:
        total = self.count.sum()
        if total == 0:
            return float("nan")
        seen = self.count > 0
        gaps = np.abs(self.prob_sum[seen] - self.positive[seen]) / self.count[seen]
        return float(np.sum(self.count[seen] / total * gaps))

    def table(self) -> list[dict[str, float]]:
        """One row per non-empty bin: its range, pixel count, mean probability and fraction foreground."""
        return [{"low": float(self.edges[i]), "high": float(self.edges[i + 1]), "pixels": int(self.count[i]),
                 "mean_probability": float(self.prob_sum[i] / self.count[i]),
                 "fraction_foreground": float(self.positive[i] / self.count[i])}
                for i in range(len(self.count)) if self.count[i] > 0]

    def plot(self, path: Path, title: str) -> Path:
        """The reliability diagram (fraction foreground vs mean probability per bin, pixel share below) as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.table()
        centres = [(r["low"] + r["high"]) / 2 for r in rows]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.5, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
        top.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
        top.bar(centres, [r["fraction_foreground"] for r in rows], width=1 / len(self.count), alpha=0.6,
                edgecolor="k", label="fraction foreground")
        top.plot([r["mean_probability"] for r in rows], [r["fraction_foreground"] for r in rows], "o-", color="C3",
                 markersize=3, label="bin mean probability")
        top.set_ylabel("fraction foreground")
        top.set_title(f"{title}\nECE {self.ece():.4f} ({len(self.count)} bins, pixel level)", fontsize=9)
        top.legend(fontsize=7)
        bottom.bar(centres, [r["pixels"] / max(1, self.count.sum()) for r in rows], width=1 / len(self.count),
                   color="0.5")
        bottom.set_yscale("log")
        bottom.set_xlabel("foreground probability")
        bottom.set_ylabel("pixel share")
        fig.tight_layout()
        with atomic_path(path) as target:
            fig.savefig(target, dpi=110, format="png")
        plt.close(fig)
        return path
