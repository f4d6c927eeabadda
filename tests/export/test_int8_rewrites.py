from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from nakt_edge.export.int8_rewrites import (
    dense_grouped_convs,
    rewrite_for_int8,
    split_grouped_convs_over_concat,
    thin_input_stems,
)
from nakt_edge.export.quantize import quantize_int8, sensitive_nodes


def _net(channels: int = 8, groups: int = 2, seed: int = 0) -> onnx.ModelProto:
    """image (1 channel) -> 3x3 stem to ``channels`` -> ReLU -> 3x3 conv with ``groups`` groups -> ReLU
    -> depthwise 3x3 -> 1x1 head."""
    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["image", "w_stem"], ["s"], pads=[1] * 4, name="stem"),
        helper.make_node("Relu", ["s"], ["s_relu"], name="stem_relu"),
        helper.make_node("Conv", ["s_relu", "w_grouped", "b_grouped"], ["g"], group=groups, pads=[1] * 4,
                         name="grouped"),
        helper.make_node("Relu", ["g"], ["g_relu"], name="grouped_relu"),
        helper.make_node("Conv", ["g_relu", "w_depthwise"], ["d"], group=channels, pads=[1] * 4, name="depthwise"),
        helper.make_node("Conv", ["d", "w_head"], ["logits"], name="head"),
    ]
    initializers = [weight("w_stem", channels, 1, 3, 3), weight("w_grouped", channels, channels // groups, 3, 3),
                    weight("b_grouped", channels), weight("w_depthwise", channels, 1, 3, 3),
                    weight("w_head", 1, channels, 1, 1)]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                           [1, 1, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 32, 32])],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _fusion_net(left: int = 4, right: int = 4, seed: int = 0) -> onnx.ModelProto:
    """image -> 3x3 stem to 8 -> two 1x1 branches of ``left`` and ``right`` channels -> Concat -> 3x3 conv with
    2 groups (CMUNeXt's skip fusion) -> ReLU."""
    rng = np.random.default_rng(seed)
    channels = left + right

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["image", "w_stem"], ["s"], pads=[1] * 4, name="stem"),
        helper.make_node("Conv", ["s", "w_left"], ["l"], name="left"),
        helper.make_node("Conv", ["s", "w_right"], ["r"], name="right"),
        helper.make_node("Concat", ["l", "r"], ["lr"], axis=1, name="join"),
        helper.make_node("Conv", ["lr", "w_fuse", "b_fuse"], ["f"], group=2, pads=[1] * 4, name="fuse"),
        helper.make_node("Relu", ["f"], ["logits"], name="fuse_relu"),
    ]
    initializers = [weight("w_stem", 8, 1, 3, 3), weight("w_left", left, 8, 1, 1), weight("w_right", right, 8, 1, 1),
                    weight("w_fuse", 6, channels // 2, 3, 3), weight("b_fuse", 6)]
    graph = helper.make_graph(nodes, "fusion", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                              [1, 1, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 6, 32, 32])],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model: onnx.ModelProto | Path, image: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"image": image})[0]


def _groups(model: onnx.ModelProto) -> dict[str, int]:
    return {n.name: next((a.i for a in n.attribute if a.name == "group"), 1) for n in model.graph.node
            if n.op_type in ("Conv", "QLinearConv")}


def test_a_narrow_grouped_conv_becomes_an_equal_dense_conv_and_depthwise_ones_stay() -> None:
    model = _net()
    dense, rewritten = dense_grouped_convs(model)
    assert rewritten == ["grouped"]
    assert _groups(dense) == {"stem": 1, "grouped": 1, "depthwise": 8, "head": 1}
    assert _groups(model)["grouped"] == 2  # the input model is not touched
    image = np.random.default_rng(1).random((1, 1, 32, 32), np.float32)
    np.testing.assert_allclose(_run(dense, image), _run(model, image), rtol=1e-5, atol=1e-5)
    weight = numpy_helper.to_array(next(i for i in dense.graph.initializer if i.name == "w_grouped"))
    assert weight.shape == (8, 8, 3, 3) and not weight[:4, 4:].any() and not weight[4:, :4].any()


def test_a_grouped_conv_over_a_concat_of_its_groups_becomes_one_conv_per_part() -> None:
    model = _fusion_net()
    split, replaced = split_grouped_convs_over_concat(model)
    assert replaced == {"fuse": ["fuse/part0", "fuse/part1", "fuse/concat"]}
    assert [n.name for n in split.graph.node] == ["stem", "left", "right", "fuse/part0", "fuse/part1",
                                                  "fuse/concat", "fuse_relu"]
    assert {n.name: list(n.input) for n in split.graph.node}["fuse/part0"] == ["l", "w_fuse/part0", "b_fuse/part0"]
    assert not {"w_fuse", "b_fuse"} & {i.name for i in split.graph.initializer}
    assert set(_groups(split).values()) == {1}
    onnx.checker.check_model(split)
    image = np.random.default_rng(3).random((1, 1, 32, 32), np.float32)
    np.testing.assert_allclose(_run(split, image), _run(model, image), rtol=1e-5, atol=1e-5)


