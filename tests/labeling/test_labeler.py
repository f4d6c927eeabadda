from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.config import LabelConfig
from nakt_edge.data.images import read_gray, read_soft_mask, resize_to
from nakt_edge.errors import InputError
from nakt_edge.labeling.labeler import label
from nakt_edge.labeling.pseudo_set import MANIFEST_COLUMNS, open_pseudo_set, read_rows
from tests.runtime.foreign_teachers import expected_probabilities

CONFIG = LabelConfig(size=64, batch=4, device="cpu", threads=1)


@pytest.fixture()
def image_folder(phantom_set: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    shutil.copytree(phantom_set / "images", folder)
    return folder


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_writes_the_pseudo_labeled_set_of_the_design(foreign_teachers: dict[str, Path], image_folder: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "pseudo"
    teachers = [foreign_teachers["nhwc"], foreign_teachers["softmax2"]]
    result = label(teachers, image_folder, out, CONFIG.__class__(**{**CONFIG.to_dict(), "max_entropy": 9.0}))
    rows = _manifest(out)
    assert list(rows[0]) == list(MANIFEST_COLUMNS) and len(rows) == 24
    assert {p.name for p in (out / "masks").iterdir()} == {r["stem"] + ".png" for r in rows}
    # both teachers are the same network, so the fused mask is its probability map, and they agree
    first = rows[0]
    stored = read_soft_mask(out / "masks" / f"{first['stem']}.png")
    image = resize_to(read_gray(image_folder / first["file"]), 64, 64)
    np.testing.assert_allclose(stored, expected_probabilities(image[None])[0], atol=1 / 255 + 1e-4)
    assert float(first["teacher_agreement"]) == 1.0
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["total"] == 24 and counts["kept"] + counts["excluded"] == counts["labeled"] == 24
    assert counts["kept"] == sum(r["kept"] == "1" for r in rows)
    assert [t["sha256"] for t in summary["teachers"]] and summary["provider"] == "CPUExecutionProvider"
    assert summary["alpha_min_pixels"] == 8  # 256 px at 384^2, scaled to 64^2
    assert (out / "entropy_hist.png").stat().st_size > 1000
    assert result.processed == 24 and result.skipped == 0
    assert open_pseudo_set(out).images == image_folder.resolve()


def test_resume_after_an_interruption_labels_only_the_rest(foreign_teachers: dict[str, Path], image_folder: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "pseudo"
    label([foreign_teachers["probabilities"]], image_folder, out, CONFIG)
    manifest = out / "manifest.csv"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:11]) + lines[11][:7])  # 10 complete rows and a torn one
    again = label([foreign_teachers["probabilities"]], image_folder, out, CONFIG)
    assert again.skipped == 10 and again.processed == 14
    stems = [row.stem for row in read_rows(out)]
    assert len(stems) == 24 and len(set(stems)) == 24
    assert label([foreign_teachers["probabilities"]], image_folder, out, CONFIG).processed == 0


def test_resume_with_other_teachers_or_settings_is_refused(foreign_teachers: dict[str, Path], image_folder: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "pseudo"
    label([foreign_teachers["probabilities"]], image_folder, out, CONFIG)
    with pytest.raises(InputError, match="teachers"):
        label([foreign_teachers["nhwc"]], image_folder, out, CONFIG)
    with pytest.raises(InputError, match="fusion"):
        label([foreign_teachers["probabilities"]], image_folder, out, LabelConfig(**{**CONFIG.to_dict(),
                                                                                    "fusion": "vote"}))
    redone = label([foreign_teachers["nhwc"]], image_folder, out, CONFIG, force=True)
    assert redone.processed == 24


def test_unreadable_images_are_recorded_and_skipped(foreign_teachers: dict[str, Path], image_folder: Path,
                                                     tmp_path: Path) -> None:
    (image_folder / "broken.png").write_bytes(b"garbage")
    out = tmp_path / "pseudo"
    result = label([foreign_teachers["probabilities"]], image_folder, out, CONFIG)
    rows = {r["stem"]: r for r in _manifest(out)}
    assert rows["broken"]["reason"].startswith("unreadable: not a readable image") and rows["broken"]["kept"] == "0"
    assert result.summary["counts"]["unreadable"] == 1 and result.summary["counts"]["labeled"] == 24
    assert not (out / "masks" / "broken.png").exists()


def test_filters_exclude_few_pixel_masks(foreign_teachers: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "blank"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"b{index}.png"), np.zeros((64, 64), np.uint8))
    out = tmp_path / "pseudo"
    config = LabelConfig(**{**CONFIG.to_dict(), "min_pixels": 64 * 64 + 1})
    result = label([foreign_teachers["probabilities"]], folder, out, config)
    assert result.summary["counts"]["few_pixels"] == 3 and result.summary["counts"]["kept"] == 0
    kept_all = label([foreign_teachers["probabilities"]], folder, tmp_path / "p2",
                     LabelConfig(**{**config.to_dict(), "filter": False}))
    assert kept_all.summary["counts"]["kept"] == 3


def test_manifest_split_and_tta(foreign_teachers: dict[str, Path], phantom_set: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    names = sorted(p.name for p in (phantom_set / "images").iterdir())
    manifest.write_text("file,split\n" + "".join(f"{n},{'transfer' if i < 5 else 'test'}\n"
                                                 for i, n in enumerate(names)))
    config = LabelConfig(**{**CONFIG.to_dict(), "tta": "flip"})
    result = label([foreign_teachers["probabilities"]], phantom_set / "images", tmp_path / "p", config,
                   manifest=manifest, split="transfer")
    assert result.summary["counts"]["total"] == 5 and result.summary["split"] == "transfer"


def test_staple_convergence_is_recorded_in_the_summary(foreign_teachers: dict[str, Path], image_folder: Path,
                                                       tmp_path: Path) -> None:
    teachers = [foreign_teachers["nhwc"], foreign_teachers["softmax2"]]
    summary = label(teachers, image_folder, tmp_path / "p", LabelConfig(**{**CONFIG.to_dict(), "fusion": "staple"})
                    ).summary
    staple = summary["run"]["staple"]
    assert staple["images"] == 24 and staple["iteration_cap"] == 1000
    assert staple["hit_cap"] == 0 and 0 <= staple["iterations_max"] < 1000


def test_the_number_of_workers_changes_nothing_written(foreign_teachers: dict[str, Path], image_folder: Path,
                                                       tmp_path: Path) -> None:
    """Decoding threads finish out of order; masks and manifest rows are still written in the input's order."""
    outs = []
    for workers in (1, 5):
        out = tmp_path / f"w{workers}"
        label([foreign_teachers["probabilities"]], image_folder, out, replace(CONFIG, workers=workers))
        outs.append(out)
    assert (outs[0] / "manifest.csv").read_bytes() == (outs[1] / "manifest.csv").read_bytes()
    for mask in (outs[0] / "masks").iterdir():
        assert (outs[1] / "masks" / mask.name).read_bytes() == mask.read_bytes()
