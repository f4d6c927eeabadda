"""DICOM folders as data for label, train, distill, evaluate and bench, against an independent path: the
same frames saved losslessly as PNG files named like the items. Both folders must give the same result."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.datasets import split_by_group
from nakt_edge.data.pairing import collect_samples, list_images
from tests.dicom_files import write_dicom

runner = CliRunner()


@pytest.fixture(scope="module")
def folders(phantom_set: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """dicom/: a 12-frame MONOCHROME2 loop, an 8-frame YBR_FULL_422 loop, 4 single frames; png/: the same
    pixels as PNG files; masks/: the phantoms' masks named by item stem."""
    root = tmp_path_factory.mktemp("dicom-folders")
    images = sorted((phantom_set / "images").glob("*.png"))
    gray = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in images])
    masks = [cv2.imread(str(phantom_set / "masks" / p.name), cv2.IMREAD_GRAYSCALE) for p in images]
    dicom, png, mask_dir = root / "dicom", root / "png", root / "masks"
    for folder in (dicom, png, mask_dir):
        folder.mkdir()
    write_dicom(dicom / "loopA.dcm", gray[:12], spacing_mm=(0.1, 0.1))
    write_dicom(dicom / "loopB.dcm", np.repeat(gray[12:20, ..., None], 3, axis=3), "YBR_FULL_422")
    stems = [f"loopA_f{i:05d}" for i in range(12)] + [f"loopB_f{i:05d}" for i in range(8)]
    for index in range(20, 24):
        write_dicom(dicom / f"still{index}.dcm", gray[index:index + 1])
        stems.append(f"still{index}")
    for stem, frame, mask in zip(stems, gray, masks):
        cv2.imwrite(str(png / f"{stem}.png"), frame)
        cv2.imwrite(str(mask_dir / f"{stem}.png"), mask)
    return {"dicom": dicom, "png": png, "masks": mask_dir, "root": root}


def _ok(*args: str | Path) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def _label(teacher: Path, images: Path, out: Path) -> None:
    _ok("label", "--teacher", teacher, "--images", images, "--out", out, "--size", "64", "--device", "cpu",
        "--threads", "1")


def test_label_on_a_dicom_folder_writes_the_masks_of_its_png_twin(tiny_onnx: Path, folders: dict[str, Path]) -> None:
    root = folders["root"]
    _label(tiny_onnx, folders["dicom"], root / "label-dicom")
    _label(tiny_onnx, folders["png"], root / "label-png")
    masks = sorted(p.name for p in (root / "label-png" / "masks").iterdir())
    assert len(masks) == 24 and masks == sorted(p.name for p in (root / "label-dicom" / "masks").iterdir())
    for name in masks:
        dicom_mask, png_mask = (root / f"label-{kind}" / "masks" / name for kind in ("dicom", "png"))
        assert dicom_mask.read_bytes() == png_mask.read_bytes(), name
    with (root / "label-dicom" / "manifest.csv").open() as handle:
        files = {row["stem"]: row["file"] for row in csv.DictReader(handle)}
    assert files["loopA_f00003"] == "loopA.dcm#3" and files["still21"] == "still21.dcm"


def test_distill_trains_on_a_pseudo_set_labeled_from_dicom(tiny_onnx: Path, folders: dict[str, Path]) -> None:
    root = folders["root"]
    if not (root / "label-dicom" / "summary.json").is_file():
        _label(tiny_onnx, folders["dicom"], root / "label-dicom")
    _ok("distill", "--pseudo", root / "label-dicom", "--arch", "unet", "--width", "0.125", "--out",
        root / "student", "--size", "64", "--epochs", "1", "--device", "cpu")
    assert (root / "student" / "model.safetensors").is_file()


def test_evaluate_and_bench_score_a_dicom_folder_as_its_png_twin(tiny_onnx: Path, folders: dict[str, Path]) -> None:
    root, scores = folders["root"], {}
    for kind in ("dicom", "png"):
        _ok("evaluate", tiny_onnx, "--images", folders[kind], "--masks", folders["masks"], "--device", "cpu",
            "--out", root / f"eval-{kind}.json")
        stem_of = {item.name: item.stem for item in list_images(folders[kind])}
        rows = json.loads((root / f"eval-{kind}.json").read_text())["images"]
        scores[kind] = {stem_of[row["file"]]: row["dice"] for row in rows}
    assert len(scores["dicom"]) == 24 and scores["dicom"] == pytest.approx(scores["png"], abs=1e-9)
    _ok("bench", tiny_onnx, "--runtime", "ort-cpu", "--threads", "1", "--images", folders["dicom"],
        "--masks", folders["masks"], "--min-time", "0.05", "--out", root / "bench.json")
    (row,) = json.loads((root / "bench.json").read_text())["rows"]
    assert row["dice"] == pytest.approx(np.mean(list(scores["png"].values())), abs=1e-6)


def test_train_on_a_dicom_folder_keeps_each_loop_on_one_side_of_the_split(folders: dict[str, Path]) -> None:
    samples = collect_samples(folders["dicom"], folders["masks"])
    train, val = split_by_group([s.group for s in samples], 0.3, seed=0)
    loops_in = [{samples[i].image.path.name for i in side} for side in (train, val)]
    assert not loops_in[0] & loops_in[1] and len(list_images(folders["dicom"])) == 24
    _ok("train", "--images", folders["dicom"], "--masks", folders["masks"], "--arch", "unet", "--width", "0.125",
        "--out", folders["root"] / "run", "--size", "64", "--epochs", "1", "--device", "cpu")
    assert (folders["root"] / "run" / "model.safetensors").is_file()
