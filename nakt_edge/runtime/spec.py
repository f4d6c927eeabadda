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

KEYS = ("layout", "channels", "size", "normalize", "output", "activation", "foreground", "output_layout",
        "temperature")
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
    output_layout: str | None = None  # inferred from the output shape; None only for (N, H, W) outputs
    temperature: float = 1.0  # foreground probability = sigmoid(foreground logit / temperature) (calibration)

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
        if self.output_layout:
            props["nakt.output_layout"] = self.output_layout
        if self.temperature != 1.0:
            props["nakt.temperature"] = f"{self.temperature:.6g}"
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


def _canonical(raw: dict[str, Any], source: str, where: Path | None = None) -> dict[str, str]:
    """Contract keys without the ``nakt.`` prefix. File metadata may hold other keys (ignored); a sidecar
    or the overrides exist only to state the contract, so an unknown key there is a typo and refused."""
    out = {}
    for key, value in raw.items():
        name = key[len("nakt."):] if key.startswith("nakt.") else key
        if name in KEYS and value is not None:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ModelSpecError(f"value of '{key}' must be a string or a number, not {type(value).__name__}",
                                     hint='write e.g. {"nakt.channels": "1"}', path=where)
            out[name] = str(value)
        elif name not in KEYS and (source == "sidecar" or (source == "overrides" and key.startswith("nakt."))):
            raise ModelSpecError(f"unknown contract key '{key}'", hint=f"valid: nakt.{', nakt.'.join(KEYS)}",
                                 path=where)
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
    return _canonical(raw, "sidecar", path)


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


MAX_CLASSES = 32
_FRACTIONS = (1, 2, 4, 8, 16, 32)  # outputs at a fraction of the input size still count as spatial


def _spatial(dim: Any, full: Any) -> bool | None:
    """Can output ``dim`` be the spatial axis of input size ``full``? None: the shapes cannot tell."""
    if isinstance(dim, int) and dim > 0 and isinstance(full, int) and full > 0:
        return dim > 1 and full % dim == 0 and full // dim in _FRACTIONS
    if isinstance(dim, int) and dim > 0:  # a static dim of a dynamic input: a few pixels is no image axis
        return None if dim > MAX_CLASSES else False
    if isinstance(dim, str) and isinstance(full, str) and dim == full:
        return True
    return None


def _class_axis(dim: Any) -> bool | None:
    if isinstance(dim, int) and dim > 0:
        return dim <= MAX_CLASSES
    return None


def infer_output_layout(input_shape: list[Any], output_shape: list[Any], layout: str, where: Path,
                        stated: str | None = None) -> str | None:
    """NCHW or NHWC for a rank-4 output, from its dims against the input's H and W (the class axis is the
    one that is not spatial); None for an (N, H, W) output. A stated layout is checked against the
    shapes; a contradiction, an ambiguous case or an output that is no segmentation map is refused."""
    if len(output_shape) == 3:
        return None
    if len(output_shape) != 4:
        raise ModelSpecError(f"output has rank {len(output_shape)} {list(output_shape)}; a segmenter gives "
                             "(N, C, H, W), (N, H, W, C) or (N, H, W)",
                             hint="pass a segmentation model (this looks like a classifier or an embedding)",
                             path=where)
    height, width = (input_shape[2], input_shape[3]) if layout == "NCHW" else (input_shape[1], input_shape[2])
    verdicts = {}
    for name, (classes, rows, cols) in {"NCHW": output_shape[1:4], "NHWC": (output_shape[3], *output_shape[1:3])
                                        }.items():
        checks = [_class_axis(classes), _spatial(rows, height), _spatial(cols, width)]
        verdicts[name] = False if False in checks else True if all(checks) else None
    if stated is not None:
        if verdicts[stated] is False:
            raise ModelSpecError(f"nakt.output_layout = {stated} contradicts the output shape {list(output_shape)} "
                                 f"for an input of {height}x{width}",
                                 hint="fix nakt.output_layout (NCHW or NHWC) in the sidecar or --contract", path=where)
        return stated
    possible = [name for name, verdict in verdicts.items() if verdict is not False]
    certain = [name for name, verdict in verdicts.items() if verdict]
    if len(possible) == 1:
        return possible[0]
    if len(certain) == 1:
        return certain[0]
    if not possible:
        raise ModelSpecError(f"output shape {list(output_shape)} is no segmentation map of an input of "
                             f"{height}x{width} (at most {MAX_CLASSES} classes, spatial axes the input's size or a "
                             "fraction of it)", hint="pass a segmentation model, or set nakt.output_layout", path=where)
    raise ModelSpecError(f"cannot tell the class axis of the output shape {list(output_shape)}",
                         hint='set {"nakt.output_layout": "NCHW"} (or NHWC) in the sidecar, or --contract '
                              "output_layout=NCHW", path=where)


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
    try:
        temperature = float(values.get("temperature", "1"))
    except ValueError:
        raise bad("temperature", "a positive number such as 1.4") from None
    if not 0.01 <= temperature <= 100:
        raise bad("temperature", "a positive number between 0.01 and 100")
    return TeacherSpec(layout, int(values["channels"]), size, normalize, output, activation, foreground,
                       output_layout.upper() if output_layout else None, temperature)


def resolve_spec(
    model_path: str | Path,
    input_shape: list[Any],
    last_op: str | None,
    metadata: dict[str, str],
    overrides: dict[str, Any] | None = None,
    output_shape: list[Any] | None = None,
) -> TeacherSpec:
    """Merge graph inference < file metadata < sidecar < overrides into a validated TeacherSpec; the
    output layout is inferred from ``output_shape`` (or a stated one checked against it)."""
    values = infer_from_graph(input_shape, last_op)
    values.update(_canonical(metadata, "metadata"))
    values.update(read_sidecar(model_path))
    values.update(_canonical(dict(overrides or {}), "overrides"))
    spec = _parse(values, Path(model_path))
    if output_shape is None or len(input_shape) != 4:
        return spec
    layout = infer_output_layout(input_shape, output_shape, spec.layout, Path(model_path), spec.output_layout)
    return TeacherSpec(**{**spec.to_dict(), "output_layout": layout})
