"""Graph rewrites before INT8 quantization for convs that ONNX Runtime's CPU INT8 kernels run slowly.

Measured one conv at a time by benchmarks/int8_conv_shapes.py (results/int8_conv_shapes.md):

- a grouped conv that is not depthwise runs per group in QLinearConv, up to 3.3x slower than the same
  function as group-1 convs. When its input is a Concat whose parts are its groups (CMUNeXt's 2-group
  skip fusion over [skip, upsampled]), it becomes one conv per part with a Concat after: the same
  multiply-accumulates (``split_grouped_convs_over_concat``). Otherwise a narrow grouped conv becomes
  one group-1 conv with block-diagonal weights, which does ``groups`` x the multiply-accumulates
  (``dense_grouped_convs``). Both are exact: per-output-channel weight scales do not change.
- a conv that reads 1 to 3 channels (the image) has too short a reduction for the INT8 GEMM: it was
  2.3x to 5x slower in INT8 than in FP32, so it stays in FP32 with its activation, and the quantized
  graph starts after them (unless pooling follows: ``thin_input_stems``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import numpy_helper

MAX_DENSE_GROUPS = 8  # the dense form does ``groups`` x the multiply-accumulates (measured up to 8)
MAX_DENSE_GROUP_WIDTH = 48  # output channels per group: dense won at 40 (1.23x), lost at 64 (0.94x)
MAX_THIN_INPUT_CHANNELS = 3


def _group(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "group"), 1)


def _channels(model: onnx.ModelProto) -> dict[str, int]:
    """Channel count (dim 1) of every tensor whose shape ONNX shape inference knows."""
    inferred = onnx.shape_inference.infer_shapes(model)
    channels = {}
    for value in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) > 1 and dims[1].HasField("dim_value"):
            channels[value.name] = dims[1].dim_value
    return channels


def split_grouped_convs_over_concat(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, list[str]]]:
    """A copy of ``model`` where each grouped conv (not depthwise) that alone reads a channel Concat of one
    part per group is one conv per part, concatenated after: the same function and multiply-accumulates.
    Returns the copy and, for each rewritten conv, the names of the nodes that replace it."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    initializers = {init.name: init for init in graph.initializer}
    producer = {name: node for node in graph.node for name in node.output}
    users: dict[str, int] = {output.name: 1 for output in graph.output}
    for node in graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    channels = _channels(model)
    replaced: dict[str, list[str]] = {}
    dropped: set[str] = set()  # outputs of the Concats that the parts replace
    stale: set[str] = set()  # weights of the rewritten convs
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        groups = _group(node)
        concat = producer.get(node.input[0]) if node.op_type == "Conv" and node.input else None
        weights = [initializers.get(name) for name in node.input[1:]]
        if (groups < 2 or concat is None or concat.op_type != "Concat" or len(concat.input) != groups
                or users.get(concat.output[0]) != 1 or None in weights
                or next((a.i for a in concat.attribute if a.name == "axis"), 0) not in (1, -3)
                or any(channels.get(part) != weights[0].dims[1] for part in concat.input)
                or weights[0].dims[1] == 1):
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[0])
        bias = numpy_helper.to_array(weights[1]) if len(weights) > 1 else None
        per_group = weight.shape[0] // groups
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute if a.name != "group"}
        parts = []
        for g, part in enumerate(concat.input):
            rows = slice(g * per_group, (g + 1) * per_group)
            names = [f"{node.input[1]}/part{g}"] + ([f"{node.input[2]}/part{g}"] if bias is not None else [])
            graph.initializer.append(numpy_helper.from_array(weight[rows], names[0]))
            if bias is not None:
                graph.initializer.append(numpy_helper.from_array(bias[rows], names[1]))
            parts.append(onnx.helper.make_node("Conv", [part, *names], [f"{node.output[0]}/part{g}"],
                                               name=f"{node.name}/part{g}", **attributes))
        joined = onnx.helper.make_node("Concat", [p.output[0] for p in parts], [node.output[0]],
                                       name=f"{node.name}/concat", axis=1)
        nodes += [*parts, joined]
        dropped.add(concat.output[0])
        stale.update(node.input[1:])
        replaced[node.name] = [n.name for n in (*parts, joined)]
    del graph.node[:]
    graph.node.extend(n for n in nodes if n.output[0] not in dropped)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name not in stale or init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return out, replaced


