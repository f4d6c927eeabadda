"""CMUNeXt, re-implemented from the paper for INT8 on a CPU: large-kernel depthwise + pointwise U-Net.

Tang, Liu, Wang, Zhang, Lu (2023), "CMUNeXt: An Efficient Medical Image Segmentation Network
based on Large Kernel and Skip Fusion", arXiv:2308.01239 (ISBI 2024). Written from the paper's
text and figures, no code copied. Structure:

- stem: a 3x3 Conv-BN-ReLU to ``dims[0]``;
- 5 encoder stages (2x2 max-pool between them); a stage is ``depth`` CMUNeXt blocks
  (residual k x k depthwise conv, then an inverted bottleneck of two 1x1 convs, expansion 4,
  each conv with BN and activation) and a 3x3 conv block to the next width;
- decoder: x2 upsampling + 3x3 conv to the skip's width, then *skip fusion*: concatenate the skip
  and the upsampled map, 3x3 grouped conv (2 groups), a 1x1 expansion (x4) and a 1x1 projection;
- 1x1 head, one logit channel.

Deliberate differences from the paper, for ONNX Runtime INT8 (ARCHITECTURES.md: GELU made
CMUNeXt 0.81x *slower* in INT8, the same net with ReLU 1.3x faster): ReLU instead of GELU;
Conv -> BN -> ReLU instead of the paper's Conv -> GELU -> BN, so every BatchNorm folds into its
conv at export (a BN behind an activation stays a float op between the INT8 convs); and
nearest-neighbour upsampling. Paper widths (16, 32, 128, 160, 256), depths (1, 1, 1, 3, 1), kernels
(3, 3, 7, 7, 7): 3.14 M parameters; ``width`` scales the widths (multiples of 8).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nakt_edge.models.blocks import scaled_widths
from nakt_edge.models.registry import ModelSpec, register_arch

PAPER_DIMS = (16, 32, 128, 160, 256)
PAPER_DEPTHS = (1, 1, 1, 3, 1)
PAPER_KERNELS = (3, 3, 7, 7, 7)


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """One 3x3 Conv-BN-ReLU (the paper's conv_block)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def _conv_bn_relu(conv: nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm2d(conv.out_channels), nn.ReLU(inplace=True))


class CMUNeXtBlock(nn.Module):
    """``depth`` x (residual depthwise k x k, then 1x1 expand x``expansion`` and 1x1 project), then a conv block."""

    def __init__(self, channels: int, out_channels: int, depth: int, kernel: int, expansion: int = 4) -> None:
        super().__init__()
        self.depthwise = nn.ModuleList(
            _conv_bn_relu(nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels))
            for _ in range(depth))
        self.pointwise = nn.ModuleList(
            nn.Sequential(_conv_bn_relu(nn.Conv2d(channels, channels * expansion, 1)),
                          _conv_bn_relu(nn.Conv2d(channels * expansion, channels, 1))) for _ in range(depth))
        self.out = _conv_block(channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for depthwise, pointwise in zip(self.depthwise, self.pointwise):
            x = pointwise(x + depthwise(x))
        return self.out(x)


class SkipFusion(nn.Module):
    """The paper's fusion of a skip with the upsampled decoder map: grouped 3x3 conv, 1x1 expand, 1x1 project."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int = 4) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _conv_bn_relu(nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=2)),
            _conv_bn_relu(nn.Conv2d(in_channels, out_channels * expansion, 1)),
            _conv_bn_relu(nn.Conv2d(out_channels * expansion, out_channels, 1)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class CMUNeXt(nn.Module):
    """U-shaped CMUNeXt; input H, W divisible by 16; output (N, 1, H, W) logits.

    Args:
        in_channels: 1 or 3.
        dims: 5 stage widths (the paper: 16, 32, 128, 160, 256).
        depths: CMUNeXt blocks per stage.
        kernels: depthwise kernel size per stage.
        expansion: inverted-bottleneck expansion of blocks and skip fusions (the paper: 4).
        stem_stride: 1 (the paper) or 2: a strided stem and a bilinear x2 of the logits, so no stage
            runs at full resolution (H, W then divisible by 32).
    """

    def __init__(self, in_channels: int = 1, dims: Sequence[int] = PAPER_DIMS, depths: Sequence[int] = PAPER_DEPTHS,
                 kernels: Sequence[int] = PAPER_KERNELS, expansion: int = 4, stem_stride: int = 1) -> None:
        super().__init__()
        if stem_stride not in (1, 2):
            raise TypeError(f"stem_stride must be 1 or 2, got {stem_stride}")
        if not len(dims) == len(depths) == len(kernels) == 5:
            raise TypeError("dims, depths and kernels need 5 values each")
        if any(d % 2 for d in dims):
            raise TypeError(f"dims must be even (2 fusion groups), got {list(dims)}")
        self.stem = _conv_block(in_channels, dims[0], stem_stride)
        self.up_out = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False) if stem_stride == 2 else None
        self.pool = nn.MaxPool2d(2)
        ins = [dims[0], *dims[:-1]]  # stage i works at the previous stage's width, then widens to dims[i]
        self.encoder = nn.ModuleList(
            CMUNeXtBlock(ins[i], dims[i], depths[i], kernels[i], expansion) for i in range(5))
        self.up = nn.ModuleList()
        self.fuse = nn.ModuleList()
        for deep, skip in zip(dims[:0:-1], dims[-2::-1]):
            self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                         nn.Conv2d(deep, skip, 3, padding=1), nn.BatchNorm2d(skip),
                                         nn.ReLU(inplace=True)))
            self.fuse.append(SkipFusion(2 * skip, skip, expansion))
        self.head = nn.Conv2d(dims[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.encoder[0](self.stem(x))
        skips = [x]
        for stage in self.encoder[1:]:
            x = stage(self.pool(x))
            skips.append(x)
        x = skips.pop()
        for up, fuse in zip(self.up, self.fuse):
            x = fuse(torch.cat([skips.pop(), up(x)], dim=1))
        x = self.head(x)
        return self.up_out(x) if self.up_out is not None else x


@register_arch("cmunext", divisor=16, family="edge",
               description="CMUNeXt (large-kernel depthwise + skip fusion, ReLU for INT8); 3.14 M at width 1")
def build_cmunext(spec: ModelSpec) -> nn.Module:
    """Args in ``spec.kwargs``: ``dims`` (5 even ints; default the paper's times ``width``, multiples of 8),
    ``depths``, ``kernels`` (5 ints each), ``expansion`` (int, paper 4)."""
    kwargs = dict(spec.kwargs)
    dims = kwargs.pop("dims", None) or scaled_widths(PAPER_DIMS, spec.width, multiple=8)
    return CMUNeXt(spec.in_channels, dims, **kwargs)


EDGE_DIMS = (16, 24, 40, 80, 128)
EDGE_EXPANSION = 2


@register_arch("cmunext_edge", divisor=32, family="edge",
               description="CMUNeXt for INT8 edge CPUs: strided stem, dims 16-128, expansion 2; ~1.0 GFLOPs at 256")
def build_cmunext_edge(spec: ModelSpec) -> nn.Module:
    """The paper's depths and kernels with a stride-2 stem, dims (16, 24, 40, 80, 128) times ``width`` and
    expansion 2. Measured here: with the paper's stride-1 stem the thin full-resolution stages cost half the
    FLOPs, ran at 37% of the SGEMM peak and got slower in INT8 (1.2-1.5x FP32); the strided stem moves that
    work to half resolution, where INT8 pays (0.6-0.7x FP32)."""
    kwargs = dict(spec.kwargs)
    dims = kwargs.pop("dims", None) or scaled_widths(EDGE_DIMS, spec.width, multiple=8)
    return CMUNeXt(spec.in_channels, dims, expansion=kwargs.pop("expansion", EDGE_EXPANSION),
                   stem_stride=kwargs.pop("stem_stride", 2), **kwargs)
