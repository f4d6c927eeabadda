"""The teacher I/O contract: how to feed an ONNX model of any framework and read its foreground.

Keys (DESIGN.md) are resolved as: values inferred from the graph < ``nakt.*`` metadata_props in
the file < sidecar ``<model>.onnx.json`` < explicit overrides (CLI flags). Keys may be given with
or without the ``nakt.`` prefix in the sidecar and the overrides.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nakt_edge.errors import ModelSpecError

KEYS = ("layout", "channels", "size", "normalize", "output", "activation", "foreground", "output_layout")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PROBABILITY_OPS = ("Sigmoid", "Softmax")


@dataclass(frozen=True)
class TeacherSpec:
    """A resolved contract. ``size`` None means dynamic: the model is fed the working size."""

    layout: str = "NCHW"
    channels: int = 1
    size: tuple[int, int] | None = None
    normalize: str = "unit"
    output: str = "logits"
    activation: str | None = None  # None: sigmoid for 1 output channel, softmax otherwise
    foreground: int | None = None  # None: 1 for softmax, 0 for sigmoid
    output_layout: str | None = None  # None: same as the input layout

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_metadata(self) -> dict[str, str]:
        """The ``nakt.*`` metadata_props that describe this contract (for exported students)."""
        props = {
            "nakt.layout": self.layout,
            "nakt.channels": str(self.channels),
            "nakt.size": "dynamic" if self.size is None else f"{self.size[0]},{self.size[1]}",
            "nakt.normalize": self.normalize,
            "nakt.output": self.output,
        }
        if self.activation:
            props["nakt.activation"] = self.activation
        if self.foreground is not None:
            props["nakt.foreground"] = str(self.foreground)
        return props

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        """(mean, std, scale): the model input is ((x * scale) - mean) / std for x in [0, 1]."""
        if self.normalize == "unit":
            return (0.0,), (1.0,), 1.0
        if self.normalize == "raw255":
            return (0.0,), (1.0,), 255.0
        if self.normalize == "imagenet":
            if self.channels == 1:
                return (sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,), 1.0
            return IMAGENET_MEAN, IMAGENET_STD, 1.0
        mean, std = (float(v) for v in self.normalize.split(","))
        return (mean,), (std,), 1.0


def sidecar_path(model_path: str | Path) -> Path:
    return Path(str(model_path) + ".json")


def _canonical(raw: dict[str, Any], source: str) -> dict[str, str]:
    out = {}
    for key, value in raw.items():
        name = key[len("nakt."):] if key.startswith("nakt.") else key
        if name in KEYS and value is not None:
            out[name] = str(value)
        elif key.startswith("nakt.") and name not in KEYS and source == "overrides":
            raise ModelSpecError(f"unknown contract key '{key}'", hint=f"valid: {', '.join(KEYS)}")
    return out


def read_sidecar(model_path: str | Path) -> dict[str, str]:
    path = sidecar_path(model_path)
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelSpecError(f"sidecar is not valid JSON: {error.msg} at line {error.lineno}",
                             hint='write e.g. {"nakt.layout": "NHWC"}', path=path) from None
    if not isinstance(raw, dict):
        raise ModelSpecError("sidecar must hold a JSON object", hint='write e.g. {"nakt.layout": "NHWC"}', path=path)
    return _canonical(raw, "sidecar")


def infer_from_graph(input_shape: list[Any], last_op: str | None) -> dict[str, str]:
    """Contract values implied by the input shape (rank 4) and the op that makes the output."""
    inferred: dict[str, str] = {"normalize": "unit"}
    inferred["output"] = "probabilities" if last_op in _PROBABILITY_OPS else "logits"
    if len(input_shape) != 4:
        return inferred
    second, last = input_shape[1], input_shape[3]
    if second in (1, 3) and last not in (1, 3):
        inferred.update(layout="NCHW", channels=str(second))
    elif last in (1, 3) and second not in (1, 3):
        inferred.update(layout="NHWC", channels=str(last))
    elif second in (1, 3):
        inferred.update(layout="NCHW", channels=str(second))
    height, width = (input_shape[2], input_shape[3]) if inferred.get("layout", "NCHW") == "NCHW" \
        else (input_shape[1], input_shape[2])
    inferred["size"] = f"{height},{width}" if isinstance(height, int) and isinstance(width, int) else "dynamic"
    return inferred


def _parse(values: dict[str, str], where: Path) -> TeacherSpec:
    def bad(key: str, allowed: str) -> ModelSpecError:
        return ModelSpecError(f"nakt.{key} = '{values[key]}' is not valid", hint=f"use {allowed}", path=where)

    layout = values.get("layout", "NCHW").upper()
    if layout not in ("NCHW", "NHWC"):
        raise bad("layout", "NCHW or NHWC")
    if "channels" not in values:
        raise ModelSpecError("cannot tell the number of input channels from the graph",
                             hint='add {"nakt.channels": "1"} (or 3) to the sidecar <model>.onnx.json', path=where)
    if values["channels"] not in ("1", "3"):
        raise bad("channels", "1 or 3")
    size: tuple[int, int] | None = None
    if values.get("size", "dynamic") != "dynamic":
        try:
            parts = [int(v) for v in values["size"].replace("x", ",").split(",")]
            size = (parts[0], parts[-1])
        except ValueError:
            raise bad("size", "H,W or dynamic") from None
    normalize = values.get("normalize", "unit")
    if normalize not in ("unit", "imagenet", "raw255"):
        try:
            mean, std = (float(v) for v in normalize.split(","))
        except ValueError:
            raise bad("normalize", "unit, imagenet, raw255 or mean,std (on the 0..1 scale)") from None
        if std == 0:
            raise bad("normalize", "a non-zero std")
    output = values.get("output", "logits")
    if output not in ("logits", "probabilities"):
        raise bad("output", "logits or probabilities")
    activation = values.get("activation")
    if activation not in (None, "sigmoid", "softmax"):
        raise bad("activation", "sigmoid or softmax")
    output_layout = values.get("output_layout")
    if output_layout is not None and output_layout.upper() not in ("NCHW", "NHWC"):
        raise bad("output_layout", "NCHW or NHWC")
    try:
        foreground = int(values["foreground"]) if "foreground" in values else None
    except ValueError:
        raise bad("foreground", "a channel index such as 1") from None
    return TeacherSpec(layout, int(values["channels"]), size, normalize, output, activation, foreground,
                       output_layout.upper() if output_layout else None)


def resolve_spec(
    model_path: str | Path,
    input_shape: list[Any],
    last_op: str | None,
    metadata: dict[str, str],
    overrides: dict[str, Any] | None = None,
) -> TeacherSpec:
    """Merge graph inference < file metadata < sidecar < overrides into a validated TeacherSpec."""
    values = infer_from_graph(input_shape, last_op)
    values.update(_canonical(metadata, "metadata"))
    values.update(read_sidecar(model_path))
    values.update(_canonical(dict(overrides or {}), "overrides"))
    return _parse(values, Path(model_path))
