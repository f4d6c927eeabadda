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


def save_weights(path: str | Path, model: nn.Module, *, epoch: int | None = None) -> Path:
    """Weights only; ``epoch`` (recorded in the file's metadata) says which epoch they are from."""
    metadata = {"epoch": str(epoch)} if epoch is not None else None
    with atomic_path(path, durable=True) as tmp:
        save_file(_contiguous(model.state_dict()), str(tmp), metadata=metadata)
    return Path(path)


def weights_epoch(path: str | Path) -> int | None:
    """The epoch recorded in a weights file, None when absent (or no file, or an older file)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            epoch = (handle.metadata() or {}).get("epoch")
    except (SafetensorError, OSError):
        return None
    return int(epoch) if epoch is not None else None


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
    """Write weights, Adam moments and ``counters`` (epoch, best epoch, history, ...: JSON) to one safetensors
    file, durably: its rename is the commit point of an epoch."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    optim_state = optimizer.state_dict()
    for index, slots in optim_state["state"].items():
        for slot, value in slots.items():
            tensors[f"optim.{index}.{slot}"] = value if torch.is_tensor(value) else torch.tensor(value)
    metadata = {"counters": json.dumps(counters), "param_groups": json.dumps(optim_state["param_groups"])}
    with atomic_path(path, durable=True) as tmp:
        save_file(_contiguous(tensors), str(tmp), metadata=metadata)
    return Path(path)


def load_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore ``model`` and ``optimizer`` from ``save_training_state``; return the counters.

    A damaged checkpoint is an error naming it, never a silent restart from scratch."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        counters = json.loads(metadata["counters"])
        param_groups = json.loads(metadata["param_groups"])
    except (SafetensorError, OSError, KeyError, ValueError) as error:
        raise ModelSpecError(f"training checkpoint is damaged ({type(error).__name__}: {str(error)[:80]})",
                             hint="restore it from a backup, or start again with --force (the epochs are lost)",
                             path=path) from None
    try:
        model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as error:
        raise ModelSpecError(f"training checkpoint does not fit the model: {str(error).splitlines()[0]}",
                             hint="resume with the run's own --arch/--width, or use a new --out", path=path) from None
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, slot = key.split(".", 2)
            state.setdefault(int(index), {})[slot] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})
    return counters
