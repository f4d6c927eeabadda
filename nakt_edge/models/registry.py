"""The architecture registry: every student or teacher architecture by name, with its capabilities.

Entries are added with ``@register_arch``; ``build_model(ModelSpec)`` is the only way models are
created, so an unknown name always gets the same answer: the valid names and the closest one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nakt_edge.errors import ModelSpecError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What is needed to rebuild a model: architecture, encoder, channels, width and extra kwargs."""

    arch: str
    encoder: str | None = None
    in_channels: int = 1
    width: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for messages, e.g. ``unet (encoder resnet18, width 0.5, 1 channel)``."""
        parts = ([f"encoder {self.encoder}"] if self.encoder else []) + [f"width {self.width:g}",
                                                                          f"{self.in_channels} channel(s)"]
        parts += [f"{key}={value}" for key, value in sorted(self.kwargs.items())]
        return f"{self.arch} ({', '.join(parts)})"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            arch=data["arch"],
            encoder=data.get("encoder"),
            in_channels=int(data.get("in_channels", 1)),
            width=float(data.get("width", 1.0)),
            kwargs=dict(data.get("kwargs", {})),
        )


@dataclass(frozen=True)
class ArchInfo:
    """A registry entry: how to build the architecture and what it can do."""

    name: str
    builder: Callable[[ModelSpec], nn.Module]
    divisor: int
    family: str
    default_encoder: str | None
    description: str


_REGISTRY: dict[str, ArchInfo] = {}


def register_arch(
    name: str, *, divisor: int, family: str, description: str, default_encoder: str | None = None
) -> Callable[[Callable[[ModelSpec], nn.Module]], Callable[[ModelSpec], nn.Module]]:
    """Decorator that adds a builder ``fn(spec) -> nn.Module`` to the registry under ``name``."""

    def decorate(builder: Callable[[ModelSpec], nn.Module]) -> Callable[[ModelSpec], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"architecture '{name}' is registered twice")
        _REGISTRY[name] = ArchInfo(name, builder, divisor, family, default_encoder, description)
        return builder

    return decorate


def _ensure_loaded() -> None:
    from nakt_edge.models import attention_unet, cmunext, lraspp, sdu_net, smp_archs, unet  # noqa: F401  (registers)


def list_archs() -> list[ArchInfo]:
    _ensure_loaded()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_arch(name: str) -> ArchInfo:
    """The registry entry for ``name`` (case-insensitive, ``+`` read as ``plus``); errors list valid names."""
    _ensure_loaded()
    key = name.lower().replace("-", "_").replace("++", "plusplus").replace("+", "plus")
    if key in _REGISTRY:
        return _REGISTRY[key]
    close = difflib.get_close_matches(key, list(_REGISTRY), n=1)
    suggestion = f"did you mean '{close[0]}'? " if close else ""
    raise ModelSpecError(
        f"unknown architecture '{name}'", hint=f"{suggestion}valid: {', '.join(sorted(_REGISTRY))}"
    )


def build_model(spec: ModelSpec) -> nn.Module:
    """Build the (randomly initialised) model that ``spec`` describes; one logit channel out."""
    info = get_arch(spec.arch)
    if spec.in_channels not in (1, 3):
        raise ModelSpecError(f"in_channels must be 1 or 3, not {spec.in_channels}", hint="use 1 for grayscale")
    if spec.width <= 0:
        raise ModelSpecError(f"width must be positive, not {spec.width}", hint="use e.g. 0.25 or 1.0")
    if info.family != "smp" and spec.encoder:
        raise ModelSpecError(
            f"architecture '{info.name}' takes no encoder (got '{spec.encoder}')",
            hint="drop --encoder, or pick an smp architecture such as smp_unet",
        )
    try:
        return info.builder(resolve_spec(spec))
    except TypeError as error:
        raise ModelSpecError(f"cannot build '{info.name}': {error}", hint="check the model kwargs") from None


def resolve_spec(spec: ModelSpec) -> ModelSpec:
    """``spec`` with the canonical arch name and the default encoder filled in."""
    info = get_arch(spec.arch)
    return ModelSpec(info.name, spec.encoder or info.default_encoder, spec.in_channels, spec.width, spec.kwargs)


def parse_model_args(pairs: list[str]) -> dict[str, Any]:
    """``["low_stride=4", "dims=[8,8,24,48,96]"]`` -> kwargs; values are JSON, else kept as strings."""
    import json

    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ModelSpecError(f"--model-arg '{pair}' is not KEY=VALUE", hint="e.g. --model-arg low_stride=4")
        try:
            kwargs[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key.strip()] = value
    return kwargs


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_count(spec: ModelSpec) -> int:
    """Parameters of the model ``spec`` describes, built on the meta device (no memory, fast)."""
    import torch

    try:
        with torch.device("meta"):
            return count_parameters(build_model(spec))
    except (RuntimeError, NotImplementedError):  # some encoders initialise with data-dependent ops
        return count_parameters(build_model(spec))
