"""Building blocks shared by our U-Net family (vanilla U-Net, Attention U-Net, SDU-Net).

All three are the same 5-level skeleton (2x2 max-pool down; decoder: x2 nearest upsample +
3x3 conv halving the channels, concatenated skip, then the level's operation; 1x1 head); they
differ only in the level operation and in attention gates on the skips (ARCHITECTURES.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

LevelOp = Callable[[int, int], nn.Module]


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=padding, dilation=dilation, bias=True),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv_bn_relu(in_channels, out_channels), conv_bn_relu(out_channels, out_channels))


class AttentionGate(nn.Module):
    """Additive attention gate of Oktay et al. 2018: scales the skip by a per-pixel weight in (0, 1)."""

    def __init__(self, gate_channels: int, skip_channels: int, inter_channels: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.Conv2d(gate_channels, inter_channels, 1), nn.BatchNorm2d(inter_channels))
        self.skip = nn.Sequential(nn.Conv2d(skip_channels, inter_channels, 1), nn.BatchNorm2d(inter_channels))
        self.psi = nn.Sequential(nn.Conv2d(inter_channels, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, gate: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return skip * self.psi(self.relu(self.gate(gate) + self.skip(skip)))


class UNetFamily(nn.Module):
    """The 5-level U-Net skeleton with a pluggable level operation and optional attention gates.

    Args:
        in_channels: 1 (grayscale) or 3.
        widths: encoder widths, shallow to deep (5 values; paper: 64..1024).
        level_op: ``op(c_in, c_out) -> nn.Module`` used at every level (double conv, SDO, ...).
        decoder_widths: output widths of the 4 decoder steps, deep to shallow (default: the
            encoder widths mirrored, i.e. a symmetric U-Net).
        attention: put an attention gate on every skip connection.

    Input H and W must be divisible by 16 (four poolings); the output is (N, 1, H, W) logits.
    """

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        level_op: LevelOp,
        decoder_widths: Sequence[int] | None = None,
        attention: bool = False,
    ) -> None:
        super().__init__()
        if len(widths) != 5:
            raise TypeError(f"widths needs 5 values, got {len(widths)}")
        decoder_widths = list(decoder_widths) if decoder_widths is not None else list(widths[-2::-1])
        if len(decoder_widths) != 4:
            raise TypeError(f"decoder_widths needs 4 values, got {len(decoder_widths)}")
        self.pool = nn.MaxPool2d(2)
        self.encoder = nn.ModuleList()
        channels = in_channels
        for width in widths:
            self.encoder.append(level_op(channels, width))
            channels = width
        self.up = nn.ModuleList()
        self.gates = nn.ModuleList() if attention else None
        self.decoder = nn.ModuleList()
        for skip_width, out_width in zip(widths[-2::-1], decoder_widths):
            upsample = nn.Upsample(scale_factor=2, mode="nearest")
            self.up.append(nn.Sequential(upsample, conv_bn_relu(channels, out_width)))
            if self.gates is not None:
                self.gates.append(AttentionGate(out_width, skip_width, max(1, channels // 4)))
            self.decoder.append(level_op(skip_width + out_width, out_width))
            channels = out_width
        self.head = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for index, level in enumerate(self.encoder):
            x = level(x if index == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        for index, (up, level) in enumerate(zip(self.up, self.decoder)):
            x = up(x)
            skip = skips.pop()
            if self.gates is not None:
                skip = self.gates[index](x, skip)
            x = level(torch.cat([skip, x], dim=1))
        return self.head(x)


def scaled_widths(base: Sequence[int], width: float, multiple: int = 1) -> list[int]:
    """``base`` times ``width``, each rounded to a positive multiple of ``multiple``."""
    return [max(multiple, int(round(b * width / multiple)) * multiple) for b in base]
