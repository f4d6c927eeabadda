"""ONNX teachers that differ the way real foreign models do, all wrapping one tiny torch network.

Every wrapper computes the same foreground probability as ``sigmoid(base(gray))``, so a correct
``OnnxSegmenter`` returns the same map for all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nakt_edge.export.onnx_export import set_metadata
from nakt_edge.models.registry import ModelSpec, build_model

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def base_network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(ModelSpec("unet", width=0.125)).eval()
    with torch.no_grad():  # make the random net's output vary across the image
        model.head.bias.fill_(0.0)
    return model


class NHWC(nn.Module):
    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class ImageNetRGB(nn.Module):
    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unit = x * IMAGENET_STD + IMAGENET_MEAN
        return self.base(unit.mean(dim=1, keepdim=True))


class TwoClassSoftmaxLogits(nn.Module):
    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.base(x)
        return torch.cat([torch.zeros_like(logit), logit], dim=1)  # softmax(.)[1] == sigmoid(logit)


class Probabilities(nn.Module):
    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.base(x))


def _export(module: nn.Module, sample: torch.Tensor, path: Path, axes: dict[int, str] | None) -> Path:
    dynamic = {"input": axes, "output": axes} if axes else None
    torch.onnx.export(module.eval(), (sample,), str(path), dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes=dynamic)
    return path


def build_foreign_teachers(folder: Path) -> dict[str, Path]:
    """Write the six foreign teachers into ``folder``; return them by name."""
    base = base_network()
    gray = torch.zeros(1, 1, 64, 64)
    nchw = {0: "n", 2: "h", 3: "w"}
    teachers = {
        "nhwc": _export(NHWC(base), torch.zeros(1, 64, 64, 1), folder / "nhwc.onnx", {0: "n", 1: "h", 2: "w"}),
        "rgb_imagenet": _export(ImageNetRGB(base), torch.zeros(1, 3, 64, 64), folder / "rgb.onnx", nchw),
        "softmax2": _export(TwoClassSoftmaxLogits(base), gray, folder / "softmax2.onnx", nchw),
        "probabilities": _export(Probabilities(base), gray, folder / "prob.onnx", nchw),
        "static64": _export(base, gray, folder / "static64.onnx", None),
        "sidecar": _export(NHWC(base), torch.zeros(1, 64, 64, 1), folder / "sidecar.onnx",
                           {0: "n", 1: "h", 2: "w", 3: "c"}),
    }
    set_metadata(teachers["rgb_imagenet"], {"nakt.normalize": "imagenet"})
    Path(str(teachers["sidecar"]) + ".json").write_text(json.dumps({"nakt.layout": "NHWC", "nakt.channels": "1"}))
    return teachers


@torch.no_grad()
def expected_probabilities(images: np.ndarray, fed_size: int | None = None) -> np.ndarray:
    """sigmoid(base(gray)) for (N, H, W) images, fed at ``fed_size`` and resized back when given."""
    from nakt_edge.data.images import resize_stack

    base = base_network()
    height, width = images.shape[1:]
    fed = resize_stack(images, fed_size, fed_size) if fed_size else images
    prob = torch.sigmoid(base(torch.from_numpy(np.ascontiguousarray(fed))[:, None]))[:, 0].numpy()
    return resize_stack(prob, height, width)
