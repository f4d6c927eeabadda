"""CLI tests: thin-layer checks with the API patched, error boundary, and one real subprocess run."""

from __future__ import annotations

import json
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
    for name in ("demo", "phantoms", "models", "train", "label", "distill", "finetune", "export", "evaluate", "bench"):
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
    rows = json.loads(out.read_text())["images"]
    assert all(0.0 <= row["confidence"] <= 1.0 for row in rows)  # per-image confidence (nakt_edge.confidence)
    assert "confidence" in out.with_suffix(".csv").read_text().splitlines()[0]
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
                                     "--workers", "3", "--contract", "layout=NHWC", "--manifest", "m.csv",
                                     "--split", "transfer"])
    assert result.exit_code == 0, result.output
    (teachers, images, out, config), kwargs = api.call_args
    assert teachers == [Path("a.onnx"), Path("b.onnx")] and images == Path("I") and out == Path("O")
    assert (config.weights, config.fusion, config.min_fraction, config.max_entropy, config.size, config.workers) == \
        ((2.0, 1.0), "staple", 0.01, 3.0, 192, 3)
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


def test_distill_then_finetune_in_one_command() -> None:
    with mock.patch("nakt_edge.training.distill.distill") as distill_api, \
            mock.patch("nakt_edge.training.finetune.finetune") as finetune_api, \
            mock.patch("nakt_edge.cli.distill.print_fit"):
        result = runner.invoke(app, ["distill", "--pseudo", "P", "--arch", "sdu_net", "--width", "0.25", "--out",
                                     "runs/s", "--targets", "hard", "--include-excluded", "--size", "128",
                                     "--finetune-images", "FI", "--finetune-masks", "FM", "--finetune-epochs", "7"])
    assert result.exit_code == 0, result.output
    (pseudo, arch, out), kwargs = distill_api.call_args
    assert (pseudo, arch, out) == ([Path("P")], "sdu_net", Path("runs/s"))
    assert kwargs["targets"] == "hard" and kwargs["include_excluded"] is True and kwargs["config"].size == 128
    (run, images, masks, target), tuned = finetune_api.call_args
    assert (run, images, masks, target) == (Path("runs/s"), Path("FI"), Path("FM"), Path("runs/s-finetuned"))
    assert tuned["config"].epochs == 7


def test_distill_with_a_teacher_runs_on_the_fly_over_several_folders() -> None:
    with mock.patch("nakt_edge.training.online_distill.distill_online") as api, \
            mock.patch("nakt_edge.cli.distill.print_fit"):
        result = runner.invoke(app, ["distill", "--teacher", "T.onnx", "--teacher", "U.onnx", "--images", "A",
                                     "--images", "B", "--arch", "lraspp_mobilenetv3", "--model-arg", "low_stride=4",
                                     "--out", "R", "--mixup", "0.5", "--fusion", "staple", "--max-entropy", "3",
                                     "--teacher-threads", "1", "--manifest", "m.csv", "--split", "transfer",
                                     "--size", "128", "--contract", "layout=NHWC"])
    assert result.exit_code == 0, result.output
    (teachers, images, arch, out), kwargs = api.call_args
    assert teachers == [Path("T.onnx"), Path("U.onnx")] and images == [Path("A"), Path("B")]
    assert (arch, out, kwargs["model_kwargs"], kwargs["mixup"]) == ("lraspp_mobilenetv3", Path("R"),
                                                                   {"low_stride": 4}, 0.5)
    label = kwargs["label_config"]
    assert (label.fusion, label.max_entropy, label.threads, label.filter) == ("staple", 3.0, 1, True)
    assert kwargs["split"] == "transfer" and kwargs["overrides"] == {"layout": "NHWC"}


@pytest.mark.parametrize("args", [["--arch", "unet", "--out", "R"],
                                  ["--pseudo", "P", "--teacher", "T.onnx", "--arch", "unet", "--out", "R"],
                                  ["--teacher", "T.onnx", "--arch", "unet", "--out", "R"],
                                  ["--pseudo", "P", "--images", "A", "--images", "B", "--arch", "unet", "--out", "R"]],
                         ids=["neither", "both", "teacher-without-images", "pseudo-with-two-image-folders"])
def test_distill_refuses_an_unclear_source_in_one_line(args: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["distill", *args])
    assert result.exit_code == 2 and result.output.startswith("error:")
    assert result.output.strip().count("\n") == 0


def test_export_passes_precision_and_gates() -> None:
    with mock.patch("nakt_edge.export.exporter.export_model") as api:
        api.return_value.parity.checks = []
        api.return_value.gates, api.return_value.excluded_nodes, api.return_value.forced = [], [], False
        api.return_value.size_bytes, api.return_value.parity.images, api.return_value.ort_path = 1000, 8, None
        api.return_value.calibration = None
        result = runner.invoke(app, ["export", "RUN", "--out", "m.onnx", "--precision", "int8", "--calib", "C",
                                     "--calib-method", "entropy", "--max-dice-drop", "0.02", "--threads", "2"])
    assert result.exit_code == 0, result.output
    args, kwargs = api.call_args
    assert args == (Path("RUN"), Path("m.onnx"))
    assert (kwargs["precision"], kwargs["calib"], kwargs["calib_method"], kwargs["max_dice_drop"],
            kwargs["threads"], kwargs["ort_format"]) == ("int8", Path("C"), "entropy", 0.02, 2, False)


def test_bench_parses_axes_and_rejects_bad_ones(tmp_path: Path) -> None:
    with mock.patch("nakt_edge.bench.harness.bench") as api:
        api.return_value.rows, api.return_value.peaks, api.return_value.skipped = [], {"1": 50.0}, []
        result = runner.invoke(app, ["bench", "a.onnx", "RUN", "--runtime", "ort-cpu,torch", "--batch", "1,8",
                                     "--threads", "1,2", "--precision", "fp32,int8", "--calib", "C"])
    assert result.exit_code == 0, result.output
    args, kwargs = api.call_args
    assert args == ([Path("a.onnx"), Path("RUN")],)
    assert kwargs["runtimes"] == ["ort-cpu", "torch"] and kwargs["batches"] == [1, 8]
    assert kwargs["threads"] == [1, 2] and kwargs["precisions"] == ["fp32", "int8"]
    bad = runner.invoke(app, ["bench", "a.onnx", "--batch", "one"])
    assert bad.exit_code == 2 and "--batch" in bad.output


def test_demo_prints_the_table() -> None:
    from nakt_edge.demo import DemoResult, DemoSettings

    rows = [{"model": m, "dice_mean": d, "dice_std": 0.1, "parameters": p, "onnx_mb": 1.0, "p50_ms": t}
            for m, d, p, t in (("teacher", 0.8, 10e6, 8.0), ("student", 0.76, 1e6, 4.0))]
    fake = DemoResult(Path("d"), DemoSettings(), rows, 0.95, {"kept": 10, "labeled": 20}, {})
    with mock.patch("nakt_edge.demo.run_demo", return_value=fake) as api:
        result = runner.invoke(app, ["demo", "--out", "d", "--quick"])
    assert result.exit_code == 0, result.output
    assert api.call_args.kwargs["quick"] is True and "0.950" in result.output and "2.00x" in result.output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    from nakt_edge.errors import InputError

    result = runner.invoke(app, ["--debug", "train", "--images", str(tmp_path / "none"), "--arch", "unet",
                                 "--out", str(tmp_path / "r")])
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
