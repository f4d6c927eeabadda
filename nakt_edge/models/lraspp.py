"""LR-ASPP on a MobileNetV3-Small backbone, re-implemented from the paper: a sub-0.6-GFLOPs student.

Howard et al. (2019), "Searching for MobileNetV3", ICCV, arXiv:1905.02244: the Small backbone of
its Table 2 (inverted residual blocks with squeeze-and-excite, ReLU in the first blocks and
Hardswish after), and the Lite R-ASPP segmentation head of its Sec. 6.4: the last stage runs at
output stride 16 with half the channels and dilated depthwise convs; the 1/16 features go through
a 1x1 conv (128 channels) scaled by a global-pooling sigmoid branch, are upsampled x2 and added
to a 1x1 classifier on the 1/8 features; the logits are upsampled bilinearly to the input size.
Written from the paper's text, no code copied. ``low_stride=4`` takes the low-level branch from
the 1/4 features instead (finer masks for small lesions, a few MFLOPs more).

Plain Conv/BN/ReLU/Hardswish/HardSigmoid graph with bilinear upsampling: exports with dynamic
H/W and quantizes with QDQ. ``width`` scales every channel count (multiples of 8).
"""

from __future__ import annotations

import torch
from torch import nn

from nakt_edge.models.registry import ModelSpec, register_arch

# kernel, expansion, out, squeeze-excite, hardswish, stride (MobileNetV3-Small, Table 2)
SMALL_BLOCKS = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
    (5, 288, 96, True, True, 2),
    (5, 576, 96, True, True, 1),
    (5, 576, 96, True, True, 1),
)
LAST_STAGE = 8  # blocks from here on: stride 1, dilation 2, half the channels (Sec. 6.4)
HEAD_CHANNELS = 128


def divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never below 90% of it (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        squeezed = divisible(channels / 4)
        self.layers = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, squeezed, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(squeezed, channels, 1), nn.Hardsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.layers(x)


def _conv_bn(in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, dilation: int = 1,
             groups: int = 1, act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, groups,
                                         bias=False), nn.BatchNorm2d(out_channels)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion, k x k depthwise (strided or dilated), optional squeeze-excite, 1x1 linear projection."""

    def __init__(self, in_channels: int, kernel: int, expanded: int, out_channels: int, se: bool, hardswish: bool,
                 stride: int, dilation: int = 1) -> None:
        super().__init__()
        act = nn.Hardswish if hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != in_channels:
            layers.append(_conv_bn(in_channels, expanded, act=act))
        layers.append(_conv_bn(expanded, expanded, kernel, stride, dilation, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcite(expanded))
        layers.append(_conv_bn(expanded, out_channels, act=None))
        self.layers = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x) if self.residual else self.layers(x)


class LRASPPMobileNetV3(nn.Module):
    """MobileNetV3-Small + LR-ASPP; input H, W divisible by 16; output (N, 1, H, W) logits.

    Args:
        in_channels: 1 or 3.
        width: channel multiplier of backbone and head.
        low_stride: 8 (the paper) or 4: where the low-level classifier branch taps the backbone.
    """

    def __init__(self, in_channels: int = 1, width: float = 1.0, low_stride: int = 8) -> None:
        super().__init__()
        if low_stride not in (4, 8):
            raise TypeError(f"low_stride must be 4 or 8, got {low_stride}")
        channels = divisible(16 * width)
        self.stem = _conv_bn(in_channels, channels, 3, stride=2, act=nn.Hardswish)
        self.blocks = nn.ModuleList()
        stride_so_far, self.low_index, low_channels = 2, 0, channels
        for index, (kernel, expansion, out, se, hardswish, stride) in enumerate(SMALL_BLOCKS):
            last = index >= LAST_STAGE
            expanded = divisible(expansion * width / (2 if last else 1))
            out_channels = divisible(out * width / (2 if last else 1))
            self.blocks.append(InvertedResidual(channels, kernel, expanded, out_channels, se, hardswish,
                                                1 if last else stride, 2 if last else 1))
            stride_so_far *= 1 if last else stride
            channels = out_channels
            if stride_so_far == low_stride:
                self.low_index, low_channels = index, channels
        head = divisible(HEAD_CHANNELS * width)
        self.high = _conv_bn(channels, head)
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, head, 1, bias=False), nn.Sigmoid())
        self.up_high = nn.Upsample(scale_factor=16 // low_stride, mode="bilinear", align_corners=False)
        self.low_classifier = nn.Conv2d(low_channels, 1, 1)
        self.high_classifier = nn.Conv2d(head, 1, 1)
        self.up_out = nn.Upsample(scale_factor=low_stride, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        low = x
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index == self.low_index:
                low = x
        high = self.up_high(self.high(x) * self.scale(x))
        return self.up_out(self.low_classifier(low) + self.high_classifier(high))


@register_arch("lraspp_mobilenetv3", divisor=16, family="edge",
               description="LR-ASPP on MobileNetV3-Small (output stride 16); ~0.2 GFLOPs at 256 px")
def build_lraspp(spec: ModelSpec) -> nn.Module:
    """Args in ``spec.kwargs``: ``low_stride`` (8: the paper; 4: finer low-level branch)."""
    return LRASPPMobileNetV3(spec.in_channels, spec.width, **spec.kwargs)
