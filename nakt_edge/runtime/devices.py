"""Choosing the torch device: ``auto`` takes CUDA when usable, ``cuda`` fails loudly when it is not."""

from __future__ import annotations

import logging

import torch

from nakt_edge.errors import DeviceError

log = logging.getLogger("nakt_edge")


def torch_device(device: str = "auto") -> torch.device:
    """Resolve ``auto|cpu|cuda`` (or ``cuda:N``) to a usable torch device."""
    if device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(
                "--device cuda was asked for, but torch sees no usable CUDA GPU",
                hint="use --device cpu or auto, or install a CUDA build of torch on a GPU machine",
            )
        return torch.device(device)
    raise DeviceError(f"unknown device '{device}'", hint="use auto, cpu or cuda")
