"""Quantization-aware training that matches the exporter's INT8 recipe, so gated INT8 loses (almost) nothing.

The exporter (``nakt_edge.export.quantize``) quantizes each Conv weight per output channel,
symmetric, 7-bit (``reduce_range``: levels -64..64, scale = max |w| / 64), after folding its
BatchNorm into it; activations become per-tensor UINT8 from calibration min/max. Post-training
rounding of the folded weights is what costs compact students their gate (BUSI cmunext_edge:
mask Dice vs FP32 0.948-0.965 for every PTQ recipe). Here, during training:

- every Conv's *folded* weight (``w * gamma / sqrt(var + eps)`` of the BatchNorm that follows
  it, frozen in eval mode) is fake-quantized on exactly that grid, straight-through gradients;
- the outputs of activations and of convs without a BatchNorm are fake-quantized to UINT8 with
  running min/max (what MinMax calibration will see).

``snap_to_grid`` then writes the grid values into the weights: the exported FP32 model folds
them back onto the grid, and ONNX Runtime's weight quantization of it is lossless. Krishnamoorthi
(2018), "Quantizing deep convolutional networks for efficient inference: A whitepaper"
(arXiv:1806.08342), sections 3.2 and 4 (fake quantization, BatchNorm folding with frozen
statistics); no code copied.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from nakt_edge.config import QAT_MODES

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.Sigmoid)
WEIGHT_QMAX = 64  # quantize_int8's weights: per-channel symmetric QInt8, reduce_range -> -64..64 (ORT quant_utils)
EMA = 0.99  # running min/max momentum of the activation observers


def conv_batchnorm_pairs(model: nn.Module) -> Iterator[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Every Conv2d with the BatchNorm2d that directly follows it in a Sequential (None when there is none)."""
    followed: dict[int, nn.BatchNorm2d] = {}
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.children())
            for first, second in zip(children, children[1:]):
                if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                    followed[id(first)] = second
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            yield module, followed.get(id(module))


def _fold_scale(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> torch.Tensor:
    """Per-output-channel factor the BatchNorm multiplies the conv's weight by when folded (1 without one)."""
    if bn is None:
        return torch.ones(conv.out_channels, device=conv.weight.device, dtype=conv.weight.dtype)
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    return gamma / torch.sqrt(bn.running_var + bn.eps)


def fake_quantized_weight(conv: nn.Conv2d, bn: nn.BatchNorm2d | None) -> torch.Tensor:
    """The conv weight whose BatchNorm-folded value lies on the exporter's per-channel INT8 grid."""
    scale = _fold_scale(conv, bn)
    safe = torch.where(scale.abs() > 1e-12, scale, torch.ones_like(scale))
    folded = conv.weight * safe.view(-1, 1, 1, 1)
    step = folded.detach().abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / WEIGHT_QMAX
    zero = torch.zeros(conv.out_channels, dtype=torch.int32, device=folded.device)
    grid = torch.fake_quantize_per_channel_affine(folded, step.float(), zero, 0, -WEIGHT_QMAX, WEIGHT_QMAX)
    return grid / safe.view(-1, 1, 1, 1)


class RunningRange:
    """Running (EMA) min/max of a tensor, widened to hold 0, as MinMax calibration will see it."""

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None

    def update(self, tensor: torch.Tensor) -> None:
        low, high = float(tensor.detach().min()), float(tensor.detach().max())
        self.low = low if self.low is None else EMA * self.low + (1 - EMA) * low
        self.high = high if self.high is None else EMA * self.high + (1 - EMA) * high

    def step(self) -> float | None:
        """One UINT8 quantization step of the range (None before the first update)."""
        if self.low is None or self.high is None:
            return None
        return max((max(self.high, 0.0) - min(self.low, 0.0)) / 255.0, 1e-8)


class ActivationObserver:
    """Running min/max of one tensor and its UINT8 fake quantization (forward hook; mode ``round``)."""

    def __init__(self) -> None:
        self.range = RunningRange()

    def __call__(self, module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
        if module.training:
            self.range.update(output)
        step = self.range.step()
        if step is None:
            return output
        zero_point = int(round(-min(self.range.low or 0.0, 0.0) / step))
        return torch.fake_quantize_per_tensor_affine(output, step, zero_point, 0, 255)


class ConvInputNoise:
    """Pseudo-quantization noise (forward pre-hook; mode ``noise``): in training, a conv's input gets uniform
    noise of one UINT8 step of its running range, the error rounding to that grid makes; in eval, nothing.

    Every Conv input is a UINT8 tensor in the INT8 export (the model input, activations, sums, concatenations,
    resizes), so this covers all of them. Unlike rounding, random noise cannot be co-adapted to: the network
    has to become insensitive to it, so its FP32 and INT8 masks agree (Defossez, Adi, Synnaeve 2021,
    "Differentiable Model Compression via Pseudo Quantization Noise", arXiv:2104.09987)."""

    def __init__(self) -> None:
        self.range = RunningRange()

    def __call__(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...] | None:
        if not module.training:
            return None
        (tensor,) = inputs
        self.range.update(tensor)
        step = self.range.step()
        return (tensor + (torch.rand_like(tensor) - 0.5) * step,)


def attach_fake_quant(model: nn.Module, mode: str = "round") -> list[torch.utils.hooks.RemovableHandle]:
    """Make ``model`` train as its INT8 export will compute; state_dict unchanged.

    Weights: BatchNorm-folded, on the exporter's per-channel grid (both modes). Activations: ``round``
    fake-quantizes activation outputs to UINT8 (training and eval); ``noise`` adds one step of uniform
    noise to every conv input in training only (``ConvInputNoise``). BatchNorms are held in eval mode
    (frozen statistics, the fold the exporter makes) even under ``model.train()``. Returns the hook
    handles (``handle.remove()`` undoes the activation part)."""
    if mode not in QAT_MODES:
        raise ValueError(f"unknown QAT mode '{mode}' (use one of {', '.join(QAT_MODES)})")
    handles = []
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    def freeze_norms(*_: object) -> None:
        for bn in norms:
            bn.eval()

    handles.append(model.register_forward_pre_hook(freeze_norms))
    for conv, bn in conv_batchnorm_pairs(model):
        conv.forward = _quantized_forward(conv, bn)  # instance attribute: weights and their names stay
        if mode == "noise":
            handles.append(conv.register_forward_pre_hook(ConvInputNoise()))
        elif bn is None:
            handles.append(conv.register_forward_hook(ActivationObserver()))
    if mode == "round":
        for module in model.modules():
            if isinstance(module, ACTIVATIONS):
                handles.append(module.register_forward_hook(ActivationObserver()))
    return handles


def _quantized_forward(conv: nn.Conv2d, bn: nn.BatchNorm2d | None):  # noqa: ANN202  (a bound forward)
    def forward(x: torch.Tensor) -> torch.Tensor:
        return conv._conv_forward(x, fake_quantized_weight(conv, bn), conv.bias)
    return forward


@torch.no_grad()
def snap_to_grid(model: nn.Module) -> nn.Module:
    """Write the grid values into the conv weights (after quantization-aware training, before export)."""
    for conv, bn in conv_batchnorm_pairs(model):
        conv.weight.copy_(fake_quantized_weight(conv, bn))
    return model
