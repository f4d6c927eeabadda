"""`torchrun --nproc_per_node 2 -m nakt_edge distill`: gloo DDP on the CPU matches one process and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nakt_edge.config import LabelConfig
from nakt_edge.data.phantoms import write_phantom_set
from nakt_edge.labeling.labeler import label
from nakt_edge.training.distributed import ProcessGroup, join_process_group

RECIPE = ["--arch", "unet", "--width", "0.125", "--size", "64", "--lr", "0.003", "--device", "cpu"]


@pytest.fixture(scope="module")
def pseudo(foreign_teachers: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """96 breast phantoms labeled by a random U-Net teacher (every image kept; 64-91% of each mask foreground,
    a function the student has to learn: the 2-epoch tiny teacher predicts empty masks, which any student
    matches with Dice 1)."""
    root = tmp_path_factory.mktemp("ddp")
    write_phantom_set(root / "phantoms", 96, "breast", 64, seed=11)
    label([foreign_teachers["probabilities"]], root / "phantoms" / "images", root / "pseudo",
          LabelConfig(size=64, filter=False, device="cpu", threads=1))
    return root / "pseudo"


def _distill(pseudo: Path, out: Path, processes: int, *extra: str) -> dict:
    command = [sys.executable, "-m", "nakt_edge", "distill", "--pseudo", str(pseudo), "--out", str(out), *RECIPE,
               *extra]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                   str(processes), *command[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((out / "model.json").read_text())


def test_two_gloo_processes_reach_the_dice_of_one(pseudo: Path, tmp_path: Path) -> None:
    one = _distill(pseudo, tmp_path / "one", 1, "--epochs", "8", "--batch-size", "8")
    two = _distill(pseudo, tmp_path / "two", 2, "--epochs", "8", "--batch-size", "4")
    assert two["effective"]["processes"] == 2 and two["effective"]["backend"] == "gloo"
    assert two["effective"]["global_batch_size"] == one["effective"]["global_batch_size"] == 8
    assert two["metrics"]["val_images"] == one["metrics"]["val_images"]  # the same group-aware split
    assert len(two["history"]) == 8 and (tmp_path / "two" / "model.safetensors").is_file()
    assert 0.5 < one["metrics"]["best_val_dice"] < 0.99  # learned something, and not a trivial target
    assert abs(two["metrics"]["best_val_dice"] - one["metrics"]["best_val_dice"]) <= 0.02, (
        one["metrics"], two["metrics"])


def test_a_two_process_run_resumes_in_one_process(pseudo: Path, tmp_path: Path) -> None:
    _distill(pseudo, tmp_path / "run", 2, "--epochs", "2", "--batch-size", "4")
    resumed = _distill(pseudo, tmp_path / "run", 1, "--epochs", "3", "--batch-size", "8", "--resume")
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]
    assert resumed["effective"]["processes"] == 1 and resumed["status"] == "finished"


def test_without_torchrun_there_is_no_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    group = join_process_group("cpu")
    assert group == ProcessGroup() and not group.enabled and group.is_main
    assert group.broadcast({"a": 1}) == {"a": 1} and group.sum(2.0, 3.0) == [2.0, 3.0]
