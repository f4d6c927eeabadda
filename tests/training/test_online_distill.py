"""On-the-fly distillation: the teacher labels exactly the view the student sees, the rules per view."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nakt_edge.config import LabelConfig, TrainConfig
from nakt_edge.data.datasets import ArraySet
from nakt_edge.data.pairing import collect_unlabeled
from nakt_edge.data.phantoms import write_phantom_set
from nakt_edge.errors import InputError
from nakt_edge.labeling.labeler import label
from nakt_edge.training.distill import distill
from nakt_edge.training.online_distill import TeacherInTheLoop, distill_online

CONFIG = TrainConfig(size=64, epochs=2, batch_size=4, lr=1e-3, device="cpu")


class RecordingTeacher:
    """A stand-in segmenter: foreground where the image is brighter than 0.5; remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.seen.append(images.copy())
        return (images > 0.5).astype(np.float32)


def _batch() -> torch.Tensor:
    images = torch.zeros(4, 1, 32, 32)
    images[0, :, 4:20, 4:20] = 1.0  # 256 bright pixels
    images[1, :, :8, :8] = 1.0  # 64 bright pixels
    images[2] = torch.linspace(0, 1, 32 * 32).reshape(1, 32, 32)  # half bright
    return images  # image 3 is empty


def test_the_teacher_labels_the_very_view_the_student_gets() -> None:
    teacher = RecordingTeacher()
    labeler = TeacherInTheLoop([teacher], LabelConfig(filter=False), 32, mixup=0.4, seed=3)
    labeler.begin_epoch(1)
    views, targets = labeler(_batch())
    assert len(views) == 4
    np.testing.assert_array_equal(teacher.seen[0], views[:, 0].numpy())  # blended views, not the originals
    assert not torch.equal(views, _batch())
    torch.testing.assert_close(targets[:, 0], (views[:, 0] > 0.5).float())


def test_mixup_repeats_within_an_epoch_seed() -> None:
    labeler = TeacherInTheLoop([RecordingTeacher()], LabelConfig(filter=False), 32, mixup=1.0, seed=0)
    labeler.begin_epoch(5)
    first, _ = labeler(_batch())
    labeler.begin_epoch(5)
    again, _ = labeler(_batch())
    labeler.begin_epoch(6)
    other, _ = labeler(_batch())
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_views_the_rules_exclude_are_dropped_and_counted() -> None:
    labeler = TeacherInTheLoop([RecordingTeacher()], LabelConfig(min_pixels=100), 32, hard_targets=True)
    views, targets = labeler(_batch())
    assert len(views) == 2  # the 64-px and the empty view fall below alpha = 100
    assert set(torch.unique(targets).tolist()) <= {0.0, 1.0}
    stats = labeler.take_stats()
    assert (stats["views"], stats["views_kept"]) == (4, 2) and stats["teacher_seconds"] >= 0
    assert labeler.take_stats()["views"] == 0  # counters restart


def test_validation_keeps_kept_and_few_pixel_views_but_not_uncertain_ones() -> None:
    class Uncertain(RecordingTeacher):
        def predict(self, images: np.ndarray) -> np.ndarray:
            prob = super().predict(images)
            prob[2] = np.linspace(0, 1, prob[2].size).reshape(prob[2].shape)  # a smear: 8 bits of entropy
            return prob

    images = (_batch()[:, 0].numpy() * 255).astype(np.uint8)
    arrays = ArraySet(images, np.zeros_like(images), list("abcd"), list("abcd"))
    labeled = TeacherInTheLoop([Uncertain()], LabelConfig(min_pixels=100), 32).label_validation(arrays)
    assert labeled.stems == ["a", "b", "d"] and labeled.targets[0].max() == 255


def test_a_negative_mixup_is_refused() -> None:
    with pytest.raises(InputError, match="--mixup"):
        TeacherInTheLoop([RecordingTeacher()], LabelConfig(), 32, mixup=-1)


