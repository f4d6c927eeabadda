"""Faults while labeling: SIGKILL at random instants and a full disk, each followed by a re-run that must
end exactly like an uninterrupted run (one manifest row per image, whole masks, the same bytes).

(Training's SIGKILL/resume and damaged-checkpoint faults live in tests/training/test_crash_consistency.py.)
"""

from __future__ import annotations

import csv
import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.phantoms import write_phantom_set

runner = CliRunner()
IMAGES = 640  # enough that a kill after 460 rows still lands mid-run on a fast host


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fault-images")
    write_phantom_set(out, IMAGES, "breast", 64, seed=21)
    return out / "images"


@pytest.fixture(scope="module")
def uninterrupted(tiny_onnx: Path, images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "pseudo"
    result = runner.invoke(app, _args(tiny_onnx, images, out))
    assert result.exit_code == 0, result.output
    return out


def _args(teacher: Path, images: Path, out: Path) -> list[str]:
    return ["label", "--teacher", str(teacher), "--images", str(images), "--out", str(out), "--size", "64",
            "--batch", "2", "--threads", "1", "--device", "cpu"]


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


def _assert_same_as(out: Path, reference: Path) -> None:
    rows = _rows(out)
    assert len(rows) == len({r["stem"] for r in rows}) == len(_rows(reference))
    expected = {r["stem"]: r for r in _rows(reference)}
    assert all(r == expected[r["stem"]] for r in rows)
    for mask in (reference / "masks").iterdir():
        assert (out / "masks" / mask.name).read_bytes() == mask.read_bytes(), mask.name
    assert not list(out.rglob("*.tmp")) and not (out / ".nakt.lock").exists()


def _manifest_lines(out: Path) -> int:
    try:
        return (out / "manifest.csv").read_bytes().count(b"\n")
    except OSError:
        return 0


def test_sigkill_during_label_then_rerun_equals_an_uninterrupted_run(tiny_onnx: Path, images: Path,
                                                                     uninterrupted: Path, tmp_path: Path) -> None:
    """Three kills, each once the manifest holds a random number of rows (so always mid-run, on any host speed)."""
    out = tmp_path / "pseudo"
    chance = random.Random(5)
    for kill in range(3):
        target = chance.randint(10, 150) + 150 * kill  # rows before this kill (of IMAGES)
        process = subprocess.Popen([sys.executable, "-m", "nakt_edge", *_args(tiny_onnx, images, out)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None and _manifest_lines(out) < target:
            time.sleep(0.002)
        assert process.poll() is None, f"labeling finished before the kill at row {target}"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        for mask in (out / "masks").glob("*.png") if (out / "masks").is_dir() else []:
            assert cv2.imread(str(mask), cv2.IMREAD_UNCHANGED) is not None, f"truncated mask {mask.name}"
    resumed = runner.invoke(app, _args(tiny_onnx, images, out))
    assert resumed.exit_code == 0, resumed.output
    _assert_same_as(out, uninterrupted)


def test_disk_full_while_labeling_is_one_line_and_resumable(tiny_onnx: Path, images: Path, uninterrupted: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC from the 40th mask write on: exit 2 naming the file and the fix; the re-run completes the set."""
    import nakt_edge.labeling.labeler as labeler

    real_write, calls = labeler.write_png, []

    def filling_disk(path: Path, image: object) -> Path:
        calls.append(path)
        if len(calls) >= 40:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write(path, image)

    out = tmp_path / "pseudo"
    monkeypatch.setattr(labeler, "write_png", filling_disk)
    full = runner.invoke(app, _args(tiny_onnx, images, out))
    assert full.exit_code == 2, full.output
    error = [line for line in full.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "No space left on device" in error[0] and "re-running the command resumes" in error[0]
    assert "Traceback" not in full.output and 0 < len(_rows(out)) < IMAGES
    monkeypatch.setattr(labeler, "write_png", real_write)
    resumed = runner.invoke(app, _args(tiny_onnx, images, out))
    assert resumed.exit_code == 0, resumed.output
    _assert_same_as(out, uninterrupted)


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_a_real_full_tmpfs_while_labeling(tiny_onnx: Path, images: Path, uninterrupted: Path,
                                          tmp_path: Path) -> None:
    """The same on a real 96 KiB tmpfs (needs the right to mount: root on a Linux CI machine)."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "96k"):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        out = disk / "pseudo"
        full = subprocess.run([sys.executable, "-m", "nakt_edge", *_args(tiny_onnx, images, out)],
                              capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
        assert full.returncode == 2, full.stderr
        assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
        done = len(_rows(out))
        assert 0 < done < IMAGES
        assert subprocess.run(["mount", "-o", "remount,size=8m", str(disk)]).returncode == 0  # space freed
        resumed = runner.invoke(app, _args(tiny_onnx, images, out))
        assert resumed.exit_code == 0, resumed.output
        _assert_same_as(out, uninterrupted)
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def test_a_read_only_file_system_is_one_line_and_nothing_is_written(tiny_onnx: Path, images: Path,
                                                                    tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)]).returncode == 0
        result = runner.invoke(app, _args(tiny_onnx, images, disk / "pseudo"))
        assert result.exit_code == 2, result.output
        error = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(error) == 1 and "Read-only file system" in error[0] and "writable" in error[0], result.output
        assert not list(disk.iterdir())
    finally:
        subprocess.run(["umount", "-l", str(disk)])
