from __future__ import annotations

import json
from pathlib import Path

import pytest

from nakt_edge.config import LabelConfig, TrainConfig
from nakt_edge.errors import InputError
from nakt_edge.labeling.labeler import label
from nakt_edge.training.distill import distill
from nakt_edge.training.finetune import finetune
from nakt_edge.training.train import train

CONFIG = TrainConfig(size=64, epochs=1, batch_size=4, lr=1e-3, device="cpu")


@pytest.fixture(scope="module")
def pseudo_set(tiny_onnx: Path, phantom_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pseudo") / "set"
    label([tiny_onnx], phantom_set / "images", out, LabelConfig(size=64, device="cpu", filter=False))
    return out


def test_distill_trains_on_pseudo_masks_and_records_lineage(pseudo_set: Path, tiny_onnx: Path,
                                                            tmp_path: Path) -> None:
    result = distill(pseudo_set, "attention_unet", tmp_path / "student", width=0.125, config=CONFIG)
    meta = json.loads((tmp_path / "student" / "model.json").read_text())
    assert meta["task"] == "distill" and meta["model"]["arch"] == "attention_unet"
    assert meta["config"]["hard_targets"] is False  # soft targets by default
    lineage = meta["lineage"]
    assert lineage["teachers"][0]["sha256"] and lineage["pseudo_counts"]["labeled"] == 24
    assert lineage["targets"] == "soft" and result.epochs_done == 1
    assert meta["metrics"]["train_images"] + meta["metrics"]["val_images"] == 24


def test_hard_targets_and_real_validation_labels(pseudo_set: Path, phantom_set: Path, tmp_path: Path) -> None:
    distill(pseudo_set, "unet", tmp_path / "s", width=0.125, config=CONFIG, targets="hard",
            val_images=phantom_set / "images", val_masks=phantom_set / "masks")
    meta = json.loads((tmp_path / "s" / "model.json").read_text())
    assert meta["config"]["hard_targets"] is True and meta["data"]["validation"] == "real labels"
    assert meta["metrics"]["train_images"] == 24 and meta["metrics"]["val_images"] == 24


def test_a_set_that_keeps_nothing_is_refused_unless_excluded_are_included(tiny_onnx: Path, phantom_set: Path,
                                                                          tmp_path: Path) -> None:
    strict = tmp_path / "strict"
    label([tiny_onnx], phantom_set / "images", strict, LabelConfig(size=64, device="cpu", min_pixels=10**6))
    with pytest.raises(InputError, match="keeps no image"):
        distill(strict, "unet", tmp_path / "s", width=0.125, config=CONFIG)
    result = distill(strict, "unet", tmp_path / "s", width=0.125, config=CONFIG, include_excluded=True)
    assert result.epochs_done == 1


def test_finetune_continues_the_student_on_the_same_subset_as_scratch(pseudo_set: Path, phantom_set: Path,
                                                                     tmp_path: Path) -> None:
    distill(pseudo_set, "sdu_net", tmp_path / "student", width=0.125, config=CONFIG)
    tuned = finetune(tmp_path / "student", phantom_set / "images", phantom_set / "masks", tmp_path / "tuned",
                     config=CONFIG.with_(epochs=2), limit=10)
    scratch = train(phantom_set / "images", phantom_set / "masks", "sdu_net", tmp_path / "scratch", width=0.125,
                    config=CONFIG, limit=10)
    tuned_meta = json.loads((tmp_path / "tuned" / "model.json").read_text())
    scratch_meta = json.loads((tmp_path / "scratch" / "model.json").read_text())
    assert tuned_meta["task"] == "finetune" and tuned_meta["lineage"]["base_task"] == "distill"
    assert tuned_meta["data"]["files"] == scratch_meta["data"]["files"] and len(tuned_meta["data"]["files"]) == 10
    assert tuned.epochs_done == 2 and scratch.epochs_done == 1


def test_validation_keeps_few_pixel_rows_but_training_does_not(tmp_path: Path) -> None:
    from nakt_edge.labeling.pseudo_set import PseudoRow, PseudoSet
    from nakt_edge.training.distill import pseudo_split

    reasons = ["kept"] * 10 + ["few_pixels"] * 6 + ["high_entropy"] * 4 + ["unreadable: x"] * 2
    rows = [PseudoRow(f"{i}.png", str(i), 0, 0.0, 1.0, r == "kept", r) for i, r in enumerate(reasons)]
    pseudo = PseudoSet(tmp_path, rows, {}, tmp_path)
    train, val = pseudo_split(pseudo, 0.5, seed=0)
    reason_of = {r.stem: r.reason for r in rows}
    assert {reason_of[s.stem] for s in train} == {"kept"}
    val_reasons = {reason_of[s.stem] for s in val}
    assert val_reasons <= {"kept", "few_pixels"} and "few_pixels" in val_reasons
    assert not {s.stem for s in train} & {s.stem for s in val}
    everything, _ = pseudo_split(pseudo, 0.0, seed=0, include_excluded=True)
    assert len(everything) == 20
