"""Edge students: parameter and GFLOPs counts pinned, shapes, and graphs that stay INT8-friendly."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from nakt_edge.bench.flops import count_gflops
from nakt_edge.errors import ModelSpecError
from nakt_edge.export.onnx_export import torch_to_onnx
from nakt_edge.models.registry import ModelSpec, build_model, count_parameters, get_arch, parse_model_args

# Ops a QDQ-quantized graph runs fast on a CPU (no Erf/GELU, LayerNorm, attention, rolls).
INT8_FRIENDLY = {"Conv", "Relu", "Add", "Mul", "MaxPool", "Concat", "Resize", "HardSwish", "HardSigmoid",
                 "GlobalAveragePool", "Sigmoid", "Constant", "Shape", "Gather", "Cast", "Slice", "Unsqueeze",
                 "Div", "Floor", "Identity"}

# (spec, in_channels, parameters, GFLOPs at 256 x 256 counted by nakt bench: 2 FLOPs per MAC)
PINNED = [
    (ModelSpec("cmunext", in_channels=3), 3_149_185, 14.461),  # paper: 3.14 M, 7.41 G(MAC)
    (ModelSpec("cmunext_edge"), 547_825, 0.987),
    (ModelSpec("lraspp_mobilenetv3", width=2.0, kwargs={"low_stride": 4}), 1_427_354, 0.466),
]


def _gflops(model: torch.nn.Module, channels: int, tmp_path: Path) -> tuple[float, set[str]]:
    path = torch_to_onnx(model.eval(), torch.zeros(1, channels, 256, 256), tmp_path / "m.onnx")
    return count_gflops(path, channels, 256, 256), {n.op_type for n in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize(("spec", "parameters", "gflops"), PINNED, ids=lambda v: getattr(v, "arch", ""))
def test_parameters_and_gflops_are_pinned(spec: ModelSpec, parameters: int, gflops: float, tmp_path: Path) -> None:
    model = build_model(spec)
    assert count_parameters(model) == parameters
    measured, ops = _gflops(model, spec.in_channels, tmp_path)
    assert measured == pytest.approx(gflops, abs=0.002)
    assert ops <= INT8_FRIENDLY, f"ops that INT8 on a CPU handles badly: {sorted(ops - INT8_FRIENDLY)}"


def test_the_paper_cmunext_matches_its_published_size() -> None:
    assert count_parameters(build_model(ModelSpec("cmunext", in_channels=3))) == pytest.approx(3.14e6, rel=0.01)


def test_edge_students_cost_at_most_the_issue_budgets(tmp_path: Path) -> None:
    # 1/8 of the BUSI DeepLabV3+-resnet18 teacher (8.92 GFLOPs at 256) and the <= 0.6 GFLOPs class
    assert _gflops(build_model(ModelSpec("cmunext_edge")), 1, tmp_path)[0] <= 8.92 / 8
    lraspp = build_model(ModelSpec("lraspp_mobilenetv3", width=2.0, kwargs={"low_stride": 4}))
    assert _gflops(lraspp, 1, tmp_path)[0] <= 0.6


@pytest.mark.parametrize("spec", [ModelSpec("cmunext", width=0.25), ModelSpec("cmunext_edge"),
                                  ModelSpec("lraspp_mobilenetv3"), ModelSpec("lraspp_mobilenetv3", in_channels=3,
                                                                             kwargs={"low_stride": 4})],
                         ids=["cmunext", "cmunext_edge", "lraspp", "lraspp-s4"])
def test_one_logit_channel_at_any_multiple_of_the_divisor(spec: ModelSpec) -> None:
    divisor = get_arch(spec.arch).divisor
    with torch.no_grad():
        out = build_model(spec).eval()(torch.zeros(2, spec.in_channels, 3 * divisor, 5 * divisor))
    assert out.shape == (2, 1, 3 * divisor, 5 * divisor)


def test_bad_arguments_are_refused_with_the_reason() -> None:
    with pytest.raises(ModelSpecError, match="low_stride must be 4 or 8"):
        build_model(ModelSpec("lraspp_mobilenetv3", kwargs={"low_stride": 2}))
    with pytest.raises(ModelSpecError, match="even"):
        build_model(ModelSpec("cmunext", kwargs={"dims": [8, 9, 16, 32, 64]}))
    with pytest.raises(ModelSpecError, match="stem_stride must be 1 or 2"):
        build_model(ModelSpec("cmunext_edge", kwargs={"stem_stride": 4}))


def test_model_args_parse_json_values() -> None:
    assert parse_model_args(["low_stride=4", "dims=[8,8,24,48,96]", "name=x"]) == {
        "low_stride": 4, "dims": [8, 8, 24, 48, 96], "name": "x"}
    with pytest.raises(ModelSpecError, match="KEY=VALUE"):
        parse_model_args(["low_stride"])
