"""CLI tests: thin-layer checks with the API patched, error boundary, and one real subprocess run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.runtime.providers import gpu_present

runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("phantoms", "models", "train", "export", "evaluate"):
        assert name in result.output


def test_train_passes_options_to_the_api(tmp_path: Path) -> None:
    with mock.patch("nakt_edge.training.train.train") as api, mock.patch("nakt_edge.cli.train.print_fit"):
        result = runner.invoke(app, ["train", "--images", "I", "--masks", "M", "--arch", "sdu_net", "--out", "R",
                                     "--size", "128", "--epochs", "3", "--width", "0.5", "--manifest", "m.csv",
                                     "--split", "teacher", "--device", "cpu", "--resume"])
    assert result.exit_code == 0, result.output
    args, kwargs = api.call_args
    assert args == (Path("I"), Path("M"), "sdu_net", Path("R"))
    assert kwargs["width"] == 0.5 and kwargs["resume"] is True and kwargs["split"] == "teacher"
    config = kwargs["config"]
    assert (config.size, config.epochs, config.device, config.lr, config.batch_size) == (128, 3, "cpu", 1e-4, 4)


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--images", str(tmp_path / "none"), "--arch", "unet", "--out",
                                 str(tmp_path / "r")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "error:" in result.output and "image folder not found" in result.output
    assert not (tmp_path / "r").exists()


def test_unknown_arch_exit_code_2(phantom_set: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--images", str(phantom_set / "images"), "--arch", "sdunet",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "did you mean 'sdu_net'" in result.output


def test_models_lists_parameter_counts() -> None:
    result = runner.invoke(app, ["models", "--width", "0.125"])
    assert result.exit_code == 0 and "sdu_net" in result.output and "attention_unet" in result.output


def test_evaluate_writes_report_and_refuses_to_overwrite(tiny_onnx: Path, phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.json"
    args = ["evaluate", str(tiny_onnx), "--images", str(phantom_set / "images"), "--masks",
            str(phantom_set / "masks"), "--device", "cpu", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Dice" in first.output and out.is_file() and out.with_suffix(".csv").is_file()
    second = runner.invoke(app, args)
    assert second.exit_code == 2 and "--force" in second.output


def test_console_script_runs_phantoms_in_a_subprocess(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("nakt")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from nakt_edge.cli import main; main()"]
    done = subprocess.run(command + ["phantoms", "--out", str(tmp_path / "p"), "--n", "2", "--size", "32"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "p" / "images").glob("*.png"))) == 2


def test_label_passes_teachers_and_settings_to_the_api() -> None:
    with mock.patch("nakt_edge.labeling.labeler.label") as api:
        api.return_value.summary = {"counts": {"total": 1, "unreadable": 0, "labeled": 1, "few_pixels": 0,
                                               "high_entropy": 0, "kept": 1, "kept_percent": 100.0},
                                    "alpha_min_pixels": 256, "beta_max_entropy": 2.5, "teachers": []}
        api.return_value.processed, api.return_value.skipped, api.return_value.seconds = 1, 0, 1.0
        api.return_value.images_per_s = 1.0
        result = runner.invoke(app, ["label", "--teacher", "a.onnx", "--teacher", "b.onnx", "--weights", "2,1",
                                     "--images", "I", "--out", "O", "--fusion", "staple", "--min-fraction", "0.01",
                                     "--max-entropy", "3", "--size", "192", "--batch", "2", "--threads", "2",
                                     "--contract", "layout=NHWC", "--manifest", "m.csv", "--split", "transfer"])
    assert result.exit_code == 0, result.output
    (teachers, images, out, config), kwargs = api.call_args
    assert teachers == [Path("a.onnx"), Path("b.onnx")] and images == Path("I") and out == Path("O")
    assert (config.weights, config.fusion, config.min_fraction, config.max_entropy, config.size) == \
        ((2.0, 1.0), "staple", 0.01, 3.0, 192)
    assert kwargs["overrides"] == {"layout": "NHWC"} and kwargs["split"] == "transfer"


def test_label_rejects_conflicting_alpha_options() -> None:
    result = runner.invoke(app, ["label", "--teacher", "a.onnx", "--images", "I", "--out", "O",
                                 "--min-pixels", "5", "--min-fraction", "0.1"])
    assert result.exit_code == 2 and "exclude each other" in result.output


@pytest.mark.skipif(gpu_present(), reason="checks the failure on a machine without a GPU")
def test_label_on_cuda_without_a_gpu_exits_2(foreign_teachers: dict[str, Path], phantom_set: Path,
                                             tmp_path: Path) -> None:
    result = runner.invoke(app, ["label", "--teacher", str(foreign_teachers["probabilities"]), "--images",
                                 str(phantom_set / "images"), "--out", str(tmp_path / "o"), "--device", "cuda"])
    assert result.exit_code == 2 and "CUDAExecutionProvider" in result.output
    assert not (tmp_path / "o").exists()
