"""SDU-Net (Wang et al., arXiv 2004.03466): a U-Net whose double convs are stacked dilated operations.

SDO(C_in -> n) chains five 3x3 Conv-BN-ReLU with dilations (1, 3, 6, 9, 12) and widths
n/2, n/4, n/8, n/16, n/16, and concatenates all five outputs (n channels). About 15 M
parameters at width 1 (44% of the vanilla U-Net). ``decoder_widths`` narrower than the encoder
gives the asymmetric ASDU-Net.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nakt_edge.models.blocks import UNetFamily, conv_bn_relu, scaled_widths
from nakt_edge.models.registry import ModelSpec, register_arch
from nakt_edge.models.unet import BASE_WIDTHS

PAPER_DILATIONS = (1, 3, 6, 9, 12)


class StackedDilatedOp(nn.Module):
    """SDO: five chained dilated convs whose outputs are concatenated (n/2 + n/4 + n/8 + n/16 + n/16)."""

    def __init__(self, in_channels: int, out_channels: int, dilations: Sequence[int] = PAPER_DILATIONS) -> None:
        super().__init__()
        if out_channels % 16 != 0:
            raise TypeError(f"SDO width must be divisible by 16, got {out_channels}")
        if len(dilations) != 5:
            raise TypeError(f"SDO needs 5 dilations, got {len(dilations)}")
        parts = [out_channels // 2, out_channels // 4, out_channels // 8, out_channels // 16, out_channels // 16]
        self.convs = nn.ModuleList()
        channels = in_channels
        for part, dilation in zip(parts, dilations):
            self.convs.append(conv_bn_relu(channels, part, dilation=dilation))
            channels = part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for conv in self.convs:
            x = conv(x)
            outputs.append(x)
        return torch.cat(outputs, dim=1)


@register_arch("sdu_net", divisor=16, family="ours", description="SDU-Net, stacked dilated convs (15 M at width 1)")
def build_sdu_net(spec: ModelSpec) -> nn.Module:
    """Args in ``spec.kwargs``: ``widths`` (5 ints, each divisible by 16), ``decoder_widths`` (4 ints),
    ``dilations`` (5 ints; paper 1,3,6,9,12; community versions 2,2,2,2,2)."""
    kwargs = dict(spec.kwargs)
    widths = kwargs.pop("widths", None) or scaled_widths(BASE_WIDTHS, spec.width, multiple=16)
    dilations = tuple(kwargs.pop("dilations", PAPER_DILATIONS))
    return UNetFamily(
        spec.in_channels, widths, lambda c_in, c_out: StackedDilatedOp(c_in, c_out, dilations), **kwargs
    )
