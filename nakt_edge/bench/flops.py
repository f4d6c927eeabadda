"""Counting an ONNX graph's multiply-accumulate work from its shapes, for GFLOP/s figures.

The shapes are those of one ONNX Runtime run on a zero image of (1, C, H, W), with every tensor
the count needs exposed as an output: static shape inference gave up on some graphs here (0 for
smp's efficientnet encoders, a fraction of the work for FP16 graphs behind Resize), while a run
knows every shape, whatever the precision. Counted: Conv, ConvTranspose, MatMul and Gemm at
2 FLOPs per multiply-accumulate; element-wise ops, pooling and resizing are left out (they are
memory-bound and small next to the convolutions of a segmentation net).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper

COUNTED = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def _run_shapes(model: onnx.ModelProto, shape: tuple[int, ...], names: list[str]) -> dict[str, tuple[int, ...]]:
    """Shapes of ``names`` from one CPU run of ``model`` on zeros of ``shape`` (optimizations off, so every
    named tensor still exists)."""
    import onnxruntime as ort

    graph_outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in graph_outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    source = model.graph.input[0]
    dtype = helper.tensor_dtype_to_np_dtype(source.type.tensor_type.elem_type)
    values = session.run(None, {source.name: np.zeros(shape, dtype)})
    return {out.name: value.shape for out, value in zip(session.get_outputs(), values)}


def count_gflops(path: str | Path, channels: int, height: int, width: int, layout: str = "NCHW") -> float:
    """GFLOPs of one forward pass on one image of the given size."""
    model = onnx.load(str(path))
    weights = {init.name: tuple(init.dims) for init in model.graph.initializer}
    nodes = [node for node in model.graph.node if node.op_type in COUNTED]
    needed = list(dict.fromkeys(t for node in nodes for t in (*node.input[:2], node.output[0])
                                if t and t not in weights))
    shape = (1, channels, height, width) if layout == "NCHW" else (1, height, width, channels)
    shapes = {**weights, **_run_shapes(model, shape, needed)}
    flops = 0.0
    for node in nodes:
        weight, out = shapes[node.input[1]], shapes[node.output[0]]
        if node.op_type == "Conv":  # weight (Cout, Cin/g, kh, kw); output (N, Cout, H, W)
            flops += 2.0 * float(np.prod(out[1:])) * float(np.prod(weight[1:]))
        elif node.op_type == "ConvTranspose":  # weight (Cin, Cout/g, kh, kw); input (N, Cin, H, W)
            flops += 2.0 * float(np.prod(shapes[node.input[0]][1:])) * float(np.prod(weight[1:]))
        else:  # MatMul / Gemm: every output element is a dot product over A's inner axis
            trans_a = any(a.name == "transA" and a.i for a in node.attribute)
            a = shapes[node.input[0]]
            flops += 2.0 * float(np.prod(out)) * (a[0] if trans_a else a[-1])
    return flops / 1e9
