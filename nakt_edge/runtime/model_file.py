"""Opening an ONNX file that may come from anyone: parse it without its weights, and refuse
external data that lives outside the model's folder (a path like ``../../etc/x`` or ``/data/y``
would make ONNX Runtime read any file the user can read)."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx.external_data_helper import _get_all_tensors, uses_external_data

from nakt_edge.errors import InputError, ModelSpecError


def load_graph(path: str | Path) -> onnx.ModelProto:
    """The model at ``path`` without its weights; ModelSpecError when it is no ONNX file."""
    if not Path(path).is_file():
        raise InputError("model file not found", hint="check the path of the .onnx file", path=path)
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001  (protobuf raises DecodeError and friends)
        raise ModelSpecError(f"not an ONNX model ({type(error).__name__})",
                             hint="pass a .onnx file exported by torch.onnx, tf2onnx or similar", path=path) from None


def check_external_data(path: str | Path, model: onnx.ModelProto | None = None) -> None:
    """Refuse tensors whose external data file is absolute, escapes the model's folder, or is missing."""
    path = Path(path)
    model = model if model is not None else load_graph(path)
    folder = path.resolve().parent
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ModelSpecError(f"external data of tensor '{tensor.name}' points outside the model's folder "
                                 f"({location})", hint="keep the weights file beside the .onnx file and re-save it "
                                 "with a plain file name as location", path=path)
        if not target.is_file():
            raise ModelSpecError(f"external data file '{location}' of tensor '{tensor.name}' is missing",
                                 hint="copy it beside the .onnx file", path=path)
