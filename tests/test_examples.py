"""examples/segment_stream.py, which needs only onnxruntime, numpy and opencv, segments a video like
`nakt predict` does, from an .onnx file or its .ort twin (`nakt export --format ort`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.images import read_gray
from nakt_edge.errors import OutputExistsError
from nakt_edge.export.exporter import export_model

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "segment_stream.py"


def test_the_stream_example_matches_nakt_predict_on_onnx_and_ort(tiny_run: Path, phantom_set: Path,
                                                                  tmp_path: Path) -> None:
    result = export_model(tiny_run, tmp_path / "student.onnx", ort_format=True)
    assert result.ort_path == tmp_path / "student.ort" and result.ort_parity["same_masks"]
    (tmp_path / "student.onnx").rename(tmp_path / "kept.onnx")
    with pytest.raises(OutputExistsError, match="student.ort"):  # the .ort twin is guarded too
        export_model(tiny_run, tmp_path / "student.onnx", ort_format=True)
    (tmp_path / "kept.onnx").rename(tmp_path / "student.onnx")
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"FFV1"), 10, (64, 64), True)
    for image in sorted((phantom_set / "images").iterdir())[:5]:
        writer.write(cv2.cvtColor(np.round(read_gray(image) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))
    writer.release()
    predicted = runner.invoke(app, ["predict", str(tmp_path / "student.onnx"), str(clip), "--out",
                                    str(tmp_path / "pred"), "--device", "cpu"])
    assert predicted.exit_code == 0, predicted.output
    for model in ("student.onnx", "student.ort"):
        masks = tmp_path / f"masks-{model}"
        done = subprocess.run([sys.executable, str(EXAMPLE), str(tmp_path / model), "--source", str(clip), "--out",
                               str(tmp_path / f"{model}.mp4"), "--masks", str(masks)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "5 frames" in done.stdout and "frames/s" in done.stdout
        for index in range(5):
            ours = cv2.imread(str(masks / f"frame_{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
            theirs = cv2.imread(str(tmp_path / "pred" / "masks" / f"clip_f{index:05d}.png"), cv2.IMREAD_GRAYSCALE)
            assert (ours == theirs).mean() >= 0.999
