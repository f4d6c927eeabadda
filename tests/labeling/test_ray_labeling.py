"""``nakt label --ray local``: Ray Data actors write the very set one process writes, and resume it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.outputs import read_json
from tests.labeling.test_shards import STUDENT, assert_same_set

pytest.importorskip("ray.data", reason="Ray is an optional extra: pip install 'nakt-edge[ray]'")


def test_busi_on_local_ray_actors_is_the_single_run_and_resumes(busi: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["--teacher", str(STUDENT), "--images", str(busi / "images"), "--size", "64", "--device", "cpu",
              "--threads", "1"]
    assert runner.invoke(app, ["label", *common, "--out", str(tmp_path / "single")]).exit_code == 0
    out = tmp_path / "ray"
    result = runner.invoke(app, ["label", *common, "--ray", "local", "--ray-actors", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ray = read_json(out / "summary.json")["run"]["ray"]
    assert ray["actors"] == 2 and ray["providers"] == ["CPUExecutionProvider"] and not ray["gpu_actors"]
    assert_same_set(tmp_path / "single", out)
    lines = (out / "manifest.csv").read_text().splitlines(keepends=True)
    for line in lines[-100:]:  # as if the run had been killed 100 images before the end
        (out / "masks" / f"{line.split(',')[1]}.png").unlink(missing_ok=True)
    (out / "manifest.csv").write_text("".join(lines[:-100]))
    again = runner.invoke(app, ["label", *common, "--ray", "local", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "labeled 100 image(s)" in again.output and "680 already done" in again.output
    assert_same_set(tmp_path / "single", out)


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             phantom_set: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    result = CliRunner().invoke(app, ["label", "--teacher", str(STUDENT), "--images", str(phantom_set / "images"),
                                      "--size", "64", "--ray", "local", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "pip install 'nakt-edge[ray]'" in result.output
    assert not (tmp_path / "x").exists()


def test_an_unreachable_cluster_is_one_line_and_writes_nothing(phantom_set: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    result = CliRunner().invoke(app, ["label", "--teacher", str(STUDENT), "--images", str(phantom_set / "images"),
                                      "--size", "64", "--ray", "auto", "--out", str(tmp_path / "x")])
    assert result.exit_code != 0 and "cannot reach Ray at 'auto'" in result.output
    assert not (tmp_path / "x").exists()
