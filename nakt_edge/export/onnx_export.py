"""PyTorch -> ONNX: a pure converter with dynamic batch and H/W, and the ``nakt.*`` metadata writer.

The legacy TorchScript exporter is the default: 2-3x faster to run than the dynamo one, and its
graphs pass ONNX Runtime's symbolic shape inference, which INT8 pre-processing needs
(ENVIRONMENT.md). ``exporter="dynamo"`` uses torch.export instead.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from nakt_edge.errors import InputError, RunError

log = logging.getLogger("nakt_edge")
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 17
EXPORTERS = ("legacy", "dynamo")


def torch_to_onnx(model: nn.Module, sample: torch.Tensor, path: str | Path, *, opset: int = DEFAULT_OPSET,
                  exporter: str = "legacy", dynamic_hw: bool = True) -> Path:
    """Export ``model`` (eval mode, CPU) to ``path`` with input ``image`` and output ``logits``.

    Batch is always dynamic; H and W too when ``dynamic_hw``. Raises RunError when the exporter fails.
    """
    if exporter not in EXPORTERS:
        raise InputError(f"unknown exporter '{exporter}'", hint=f"use one of {', '.join(EXPORTERS)}")
    if opset < 17:
        raise InputError(f"opset {opset} is too old", hint="use --opset 17 or newer")
    model = model.eval().cpu()
    path = Path(path)
    axes = {0: "batch", 2: "height", 3: "width"} if dynamic_hw else {0: "batch"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if exporter == "legacy":
                torch.onnx.export(model, (sample,), str(path), dynamo=False, opset_version=opset,
                                  input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                  dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes})
            else:
                dims = {axis: torch.export.Dim.DYNAMIC for axis in axes}
                program = torch.onnx.export(model, (sample,), dynamo=True, opset_version=opset,
                                            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                            dynamic_shapes=(dims,))
                program.save(str(path), external_data=False)
    except Exception as error:  # noqa: BLE001  (exporters raise many unrelated types)
        raise RunError(f"torch.onnx.export ({exporter}) failed: {str(error).splitlines()[0][:300]}",
                       hint="try --exporter dynamo or legacy") from None
    return path


def set_metadata(path: str | Path, props: dict[str, str]) -> None:
    """Add or replace ``metadata_props`` of the ONNX file at ``path`` in place."""
    model = onnx.load(str(path))
    existing = {prop.key: prop for prop in model.metadata_props}
    for key, value in props.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(model, str(path))
