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


class ActivationObserver:
    """Running min/max of one tensor and its UINT8 fake quantization (forward hook)."""

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None

    def __call__(self, module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
        if module.training:
            low, high = float(output.detach().min()), float(output.detach().max())
            self.low = low if self.low is None else EMA * self.low + (1 - EMA) * low
            self.high = high if self.high is None else EMA * self.high + (1 - EMA) * high
        if self.low is None or self.high is None:
            return output
        low, high = min(self.low, 0.0), max(self.high, 0.0)
        step = max((high - low) / 255.0, 1e-8)
        zero_point = int(round(-low / step))
        return torch.fake_quantize_per_tensor_affine(output, step, zero_point, 0, 255)


def attach_fake_quant(model: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
    """Make ``model`` train and predict as its INT8 export will (weights and activations); state_dict unchanged.

    BatchNorms are held in eval mode (frozen statistics, the fold the exporter makes) even under
    ``model.train()``. Returns the hook handles (``handle.remove()`` undoes the activation part)."""
    handles = []
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    def freeze_norms(*_: object) -> None:
        for bn in norms:
            bn.eval()

    handles.append(model.register_forward_pre_hook(freeze_norms))
    for conv, bn in conv_batchnorm_pairs(model):
        conv.forward = _quantized_forward(conv, bn)  # instance attribute: weights and their names stay
        if bn is None:
            handles.append(conv.register_forward_hook(ActivationObserver()))
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