@pytest.fixture(scope="module")
def thyroid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("thyroid")
    write_phantom_set(out, 8, "thyroid", 64, seed=1)
    return out


def test_distill_online_trains_from_two_folders_and_records_the_teacher_share(
        tiny_onnx: Path, phantom_set: Path, thyroid: Path, tmp_path: Path) -> None:
    result = distill_online([tiny_onnx], [phantom_set / "images", thyroid / "images"], "cmunext_edge",
                            tmp_path / "s", config=CONFIG, label_config=LabelConfig(filter=False), mixup=0.5)
    meta = json.loads((tmp_path / "s" / "model.json").read_text())
    assert result.epochs_done == 2 and meta["task"] == "distill"
    assert meta["lineage"]["mode"] == "on-the-fly" and meta["lineage"]["teachers"][0]["sha256"]
    assert meta["lineage"]["mixup"] == 0.5
    assert sorted(meta["data"]["per_folder"].values()) == [8, 24]
    assert meta["metrics"]["train_images"] + meta["metrics"]["val_images"] == 32
    for row in meta["history"]:
        assert row["views"] > 0 and 0 < row["teacher_share"] < 1
    header = (tmp_path / "s" / "history.csv").read_text().splitlines()[0]
    assert header.endswith("views,views_kept,teacher_seconds,teacher_share")


def test_distill_online_resumes_like_any_run(tiny_onnx: Path, phantom_set: Path, tmp_path: Path) -> None:
    args = ([tiny_onnx], [phantom_set / "images"], "unet", tmp_path / "s")
    distill_online(*args, width=0.125, config=CONFIG.with_(epochs=1), label_config=LabelConfig(filter=False))
    resumed = distill_online(*args, width=0.125, config=CONFIG, label_config=LabelConfig(filter=False), resume=True)
    assert (resumed.resumed_from, resumed.epochs_done) == (1, 2)


def test_unlabeled_folders_take_the_manifest_where_it_lists_them(phantom_set: Path, thyroid: Path,
                                                                  tmp_path: Path) -> None:
    files = sorted(p.name for p in (phantom_set / "images").iterdir())
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,split,group\n" + "".join(f"{f},{'transfer' if i % 2 else 'test'},g{i // 4}\n"
                                                        for i, f in enumerate(files)))
    samples = collect_unlabeled([phantom_set / "images", thyroid / "images"], manifest=manifest, split="transfer")
    breast = [s for s in samples if s.group.startswith("0:")]
    assert len(breast) == 12 and len(samples) == 20  # half the breast folder, the whole unlisted thyroid one
    assert {s.group for s in breast} == {f"0:g{i}" for i in range(6)}
    with pytest.raises(InputError, match="no image of any --images folder"):
        collect_unlabeled([thyroid / "images", thyroid / "images"], manifest=manifest)
    with pytest.raises(InputError, match="no image of the folder is listed"):
        collect_unlabeled([thyroid / "images"], manifest=manifest)


def test_offline_distill_pools_several_pseudo_sets(tiny_onnx: Path, phantom_set: Path, thyroid: Path,
                                                    tmp_path: Path) -> None:
    sets = []
    for name, folder in (("breast", phantom_set), ("thyroid", thyroid)):
        label([tiny_onnx], folder / "images", tmp_path / name, LabelConfig(size=64, device="cpu", filter=False))
        sets.append(tmp_path / name)
    distill(sets, "unet", tmp_path / "s", width=0.125, config=CONFIG.with_(epochs=1))
    meta = json.loads((tmp_path / "s" / "model.json").read_text())
    assert meta["metrics"]["train_images"] + meta["metrics"]["val_images"] == 32
    assert len(meta["lineage"]["pseudo_sets"]) == 2 and len(meta["lineage"]["teachers"]) == 1
    with pytest.raises(InputError, match="one --pseudo set with --images"):
        distill(sets, "unet", tmp_path / "t", width=0.125, config=CONFIG, images=phantom_set / "images")
