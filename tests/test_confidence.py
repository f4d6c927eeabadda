"""Confidence scores: certain maps score ~1, coin flips ~0, and an unsure empty map is not called sure."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.confidence import confidence_scores

runner = CliRunner()


def _disc(value_in: float, value_out: float, size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.where((yy - 32) ** 2 + (xx - 32) ** 2 < 100, value_in, value_out).astype(np.float32)


def test_certain_maps_score_one_and_coin_flips_zero() -> None:
    sure = confidence_scores(_disc(1.0, 0.0))
    assert sure["region_entropy"] == pytest.approx(1.0, abs=1e-5) and sure["max_probability"] == pytest.approx(1.0)
    flip = confidence_scores(np.full((64, 64), 0.5, np.float32))
    assert flip["region_entropy"] == pytest.approx(0.0, abs=1e-6) and flip["max_probability"] == pytest.approx(0.5)


def test_a_faint_lesion_is_less_sure_than_a_clear_one_even_when_nothing_is_predicted() -> None:
    clear, faint = confidence_scores(_disc(0.95, 0.02)), confidence_scores(_disc(0.6, 0.02))
    assert faint["region_entropy"] < clear["region_entropy"]
    empty_sure, empty_unsure = confidence_scores(_disc(0.01, 0.01)), confidence_scores(_disc(0.45, 0.01))
    assert empty_unsure["region_entropy"] < empty_sure["region_entropy"] - 0.5


def test_predict_writes_the_scores_and_flags_frames_below_the_cut(tiny_onnx: Path, phantom_set: Path,
                                                                 tmp_path: Path) -> None:
    image = sorted((phantom_set / "images").iterdir())[0]
    result = runner.invoke(app, ["predict", str(tiny_onnx), str(image), "--out", str(tmp_path / "p"), "--device",
                                 "cpu", "--flag-below", "1.0", "--overlay"])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader((tmp_path / "p" / f"{image.stem}.csv").open())
    assert 0 <= float(row["confidence"]) < 1 and row["flagged"] == "1"
    assert {"region_entropy", "gray_entropy", "max_probability"} <= set(row)
