"""Quantization-aware training: the INT8 export of a QAT model keeps its weights exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.export.exporter import export_model
from nakt_edge.export.int8_rewrites import rewrite_for_int8
from nakt_edge.export.onnx_export import torch_to_onnx
from nakt_edge.export.quantize import prepare_for_quantization, quantize_int8
from nakt_edge.models.registry import ModelSpec, build_model, resolve_spec
from nakt_edge.training.qat import (
    WEIGHT_QMAX,
    ConvInputNoise,
    attach_fake_quant,
    conv_batchnorm_pairs,
    snap_to_grid,
)
from nakt_edge.training.run import load_run

SPEC = resolve_spec(ModelSpec("cmunext_edge", width=0.5))


def _model_with_trained_looking_norms() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(SPEC)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # statistics far from the identity, as after training
            module.running_var.uniform_(0.2, 3.0)
            module.running_mean.uniform_(-1.0, 1.0)
            module.weight.data.uniform_(0.3, 2.0)
    return model


def _int8_weight_error(model: torch.nn.Module, work: Path) -> float:
    """Largest relative difference between a Conv weight of the FP32 export and its INT8 dequantized value."""
    clean = build_model(SPEC)
    clean.load_state_dict(model.state_dict())
    torch_to_onnx(clean, torch.rand(1, 1, 64, 64), work / "fp32.onnx")
    prepare_for_quantization(work / "fp32.onnx", work / "prep.onnx")
    quantize_int8(work / "prep.onnx", work / "int8.onnx", np.random.default_rng(0).random((4, 1, 64, 64), np.float32))
    rewritten, fp32_nodes, _ = rewrite_for_int8(onnx.load(str(work / "prep.onnx")))  # as quantize_int8 does
    floats = {i.name: numpy_helper.to_array(i) for i in rewritten.graph.initializer}
    quantized = onnx.load(str(work / "int8.onnx"))
    stored = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    errors = []
    for node in quantized.graph.node:
        values = stored.get(node.input[0])
        if node.op_type == "DequantizeLinear" and values is not None and values.dtype == np.int8 and values.ndim == 4:
            scale = stored[node.input[1]].reshape(-1, 1, 1, 1)
            reference = floats[node.input[0].removesuffix("_quantized")]
            errors.append(float(np.abs(values * scale - reference).max() / np.abs(reference).max()))
    assert len(errors) == sum(1 for n in rewritten.graph.node if n.op_type == "Conv" and n.name not in fp32_nodes)
    return max(errors)


def _assert_on_grid(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d | None) -> None:
    """The BatchNorm-folded weight is an integer multiple of its channel's step max|w| / WEIGHT_QMAX."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn is not None else torch.ones(conv.out_channels)
    folded = conv.weight * scale.view(-1, 1, 1, 1)
    levels = folded / (folded.abs().amax(dim=(1, 2, 3), keepdim=True) / WEIGHT_QMAX)
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-3)


def test_snapped_weights_survive_the_exporters_int8_quantization(tmp_path: Path) -> None:
    plain = _model_with_trained_looking_norms().eval()
    assert _int8_weight_error(plain, tmp_path) > 1e-3  # post-training rounding moves every conv
    model = _model_with_trained_looking_norms()
    attach_fake_quant(model)
    model.train()(torch.rand(2, 1, 64, 64))
    snap_to_grid(model)
    assert _int8_weight_error(model, tmp_path) < 1e-5


def test_fake_quant_keeps_the_state_dict_and_freezes_batchnorm() -> None:
    model = _model_with_trained_looking_norms()
    keys, stats = list(model.state_dict()), [m.running_mean.clone() for m in model.modules()
                                             if isinstance(m, torch.nn.BatchNorm2d)]
    attach_fake_quant(model)
    output = model.train()(torch.rand(2, 1, 64, 64))
    output.mean().backward()
    assert list(model.state_dict()) == keys
    after = [m.running_mean for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(stats, after))
    assert all(conv.weight.grad is not None for conv, _ in conv_batchnorm_pairs(model))  # straight-through


