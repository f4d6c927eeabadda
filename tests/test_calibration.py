"""Temperature scaling and the pixel-level ECE / reliability table, on logits whose calibration we know."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nakt_edge.calibration import Reliability, calibrated_threshold, fit_temperature

RNG = np.random.default_rng(3)


def _overconfident(true_temperature: float, count: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Logits z whose real foreground probability is sigmoid(z / T): a model overconfident by T."""
    z = RNG.normal(0.0, 4.0, count)
    targets = (RNG.random(count) < 1 / (1 + np.exp(-z / true_temperature))).astype(np.float64)
    return z, targets


def test_the_fitted_temperature_is_the_true_one_and_lowers_the_loss() -> None:
    z, y = _overconfident(2.0)
    temperature, before, after = fit_temperature(z, y)
    assert temperature == pytest.approx(2.0, rel=0.05) and after < before


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    z, y = _overconfident(2.0)
    calibrated, raw = Reliability(), Reliability()
    calibrated.add(1 / (1 + np.exp(-z / 2.0)), y)
    raw.add(1 / (1 + np.exp(-z)), y)
    assert calibrated.ece() < 0.01 < 0.05 < raw.ece()
    table = raw.table()
    assert sum(row["pixels"] for row in table) == len(z)
    assert all(row["low"] <= row["mean_probability"] <= row["high"] for row in table)


def test_ece_by_hand() -> None:
    reliability = Reliability(bins=2)
    reliability.add(np.array([0.1, 0.2, 0.9, 0.8]), np.array([0, 1, 1, 1]))
    # bin [0, .5): mean p 0.15, fraction 0.5 -> gap 0.35; bin [.5, 1]: mean p 0.85, fraction 1 -> gap 0.15
    assert reliability.ece() == pytest.approx(0.5 * 0.35 + 0.5 * 0.15)
    assert np.isnan(Reliability().ece())


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_the_moved_threshold_keeps_every_mask(threshold: float) -> None:
    z = RNG.normal(0.0, 3.0, 10_000)
    temperature = 1.7
    cut = calibrated_threshold(threshold, temperature)
    np.testing.assert_array_equal(1 / (1 + np.exp(-z)) > threshold, 1 / (1 + np.exp(-z / temperature)) > cut)


def test_the_reliability_diagram_is_written(tmp_path: Path) -> None:
    z, y = _overconfident(2.0, 5000)
    reliability = Reliability()
    reliability.add(1 / (1 + np.exp(-z)), y)
    path = reliability.plot(tmp_path / "r.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
