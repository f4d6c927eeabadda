from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.pairing import collect_samples
from nakt_edge.evaluation import evaluate, evaluate_samples


class _Oracle:
    """A predictor that returns a fixed probability map per call (the first image's mask)."""

    name = "oracle"
    working_size = 32
    threshold = 0.5
    ood = None

    def __init__(self, prob: np.ndarray) -> None:
        self.prob = prob

    def predict(self, images: np.ndarray) -> np.ndarray:
        return np.repeat(cv2.resize(self.prob, images.shape[1:][::-1])[None], len(images), axis=0)


def test_predictions_are_scored_at_the_native_mask_size(tmp_path: Path) -> None:
    mask = np.zeros((90, 120), np.uint8)
    mask[30:60, 40:80] = 255
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((90, 120), np.uint8))
    cv2.imwrite(str(tmp_path / "a_mask.png"), mask)
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((90, 120), np.uint8))
    cv2.imwrite(str(tmp_path / "b_mask.png"), np.zeros((90, 120), np.uint8))
    report = evaluate_samples(_Oracle(mask.astype(np.float32) / 255), collect_samples(tmp_path))
    rows = {r["file"]: r for r in report.model.rows}
    assert rows["a.png"]["dice"] > 0.9 and rows["a.png"]["lesion"]
    assert rows["b.png"]["dice"] == 0.0 and rows["b.png"]["hd95"] != rows["b.png"]["hd95"]  # NaN
    summary = report.summary()["model"]
    assert summary["lesion_images"] == 1 and summary["dice_lesion_mean"] > 0.9
    assert summary["hd95_n"] == 1


def test_onnx_and_run_score_alike_and_ktc_is_written(tiny_run: Path, tiny_onnx: Path, phantom_set: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    report = evaluate(tiny_onnx, phantom_set / "images", phantom_set / "masks", reference=tiny_run, device="cpu",
                      out=out)
    summary = report.summary()
    assert summary["model"]["images"] == 24
    assert summary["model"]["dice_mean"] == pytest.approx(summary["reference"]["dice_mean"], abs=0.01)
    assert summary["ktc"] == pytest.approx(1.0, abs=0.02)
    written = json.loads(out.read_text())
    assert len(written["images"]) == 24 and "ref_dice" in written["images"][0]
    assert out.with_suffix(".csv").read_text().startswith("file,dice,iou,hd95")
