"""`nakt predict` on what devices produce: images, a DICOM cine loop with spacing, a video; resume; bad files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.images import read_gray
from nakt_edge.runtime.predictor import OnnxPredictor
from tests.dicom_files import write_dicom

runner = CliRunner()


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_predict_on_images_a_dicom_loop_and_a_video(tiny_onnx: Path, phantom_set: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    images = sorted((phantom_set / "images").iterdir())[:4]
    for image in images[:2]:
        shutil.copy(image, inputs / image.name)
    loop = np.stack([np.round(read_gray(p) * 255).astype(np.uint8) for p in images])
    write_dicom(inputs / "loop.dcm", loop, spacing_mm=(0.1, 0.2))
    writer = cv2.VideoWriter(str(inputs / "clip.avi"), cv2.VideoWriter_fourcc(*"FFV1"), 10, (64, 64), True)
    for frame in loop[:3]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    out = tmp_path / "out"
    args = ["predict", str(tiny_onnx), str(inputs), "--out", str(out), "--overlay", "--device", "cpu", "--batch", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "CPUExecutionProvider" in result.output and "frames/s" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 + 4 + 3 and summary["inputs_done"] == 4 and summary["p95_ms"] >= summary["p50_ms"]
    # every frame is what the model says about the same pixels given directly
    expected = OnnxPredictor(tiny_onnx, device="cpu").predict(loop.astype(np.float32) / 255) > 0.5
    for index in range(4):
        mask = cv2.imread(str(out / "masks" / f"loop_f{index:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        np.testing.assert_array_equal(mask, expected[index])
    rows = _csv(out / "loop.csv")
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3]
    for row, mask in zip(rows, expected):
        assert int(row["lesion_pixels"]) == int(mask.sum())
        assert float(row["lesion_mm2"]) == round(int(mask.sum()) * 0.1 * 0.2, 4)
    assert _csv(out / "clip.csv")[0]["lesion_mm2"] == ""  # a video has no spacing
    stem = images[0].stem
    assert (out / "masks" / f"{stem}.png").is_file() and (out / "overlays" / f"{stem}.png").is_file()
    video = cv2.VideoCapture(str(out / "overlays" / "loop.mp4"))
    assert video.isOpened() and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    video.release()
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.mp4"))
    again = runner.invoke(app, args)  # a re-run resumes: every input is done
    assert again.exit_code == 0 and json.loads((out / "summary.json").read_text())["frames"] == 0


def test_a_bad_file_is_reported_and_the_rest_goes_on(tiny_onnx: Path, phantom_set: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.dcm").write_bytes(b"\x00" * 200)
    good = sorted((phantom_set / "images").iterdir())[0]
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(tiny_onnx), str(tmp_path / "bad.dcm"), str(good), "--out", str(out),
                                 "--device", "cpu"])
    assert result.exit_code == 1 and "bad.dcm" in result.output and "Traceback" not in result.output
    assert (out / f"{good.stem}.csv").is_file() and not (out / "bad.csv").exists()


def test_predict_refuses_a_training_run(tiny_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", str(tiny_run), str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "nakt export" in result.output


def test_predict_on_a_native_ybr_full_422_loop_sees_every_frame_right(tiny_onnx: Path, phantom_set: Path,
                                                                       tmp_path: Path) -> None:
    """The loop format scanners write (chroma subsampled, uncompressed), spacing from the ultrasound region."""
    images = sorted((phantom_set / "images").iterdir())[:5]
    gray = np.stack([np.round(read_gray(p) * 255).astype(np.uint8) for p in images])
    loop = write_dicom(tmp_path / "cine.dcm", np.repeat(gray[..., None], 3, axis=3), "YBR_FULL_422",
                       region_delta_cm=(0.01, 0.02))
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(tiny_onnx), str(loop), "--out", str(out), "--overlay", "--device",
                                 "cpu"])
    assert result.exit_code == 0, result.output
    expected = OnnxPredictor(tiny_onnx, device="cpu").predict(gray.astype(np.float32) / 255) > 0.5
    rows = _csv(out / "cine.csv")
    assert len(rows) == 5 and (out / "overlays" / "cine.mp4").is_file()
    for index, (row, mask) in enumerate(zip(rows, expected)):
        written = cv2.imread(str(out / "masks" / f"cine_f{index:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        np.testing.assert_array_equal(written, mask)
        assert float(row["lesion_mm2"]) == round(int(mask.sum()) * 0.1 * 0.2, 4)