def test_a_concat_whose_parts_are_not_the_groups_is_left_alone() -> None:
    assert split_grouped_convs_over_concat(_fusion_net(left=6, right=2))[1] == {}  # 6 + 2 channels, groups of 4
    assert split_grouped_convs_over_concat(_net())[1] == {}  # no Concat in front


def test_rewrite_for_int8_renames_exclusions_of_split_convs_and_adds_the_stem() -> None:
    _, exclude, record = rewrite_for_int8(_fusion_net(), ["fuse", "left"])
    assert exclude == ["fuse/part0", "fuse/part1", "fuse/concat", "left", "stem"]
    assert record == {"split_grouped_convs": ["fuse"], "dense_grouped_convs": [], "fp32_thin_input_stems": ["stem"]}


def test_wide_groups_and_many_groups_stay_grouped() -> None:
    assert dense_grouped_convs(_net(channels=8), max_group_width=3)[1] == []  # 4 output channels per group
    assert dense_grouped_convs(_net(channels=16, groups=4), max_groups=2)[1] == []
    assert dense_grouped_convs(_net(channels=16, groups=4))[1] == ["grouped"]


def test_a_thin_input_stem_is_the_conv_on_at_most_three_channels_with_its_activation_unless_a_pool_follows() -> None:
    assert thin_input_stems(_net()) == ["stem", "stem_relu"]
    model = _net()
    pool = helper.make_node("MaxPool", ["s_relu"], ["s_pool"], kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4,
                            name="stem_pool")
    model.graph.node.insert(2, pool)
    model.graph.node[3].input[0] = "s_pool"
    assert thin_input_stems(model) == []  # ORT's FP32 MaxPool outside the NHWC region is slow: all stays INT8


def test_int8_rewrites_keep_the_stem_in_fp32_make_the_grouped_conv_dense_and_are_recorded(tmp_path: Path) -> None:
    src = tmp_path / "net.onnx"
    onnx.save(_net(), src)
    calibration = np.random.default_rng(2).random((4, 1, 32, 32), np.float32)
    rewritten = onnx.load(str(quantize_int8(src, tmp_path / "int8.onnx", calibration)))
    plain = onnx.load(str(quantize_int8(src, tmp_path / "plain.onnx", calibration, rewrite=False)))
    props = {p.key: p.value for p in rewritten.metadata_props}
    assert json.loads(props["nakt.int8_rewrites"]) == {"split_grouped_convs": [], "dense_grouped_convs": ["grouped"],
                                                       "fp32_thin_input_stems": ["stem", "stem_relu"]}
    assert "nakt.int8_rewrites" not in {p.key for p in plain.metadata_props}
    stem_input = {n.input[0] for n in rewritten.graph.node if n.name == "stem"}
    assert stem_input == {"image"}  # no QuantizeLinear/DequantizeLinear in front of the FP32 stem
    dequantized = {n.output[0]: n.input[0] for n in rewritten.graph.node if n.op_type == "DequantizeLinear"}
    grouped = next(n for n in rewritten.graph.node if n.name == "grouped")
    weight = next(i for i in rewritten.graph.initializer if i.name == dequantized[grouped.input[1]])
    assert list(weight.dims) == [8, 8, 3, 3] and _groups(rewritten)["grouped"] == 1
    assert _groups(plain)["grouped"] == 2
    image = calibration[:1]
    fp32 = _run(_net(), image)
    error = np.abs(_run(tmp_path / "int8.onnx", image) - fp32).mean()
    assert error <= np.abs(_run(tmp_path / "plain.onnx", image) - fp32).mean() * 1.05  # no less accurate


def test_sensitive_nodes_rank_the_float_nodes_of_a_rewritten_int8_model(tmp_path: Path) -> None:
    src = tmp_path / "fusion.onnx"
    onnx.save(_fusion_net(), src)
    images = np.random.default_rng(4).random((4, 1, 32, 32), np.float32)
    int8 = quantize_int8(src, tmp_path / "int8.onnx", images)
    assert "fuse/part0" in {n.name for n in onnx.load(str(int8)).graph.node}
    ranked = dict(sensitive_nodes(src, int8, images))
    assert set(ranked) == {"stem", "left", "right", "fuse"}  # the split fuse is ranked by its own name
