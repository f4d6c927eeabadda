"""Checkpoints as safetensors (never pickle): best weights, and resumable training state.

``model.safetensors`` holds the weights only. ``last.safetensors`` holds weights and the Adam
state under ``model.`` / ``optim.`` prefixes, with the epoch counters and the optimizer's
param groups as JSON in the file's metadata, so a run resumes without unpickling anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from nakt_edge.errors import ModelSpecError
from nakt_edge.outputs import atomic_path


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save_weights(path: str | Path, model: nn.Module) -> Path:
    with atomic_path(path) as tmp:
        save_file(_contiguous(model.state_dict()), str(tmp))
    return Path(path)


def load_weights(path: str | Path, model: nn.Module) -> nn.Module:
    """Load a weights file into ``model`` (strict); a mismatch names the file."""
    path = Path(path)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ModelSpecError(f"cannot read weights: {error}", hint="re-create the run", path=path) from None
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ModelSpecError(
            f"weights do not fit the architecture in model.json: {first}", hint="re-create the run", path=path
        ) from None
    return model


def save_training_state(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, counters: dict[str, Any]
) -> Path:
    """Write weights, Adam moments and ``counters`` (epoch, best Dice, ...) to one safetensors file."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim_state = optimizer.state_dict()
    for index, slots in optim_state["state"].items():
        for slot, value in slots.items():
            tensors[f"optim.{index}.{slot}"] = value if torch.is_tensor(value) else torch.tensor(value)
    metadata = {"counters": json.dumps(counters), "param_groups": json.dumps(optim_state["param_groups"])}
    with atomic_path(path) as tmp:
        save_file(_contiguous(tensors), str(tmp), metadata=metadata)
    return Path(path)


def load_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` from ``save_training_state``; return the counters."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, slot = key.split(".", 2)
            state.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    return json.loads(metadata["counters"])
