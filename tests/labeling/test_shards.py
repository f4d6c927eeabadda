"""Labeling in shards and merging them: the merged set is the single run's, and bad merges are refused."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.config import LabelConfig
from nakt_edge.errors import InputError
from nakt_edge.labeling.labeler import label
from nakt_edge.labeling.shards import merge_shards, parse_shard
from nakt_edge.outputs import read_json

CONFIG = LabelConfig(size=64, batch=4, device="cpu", threads=1)
STUDENT = Path(__file__).resolve().parents[2] / "models" / "busi_cmunext_edge.onnx"


def assert_same_set(single: Path, other: Path) -> None:
    """Byte-identical manifest and masks, the same Table 7 counts."""
    assert (other / "manifest.csv").read_bytes() == (single / "manifest.csv").read_bytes()
    masks = sorted(p.name for p in (single / "masks").iterdir())
    assert masks == sorted(p.name for p in (other / "masks").iterdir())
    for name in masks:
        assert (other / "masks" / name).read_bytes() == (single / "masks" / name).read_bytes(), name
    assert read_json(other / "summary.json")["counts"] == read_json(single / "summary.json")["counts"]
    assert read_json(other / "label_config.json") == read_json(single / "label_config.json")


@pytest.fixture()
def shards(foreign_teachers: dict[str, Path], phantom_set: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "images"
    shutil.copytree(phantom_set / "images", folder)
    (folder / "broken.png").write_bytes(b"garbage")  # an unreadable image keeps its place in the order
    teacher = [foreign_teachers["probabilities"]]
    single = tmp_path / "single"
    label(teacher, folder, single, CONFIG)
    parts = [tmp_path / f"s{k}" for k in (1, 2, 3)]
    for k, part in enumerate(parts, 1):
        label(teacher, folder, part, replace(CONFIG, batch=k), shard=(k, 3))
    return single, parts


def test_three_shards_merge_into_the_single_run(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    single, parts = shards
    sizes = [read_json(p / "summary.json")["shard"]["images"] for p in parts]
    assert sizes == [9, 8, 8]  # 25 images, every third from the k-th
    summary, copied, _ = merge_shards(parts[::-1], tmp_path / "merged")
    assert copied == 24 and summary["counts"]["unreadable"] == 1
    assert [r["shard"] for r in summary["run"]["merged_from"]] == ["1/3", "2/3", "3/3"]
    assert_same_set(single, tmp_path / "merged")
    assert merge_shards(parts, tmp_path / "merged")[1] == 0  # a re-run resumes: nothing copied again


def test_bad_merges_are_refused_with_the_reason(shards: tuple[Path, list[Path]], tmp_path: Path) -> None:
    single, parts = shards
    with pytest.raises(InputError, match="shard\\(s\\) 3/3 missing"):
        merge_shards(parts[:2], tmp_path / "m")
    with pytest.raises(InputError, match="shard 2/3 given twice"):
        merge_shards(parts + [parts[1]], tmp_path / "m")
    with pytest.raises(InputError, match="not a shard"):
        merge_shards(parts + [single], tmp_path / "m")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(parts[2], unfinished)
    lines = (unfinished / "manifest.csv").read_text().splitlines(keepends=True)
    (unfinished / "manifest.csv").write_text("".join(lines[:-2]))
    with pytest.raises(InputError, match="shard 3/3 is unfinished: 6 of 8 images"):
        merge_shards(parts[:2] + [unfinished], tmp_path / "m")
    overlapping = tmp_path / "overlap"
    shutil.copytree(parts[2], overlapping)
    stolen = (parts[0] / "manifest.csv").read_text().splitlines(keepends=True)[1]
    rows = (overlapping / "manifest.csv").read_text().splitlines(keepends=True)
    (overlapping / "manifest.csv").write_text("".join(rows[:-1] + [stolen]))
    with pytest.raises(InputError, match="is in shard 1/3 and in shard 3/3"):
        merge_shards(parts[:2] + [overlapping], tmp_path / "m")
    assert not (tmp_path / "m").exists()  # refused before anything is written


def test_shards_of_other_settings_or_lists_do_not_merge(foreign_teachers: dict[str, Path], phantom_set: Path,
                                                        tmp_path: Path) -> None:
    teacher = [foreign_teachers["probabilities"]]
    images = phantom_set / "images"
    label(teacher, images, tmp_path / "a", CONFIG, shard=(1, 2))
    label(teacher, images, tmp_path / "b", replace(CONFIG, max_entropy=2.0), shard=(2, 2))
    with pytest.raises(InputError, match="shard 2/2 was labeled with other max_entropy"):
        merge_shards([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    fewer = tmp_path / "fewer"
    shutil.copytree(images, fewer)
    next(fewer.iterdir()).unlink()
    label(teacher, fewer, tmp_path / "c", CONFIG, shard=(2, 2))
    with pytest.raises(InputError, match="split another image list"):
        merge_shards([tmp_path / "a", tmp_path / "c"], tmp_path / "m")
    with pytest.raises(InputError, match="cannot resume: this set was labeled with other shard"):
        label(teacher, images, tmp_path / "a", CONFIG, shard=(2, 2))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_shard_is_k_of_n(text: str) -> None:
    with pytest.raises(InputError, match="is not K/N"):
        parse_shard(text)


def test_busi_in_two_shards_from_the_cli_is_the_single_run(busi: Path, tmp_path: Path) -> None:
    """The done-when of the scale-out issue: 780 BUSI images, --shard 1/2 + 2/2 + --merge."""
    runner = CliRunner()
    common = ["--teacher", str(STUDENT), "--images", str(busi / "images"), "--size", "64", "--device", "cpu"]
    assert runner.invoke(app, ["label", *common, "--out", str(tmp_path / "single")]).exit_code == 0
    for k in (1, 2):
        result = runner.invoke(app, ["label", *common, "--shard", f"{k}/2", "--out", str(tmp_path / f"s{k}")])
        assert result.exit_code == 0, result.output
    merged = runner.invoke(app, ["label", "--merge", str(tmp_path / "s1"), "--merge", str(tmp_path / "s2"),
                                 "--out", str(tmp_path / "merged")])
    assert merged.exit_code == 0, merged.output
    counts = read_json(tmp_path / "merged" / "summary.json")["counts"]
    assert counts["total"] == 780 and counts["kept"] > 100  # masks with content, not 780 empty ones
    assert_same_set(tmp_path / "single", tmp_path / "merged")
    mixed = runner.invoke(app, ["label", *common, "--merge", str(tmp_path / "s1"), "--out", str(tmp_path / "x")])
    assert mixed.exit_code != 0 and "leave out --teacher" in mixed.output