def test_noise_mode_perturbs_conv_inputs_by_at_most_half_a_step_in_training_only() -> None:
    conv = torch.nn.Conv2d(1, 1, 1)
    hook = ConvInputNoise()
    x = torch.linspace(-1.0, 3.0, 400).reshape(1, 1, 20, 20)
    conv.train()
    (noisy,) = hook(conv, (x,))
    step = hook.range.step()
    assert step == pytest.approx(4.0 / 255)  # the running range of a first batch is that batch's min..max
    assert 0.3 * step < float((noisy - x).abs().max()) <= step / 2 + 1e-7
    conv.eval()
    assert hook(conv, (x,)) is None  # eval: the input goes through untouched


def test_noise_mode_predicts_with_the_grid_weights_alone_and_trains_through_noise() -> None:
    model = _model_with_trained_looking_norms()
    reference = snap_to_grid(_model_with_trained_looking_norms()).eval()
    attach_fake_quant(model, "noise")
    x = torch.rand(2, 1, 64, 64)
    model.train()(x)  # observes the ranges
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x), rtol=1e-4, atol=1e-4)  # eval: float activations
        clean = model(x)
        first, second = model.train()(x), model(x)
    assert not torch.allclose(first, second)  # fresh noise each step
    assert float((first - clean).abs().max()) < 0.1 * float(clean.abs().max())  # ... of about one UINT8 step
    with pytest.raises(ValueError, match="unknown QAT mode"):
        attach_fake_quant(_model_with_trained_looking_norms(), "stochastic")


def test_snapping_puts_every_folded_weight_on_the_grid_and_is_idempotent() -> None:
    model = snap_to_grid(_model_with_trained_looking_norms())
    once = [conv.weight.clone() for conv, _ in conv_batchnorm_pairs(model)]
    snap_to_grid(model)
    for (conv, bn), first in zip(conv_batchnorm_pairs(model), once):
        torch.testing.assert_close(conv.weight, first, rtol=1e-6, atol=1e-9)
        _assert_on_grid(conv, bn)


def test_distill_init_qat_from_the_cli_continues_a_run_on_the_grid(tiny_run: Path, phantom_set: Path,
                                                                    tmp_path: Path) -> None:
    runner = CliRunner()
    teacher = export_model(tiny_run, tmp_path / "teacher.onnx").path
    out = tmp_path / "qat"
    args = ["distill", "--teacher", str(teacher), "--images", str(phantom_set / "images"), "--arch", "unet",
            "--width", "0.125", "--init", str(tiny_run), "--qat", "--out", str(out), "--size", "64", "--epochs", "1",
            "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["config"]["qat"] and meta["effective"]["qat"]
    assert meta["lineage"]["initialized_from"] == str(tiny_run.resolve())
    model, _ = load_run(out)
    for conv, bn in conv_batchnorm_pairs(model):
        _assert_on_grid(conv, bn)
    wrong = runner.invoke(app, args[:6] + ["cmunext_edge"] + args[9:13] + [str(tmp_path / "other")] + args[14:])
    assert wrong.exit_code != 0 and "--init run holds unet" in wrong.output


def test_qat_mode_noise_from_the_cli_is_recorded_and_a_wrong_mode_is_refused(tiny_run: Path, phantom_set: Path,
                                                                              tmp_path: Path) -> None:
    runner = CliRunner()
    teacher = export_model(tiny_run, tmp_path / "teacher.onnx").path
    args = ["distill", "--teacher", str(teacher), "--images", str(phantom_set / "images"), "--arch", "unet", "--width",
            "0.125", "--init", str(tiny_run), "--qat", "--targets", "hard", "--size", "64", "--epochs", "1",
            "--device", "cpu"]
    result = runner.invoke(app, args + ["--qat-mode", "noise", "--out", str(tmp_path / "noise")])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "noise" / "model.json").read_text())
    assert meta["config"]["qat_mode"] == "noise" and meta["effective"]["qat_mode"] == "noise"
    assert meta["lineage"]["targets"] == "hard"
    wrong = runner.invoke(app, args + ["--qat-mode", "fuzzy", "--out", str(tmp_path / "wrong")])
    assert wrong.exit_code == 2 and "--qat-mode must be round or noise" in wrong.output
    assert not (tmp_path / "wrong").exists()


@pytest.mark.parametrize("command", ["train", "distill", "finetune"])
def test_qat_is_offered_by_every_training_command(command: str) -> None:
    assert "--qat" in CliRunner().invoke(app, [command, "--help"]).output
