"""One run per output folder, clean signals, and refused runs that leave the folder as it was (CLI level)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.phantoms import write_phantom_set

runner = CliRunner()


@pytest.fixture(scope="module")
def many_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("many")
    write_phantom_set(out, 240, "breast", 64, seed=9)
    return out / "images"


def _label_args(teacher: Path, images: Path, out: Path) -> list[str]:
    return ["label", "--teacher", str(teacher), "--images", str(images), "--out", str(out), "--size", "64",
            "--batch", "1", "--threads", "1", "--device", "cpu", "--no-filter"]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nakt_edge", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})


def _wait_for_rows(out: Path, rows: int, process: subprocess.Popen) -> None:
    for _ in range(3000):
        manifest = out / "manifest.csv"
        if manifest.is_file() and manifest.read_text().count("\n") > rows:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    raise AssertionError("the first run never got going")


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_a_second_label_run_on_a_held_folder_is_refused_and_the_first_completes(
        tiny_onnx: Path, many_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "pseudo"
    first = _start(_label_args(tiny_onnx, many_images, out))
    _wait_for_rows(out, 2, first)
    second = runner.invoke(app, _label_args(tiny_onnx, many_images, out))
    assert second.exit_code == 2
    line = second.output.strip()
    assert line.count("\n") == 0 and "in use by another nakt run" in line and f"PID {first.pid}" in line
    assert "nakt label" in line
    assert first.wait(timeout=120) == 0
    rows = _rows(out)
    assert len(rows) == 240 and len({r["stem"] for r in rows}) == 240


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_label_with_a_resumable_set(tiny_onnx: Path, many_images: Path, tmp_path: Path,
                                                   sig: int, code: int) -> None:
    out = tmp_path / "pseudo"
    process = _start(_label_args(tiny_onnx, many_images, out))
    _wait_for_rows(out, 5, process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert err.strip().count("\n") == 0 and "re-run the same command to resume" in err and "Traceback" not in err
    done = len(_rows(out))
    assert 0 < done < 240
    assert not list(out.rglob("*.tmp")) and not (out / ".nakt.lock").exists()
    masks = {p.stem for p in (out / "masks").iterdir()}
    assert {r["stem"] for r in _rows(out)} <= masks  # every row has its whole mask
    resumed = runner.invoke(app, _label_args(tiny_onnx, many_images, out))
    assert resumed.exit_code == 0, resumed.output
    assert len(_rows(out)) == 240 and f"{done} already done" in resumed.output.replace("\n", " ")


def test_a_signal_stops_training_and_says_how_to_resume(phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    process = _start(["train", "--images", str(phantom_set / "images"), "--masks", str(phantom_set / "masks"),
                      "--arch", "unet", "--width", "0.125", "--size", "64", "--epochs", "500", "--device", "cpu",
                      "--out", str(out)])
    for _ in range(6000):
        if (out / "last.safetensors").is_file():
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "with --resume" in err and "Traceback" not in err
    assert not (out / ".nakt.lock").exists()


@pytest.mark.parametrize("bad", [["--fusion", "staplee"], ["--max-entropy", "-1"], ["--batch", "0"],
                                 ["--tta", "rotate"]], ids=["fusion", "entropy", "batch", "tta"])
def test_a_refused_label_run_leaves_the_folder_as_it_was(tiny_onnx: Path, phantom_set: Path, tmp_path: Path,
                                                         bad: list[str]) -> None:
    fresh = tmp_path / "fresh"
    result = runner.invoke(app, _label_args(tiny_onnx, phantom_set / "images", fresh) + bad)
    assert result.exit_code == 2 and not fresh.exists()
    done = tmp_path / "done"
    assert runner.invoke(app, _label_args(tiny_onnx, phantom_set / "images", done)).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in done.rglob("*")}
    assert runner.invoke(app, _label_args(tiny_onnx, phantom_set / "images", done) + bad).exit_code == 2
    assert {p: p.stat().st_mtime_ns for p in done.rglob("*")} == before
