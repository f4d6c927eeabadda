from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nakt_edge.config import TrainConfig
from nakt_edge.errors import InputError, OutputExistsError
from nakt_edge.training.run import load_run
from nakt_edge.training.train import train

CONFIG = TrainConfig(size=32, epochs=2, batch_size=4, lr=1e-3, device="cpu")


def test_run_directory_holds_weights_metadata_and_history(tiny_run: Path) -> None:
    meta = json.loads((tiny_run / "model.json").read_text())
    assert meta["model"]["arch"] == "unet" and meta["input"] == {"size": 64, "channels": 1, "normalize": "unit",
                                                                "layout": "NCHW"}
    assert meta["config"]["lr"] == 1e-3 and meta["status"] == "finished"
    rows = list(csv.DictReader((tiny_run / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    model, info = load_run(tiny_run)
    assert info.size == 64 and not model.training
    assert meta["metrics"]["val_images"] > 0 and 0 <= meta["metrics"]["best_val_dice"] <= 1


def test_existing_run_needs_force_or_resume(phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(phantom_set / "images", phantom_set / "masks", "unet", out, width=0.125, config=CONFIG.with_(epochs=1))
    with pytest.raises(OutputExistsError):
        train(phantom_set / "images", phantom_set / "masks", "unet", out, width=0.125, config=CONFIG)
    train(phantom_set / "images", phantom_set / "masks", "unet", out, width=0.125, config=CONFIG, force=True)


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(phantom_set: Path, tmp_path: Path) -> None:
    args = (phantom_set / "images", phantom_set / "masks", "sdu_net")
    train(*args, tmp_path / "straight", width=0.125, config=CONFIG)
    first = train(*args, tmp_path / "resumed", width=0.125, config=CONFIG.with_(epochs=1))
    assert first.epochs_done == 1
    second = train(*args, tmp_path / "resumed", width=0.125, config=CONFIG, resume=True)
    assert second.resumed_from == 1 and second.epochs_done == 2
    a = load_file(str(tmp_path / "straight" / "last.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "last.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    # resuming a finished run does no more work
    again = train(*args, tmp_path / "resumed", width=0.125, config=CONFIG, resume=True)
    assert again.resumed_from == 2 and len(again.history) == 2


@pytest.mark.gpu
def test_training_on_cuda_with_amp(phantom_set: Path, tmp_path: Path) -> None:
    result = train(phantom_set / "images", phantom_set / "masks", "unet", tmp_path / "gpu", width=0.125,
                   config=CONFIG.with_(device="cuda", epochs=1))
    meta = json.loads((tmp_path / "gpu" / "model.json").read_text())
    assert result.epochs_done == 1 and meta["effective"]["amp"] == "bf16" and meta["effective"]["pin_memory"]
    assert meta["effective"]["channels_last"]


def test_amp_on_the_cpu_auto_is_off_bf16_runs_fp16_is_refused(phantom_set: Path, tmp_path: Path) -> None:
    args = (phantom_set / "images", phantom_set / "masks", "unet")
    for amp, expected in (("auto", "off"), ("bf16", "bf16")):
        result = train(*args, tmp_path / amp, width=0.125, config=CONFIG.with_(device="cpu", amp=amp, epochs=1))
        effective = json.loads((tmp_path / amp / "model.json").read_text())["effective"]
        assert effective["amp"] == expected and effective["device"] == "cpu" and result.epochs_done == 1
        assert result.history[0]["train_loss"] == result.history[0]["train_loss"]  # finite, not NaN
    with pytest.raises(InputError, match="--amp fp16 needs a CUDA device"):
        train(*args, tmp_path / "fp16", width=0.125, config=CONFIG.with_(device="cpu", amp="fp16"))
    assert not (tmp_path / "fp16").exists()  # refused before the run folder exists
    with pytest.raises(InputError, match="--amp must be one of"):
        CONFIG.with_(amp="fp8").validate()


def test_runs_written_with_a_boolean_amp_still_load() -> None:
    assert TrainConfig.from_dict({"amp": True}).amp == "auto" and TrainConfig.from_dict({"amp": False}).amp == "off"


def test_compiled_training_matches_eager_training(phantom_set: Path, tmp_path: Path) -> None:
    """torch.compile changes how the forward runs, not what it computes; model.json says it was used."""
    config = CONFIG.with_(epochs=1, max_steps_per_epoch=2, augment=False)
    eager = train(phantom_set / "images", phantom_set / "masks", "unet", tmp_path / "eager", width=0.125,
                  config=config)
    compiled = train(phantom_set / "images", phantom_set / "masks", "unet", tmp_path / "compiled", width=0.125,
                     config=config.with_(compile=True))
    meta = json.loads((tmp_path / "compiled" / "model.json").read_text())
    assert meta["effective"]["compile"] and not meta["effective"]["channels_last"]  # NHWC only on CUDA
    assert compiled.history[0]["train_loss"] == pytest.approx(eager.history[0]["train_loss"], rel=1e-4)
