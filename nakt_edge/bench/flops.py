"""Counting an ONNX graph's multiply-accumulate work from its shapes, for GFLOP/s figures.

Shapes are inferred with the input fixed to (1, C, H, W). Counted: Conv, ConvTranspose, MatMul
and Gemm at 2 FLOPs per multiply-accumulate; element-wise ops, pooling and resizing are left out
(they are memory-bound and small next to the convolutions of a segmentation net).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference


def _static_input(model: onnx.ModelProto, shape: tuple[int, ...]) -> onnx.ModelProto:
    model = onnx.ModelProto.FromString(model.SerializeToString())
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, value in zip(dims, shape):
        dim.ClearField("dim_param")
        dim.dim_value = value
    return model


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    shapes: dict[str, list[int]] = {}
    for info in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in info.type.tensor_type.shape.dim]
        shapes[info.name] = dims
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def count_gflops(path: str | Path, channels: int, height: int, width: int, layout: str = "NCHW") -> float:
    """GFLOPs of one forward pass on one image of the given size (0.0 when shapes cannot be inferred)."""
    model = onnx.load(str(path))
    shape = (1, channels, height, width) if layout == "NCHW" else (1, height, width, channels)
    model = shape_inference.infer_shapes(_static_input(model, shape), data_prop=True)
    shapes = _shapes(model)
    flops = 0.0
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvTranspose"):
            weight = shapes.get(node.input[1], [])
            out = shapes.get(node.output[0], [])
            if len(weight) < 3 or len(out) < 3 or 0 in weight or 0 in out:
                continue
            if node.op_type == "Conv":  # weight (Cout, Cin/g, kh, kw); output (N, Cout, H, W)
                flops += 2.0 * float(np.prod(out[1:])) * float(np.prod(weight[1:]))
            else:  # weight (Cin, Cout/g, kh, kw); input (N, Cin, H, W)
                inp = shapes.get(node.input[0], [])
                if len(inp) >= 3 and 0 not in inp:
                    flops += 2.0 * float(np.prod(inp[1:])) * float(np.prod(weight[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            a, out = shapes.get(node.input[0], []), shapes.get(node.output[0], [])
            if a and out and 0 not in a and 0 not in out:
                flops += 2.0 * float(np.prod(out)) * a[-1]
    return flops / 1e9
