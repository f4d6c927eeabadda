"""Attention U-Net (Oktay et al. 2018), the common 2D variant: gates on all four skips (~34.9 M)."""

from __future__ import annotations

from torch import nn

from nakt_edge.models.blocks import UNetFamily, double_conv, scaled_widths
from nakt_edge.models.registry import ModelSpec, register_arch
from nakt_edge.models.unet import BASE_WIDTHS


@register_arch(
    "attention_unet", divisor=16, family="ours", description="Attention U-Net, gated skips (34.9 M at width 1)"
)
def build_attention_unet(spec: ModelSpec) -> nn.Module:
    """Args in ``spec.kwargs``: ``widths`` (5 ints, overrides ``spec.width``), ``decoder_widths`` (4 ints)."""
    kwargs = dict(spec.kwargs)
    widths = kwargs.pop("widths", None) or scaled_widths(BASE_WIDTHS, spec.width)
    return UNetFamily(spec.in_channels, widths, double_conv, attention=True, **kwargs)
