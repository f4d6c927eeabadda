"""A training run killed (SIGKILL) at random instants, then resumed, ends exactly like an uninterrupted one.

Children come from a forkserver that imported torch and the trainer once, so a run costs little
start-up, yet none inherits the test process's threads: a child forked straight from pytest, after
torch and BLAS had started thread pools, could deadlock on a lock held at fork time (seen in CI).
Each trains on one thread, like the reference run, so the weights can be compared bit for bit.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from nakt_edge.config import TrainConfig
from nakt_edge.data.phantoms import write_phantom_set

EPOCHS = 6
CONFIG = TrainConfig(size=32, epochs=EPOCHS, batch_size=4, lr=1e-3, device="cpu", val_fraction=0.25)
CHILDREN = multiprocessing.get_context("forkserver")
CHILDREN.set_forkserver_preload(["torch", "nakt_edge.training.train", "nakt_edge.training.checkpoints"])
RUN_TIMEOUT_S = 300.0  # an uninterrupted run takes a few seconds; a hung child fails the test, not CI


def _train(data: Path, out: Path, kill_inside_checkpoint_of: int | None = None) -> None:
    import torch

    from nakt_edge.training import checkpoints
    from nakt_edge.training.train import train

    torch.set_num_threads(1)
    if kill_inside_checkpoint_of is not None:
        real = checkpoints.save_file

        def dying_save(tensors, filename, metadata=None):  # noqa: ANN001, ANN202
            real(tensors, filename, metadata=metadata)  # the temp file is written, not yet renamed
            if metadata and json.loads(metadata.get("counters", "{}")).get("epoch") == kill_inside_checkpoint_of:
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoints.save_file = dying_save
    train(data / "images", data / "masks", "unet", out, width=0.125, config=CONFIG, resume=True)


def _run(data: Path, out: Path, kill_after: float | None = None, **kwargs: object) -> int | None:
    child = CHILDREN.Process(target=_train, args=(data, out), kwargs=kwargs)
    child.start()
    child.join(RUN_TIMEOUT_S if kill_after is None else kill_after)
    hung = kill_after is None and child.is_alive()
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    assert not hung, f"a training child ran past {RUN_TIMEOUT_S:.0f} s"
    return child.exitcode


def _weights(run: Path) -> dict[str, np.ndarray]:
    return load_file(str(run / "model.safetensors"))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crash-data")
    write_phantom_set(out, 16, "breast", 32, seed=5)
    return out


def test_twenty_kills_then_resume_equal_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    started = time.perf_counter()
    assert _run(data, reference) == 0
    duration = time.perf_counter() - started
    run = tmp_path / "killed"
    assert _run(data, run, kill_inside_checkpoint_of=2) == -signal.SIGKILL  # dies inside the epoch-2 commit
    assert list(run.glob(".last.safetensors.*.tmp")), "the kill should leave the temp checkpoint behind"
    rng = np.random.default_rng(0)
    epochs_seen = []
    for instant in rng.uniform(0.0, duration, 20):
        _run(data, run, kill_after=float(instant))
        history = json.loads((run / "model.json").read_text())["history"] if (run / "model.json").is_file() else []
        assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
        epochs_seen.append(len(history))
    assert _run(data, run) == 0
    final = json.loads((run / "model.json").read_text())
    assert [row["epoch"] for row in final["history"]] == list(range(1, EPOCHS + 1))
    assert (run / "history.csv").read_text().count("\n") == EPOCHS + 1
    want = json.loads((reference / "model.json").read_text())
    assert final["metrics"]["best_epoch"] == want["metrics"]["best_epoch"]
    assert [r["val_dice"] for r in final["history"]] == [r["val_dice"] for r in want["history"]]
    got, ref = _weights(run), _weights(reference)
    assert got.keys() == ref.keys() and all(np.array_equal(got[k], ref[k]) for k in ref)
    last, ref_last = load_file(str(run / "last.safetensors")), load_file(str(reference / "last.safetensors"))
    assert all(np.array_equal(last[k], ref_last[k]) for k in ref_last)  # Adam moments too
    assert not list(run.rglob("*.tmp")) and not (run / ".nakt.lock").exists()
    assert max(epochs_seen) >= 1  # some kills landed after a committed epoch


def test_a_damaged_checkpoint_is_an_error_not_a_restart(data: Path, tmp_path: Path) -> None:
    from nakt_edge.errors import ModelSpecError
    from nakt_edge.training.train import train

    run = tmp_path / "r"
    assert _run(data, run) == 0
    (run / "last.safetensors").write_bytes((run / "last.safetensors").read_bytes()[:200])
    with pytest.raises(ModelSpecError, match="checkpoint is damaged"):
        train(data / "images", data / "masks", "unet", run, width=0.125, config=CONFIG.with_(epochs=EPOCHS + 1),
              resume=True)