def dense_grouped_convs(model: onnx.ModelProto, max_groups: int = MAX_DENSE_GROUPS,
                        max_group_width: int = MAX_DENSE_GROUP_WIDTH) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` whose convs with 2..``max_groups`` groups of at most ``max_group_width`` output
    channels (not depthwise) are group-1 convs with block-diagonal weights: the same function.
    Returns the copy and the names of the rewritten nodes."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    initializers = {init.name: init for init in out.graph.initializer}
    users: dict[str, int] = {}
    for node in out.graph.node:
        for name in node.input:
            users[name] = users.get(name, 0) + 1
    rewritten: list[str] = []
    for node in out.graph.node:
        groups = _group(node)
        weight_name = node.input[1] if node.op_type == "Conv" and len(node.input) > 1 else ""
        if not 1 < groups <= max_groups or weight_name not in initializers or users[weight_name] > 1:
            continue
        weight = numpy_helper.to_array(initializers[weight_name])
        per_group_out, per_group_in = weight.shape[0] // groups, weight.shape[1]
        if per_group_in == 1 or per_group_out > max_group_width:  # depthwise: ORT has a dedicated kernel
            continue
        dense = np.zeros((weight.shape[0], per_group_in * groups, *weight.shape[2:]), weight.dtype)
        for g in range(groups):
            rows = slice(g * per_group_out, (g + 1) * per_group_out)
            dense[rows, g * per_group_in:(g + 1) * per_group_in] = weight[rows]
        initializers[weight_name].CopyFrom(numpy_helper.from_array(dense, weight_name))
        for attribute in node.attribute:
            if attribute.name == "group":
                attribute.i = 1
        rewritten.append(node.name)
    return out, rewritten


def thin_input_stems(model: onnx.ModelProto) -> list[str]:
    """Names of the convs that read at most 3 channels (in practice the image itself), each with the
    activations that follow it alone: kept in FP32 together. A stem followed by max pooling stays INT8:
    ORT pools fast only inside its quantized NHWC region (BUSI teacher, 7x7 stem + 3x3 pool at 256 px:
    the FP32 MaxPool alone took 6.0 ms, the INT8 stem and pool 1.8 ms)."""
    initializers = {init.name: init for init in model.graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    names = []
    for node in model.graph.node:
        if not (node.op_type == "Conv" and len(node.input) > 1 and node.input[1] in initializers
                and initializers[node.input[1]].dims[1] * _group(node) <= MAX_THIN_INPUT_CHANNELS):
            continue
        stem = [node]
        following = consumers.get(node.output[0], [])
        while len(following) == 1 and following[0].op_type in _ACTIVATIONS:
            stem.append(following[0])
            following = consumers.get(following[0].output[0], [])
        if not any(n.op_type in _POOLS for n in following):
            names += [n.name for n in stem]
    return names


_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu")
_POOLS = ("MaxPool", "AveragePool")


def rewrite_for_int8(model: onnx.ModelProto, exclude: Sequence[str] = ()) -> tuple[onnx.ModelProto, list[str],
                                                                                   dict[str, list[str]]]:
    """All rewrites above, in order. Returns the rewritten model, ``exclude`` (node names to keep in FP32)
    renamed for it plus the thin-input stems, and a record of what was rewritten (for the file's metadata)."""
    model, split = split_grouped_convs_over_concat(model)
    model, dense = dense_grouped_convs(model)
    stems = thin_input_stems(model)
    renamed = [part for name in exclude for part in split.get(name, [name])]
    record = {"split_grouped_convs": sorted(split), "dense_grouped_convs": dense, "fp32_thin_input_stems": stems}
    return model, [*renamed, *(name for name in stems if name not in renamed)], record
