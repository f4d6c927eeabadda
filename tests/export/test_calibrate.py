"""`nakt calibrate` and `nakt export --calibrate`: the temperature is fitted, stored, applied by the runtimes,
masks stay the same, the OOD reference is stored and read by evaluate and predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.images import read_gray
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.runtime.predictor import OnnxPredictor

runner = CliRunner()


def _ok(*args: str | Path) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_calibrate_stores_a_temperature_the_runtimes_apply_and_keeps_the_masks(tiny_onnx: Path, phantom_set: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "calibrated.onnx"
    output = _ok("calibrate", tiny_onnx, "--calibrate", phantom_set / "images", "--calibrate-masks",
                 phantom_set / "masks", "--out", out)
    assert "temperature" in output and "ECE" in output
    meta = OnnxSegmenter(out, device="cpu").metadata
    report = json.loads(meta["nakt.calibration"])
    temperature = float(meta["nakt.temperature"])
    assert report["images"] == 24 and report["bce_after"] <= report["bce_before"] and temperature != 1.0
    images = np.stack([read_gray(p) for p in sorted((phantom_set / "images").iterdir())[:6]])
    raw_model, calibrated = OnnxPredictor(tiny_onnx, device="cpu"), OnnxPredictor(out, device="cpu")
    segmenter = calibrated.segmenter
    logits = segmenter.foreground_logits(segmenter.run(segmenter.preprocess(images)))
    np.testing.assert_allclose(calibrated.predict(images), 1 / (1 + np.exp(-logits / temperature)), atol=1e-5)
    np.testing.assert_array_equal(raw_model.predict(images) > raw_model.threshold,
                                  calibrated.predict(images) > calibrated.threshold)
    again = runner.invoke(app, ["calibrate", str(out), "--calibrate", str(phantom_set / "images"), "--out",
                                str(tmp_path / "twice.onnx")])
    assert again.exit_code == 2 and "calibrated already" in again.output
    exists = runner.invoke(app, ["calibrate", str(tiny_onnx), "--calibrate", str(phantom_set / "images"),
                                 "--calibrate-masks", str(phantom_set / "masks"), "--out", str(out)])
    assert exists.exit_code == 2 and "--force" in exists.output


def test_evaluate_reports_ece_and_predict_the_ood_distance(tiny_onnx: Path, phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "calibrated.onnx"
    _ok("calibrate", tiny_onnx, "--calibrate", phantom_set / "images", "--calibrate-masks", phantom_set / "masks",
        "--out", out)
    eces = {}
    for model in (tiny_onnx, out):
        report = tmp_path / f"{model.stem}.json"
        _ok("evaluate", model, "--images", phantom_set / "images", "--masks", phantom_set / "masks", "--device",
            "cpu", "--out", report)
        data = json.loads(report.read_text())
        eces[model.stem] = data["model"]["ece"]
        assert report.with_name(f"{report.stem}.reliability.png").is_file()
    assert eces["calibrated"] < eces["tiny"]  # on the fitting set itself
    assert "ood_distance" in json.loads((tmp_path / "calibrated.json").read_text())["images"][0]
    _ok("predict", out, phantom_set / "images", "--out", tmp_path / "pred", "--device", "cpu")
    first = next((tmp_path / "pred").glob("*.csv")).read_text().splitlines()
    header, row = first[0].split(","), first[1].split(",")
    assert float(row[header.index("ood_distance")]) >= 0 and row[header.index("out_of_domain")] in ("0", "1")


def test_export_calibrates_on_a_pseudo_labeled_set(tiny_run: Path, tiny_onnx: Path, phantom_set: Path,
                                                   tmp_path: Path) -> None:
    _ok("label", "--teacher", tiny_onnx, "--images", phantom_set / "images", "--out", tmp_path / "pseudo", "--size",
        "64", "--device", "cpu", "--no-filter")
    output = _ok("export", tiny_run, "--out", tmp_path / "student.onnx", "--calibrate", tmp_path / "pseudo")
    assert "calibration" in output
    report = json.loads(OnnxSegmenter(tmp_path / "student.onnx", device="cpu").metadata["nakt.calibration"])
    assert report["kind"] == "pseudo" and report["images"] == 24
