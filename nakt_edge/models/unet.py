"""The vanilla U-Net (Ronneberger et al. 2015; 64..1024 channels at width 1.0), ours, not smp's."""

from __future__ import annotations

from torch import nn

from nakt_edge.models.blocks import UNetFamily, double_conv, scaled_widths
from nakt_edge.models.registry import ModelSpec, register_arch

BASE_WIDTHS = (64, 128, 256, 512, 1024)


@register_arch("unet", divisor=16, family="ours", description="vanilla U-Net, double 3x3 convs (34.5 M at width 1)")
def build_unet(spec: ModelSpec) -> nn.Module:
    """Args in ``spec.kwargs``: ``widths`` (5 ints, overrides ``spec.width``), ``decoder_widths`` (4 ints)."""
    kwargs = dict(spec.kwargs)
    widths = kwargs.pop("widths", None) or scaled_widths(BASE_WIDTHS, spec.width)
    return UNetFamily(spec.in_channels, widths, double_conv, **kwargs)
