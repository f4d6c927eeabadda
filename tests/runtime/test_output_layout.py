"""Output layouts inferred from the output shape, stated ones checked, and implausible outputs refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nakt_edge.errors import ModelSpecError
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.runtime.spec import infer_output_layout
from tests.runtime.foreign_teachers import IMAGENET_MEAN, IMAGENET_STD, _export, base_network, expected_probabilities

IMAGES = np.random.default_rng(1).random((2, 64, 64), dtype=np.float32)
WHERE = Path("m.onnx")


class TFInputTorchOutput(nn.Module):
    """The issue's teacher: NHWC 64x64x3 ImageNet-normalized input, NCHW [N, 2, H, W] softmax output."""

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unit = x.permute(0, 3, 1, 2) * IMAGENET_STD + IMAGENET_MEAN
        logit = self.base(unit.mean(dim=1, keepdim=True))
        return torch.softmax(torch.cat([torch.zeros_like(logit), logit], dim=1), dim=1)


class Rank2(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class Broken(nn.Module):
    def __init__(self, base: nn.Module, value: float) -> None:
        super().__init__()
        self.base, self.value = base, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) * 0 + self.value


def test_the_tf_input_torch_output_teacher_is_read_right(tmp_path: Path) -> None:
    path = _export(TFInputTorchOutput(base_network()), torch.zeros(1, 64, 64, 3), tmp_path / "mixed.onnx", None)
    segmenter = OnnxSegmenter(path, device="cpu", overrides={"normalize": "imagenet"})
    assert (segmenter.spec.layout, segmenter.spec.output_layout, segmenter.spec.output) == \
        ("NHWC", "NCHW", "probabilities")
    np.testing.assert_allclose(segmenter.predict(IMAGES), expected_probabilities(IMAGES, fed_size=64), atol=2e-4)


@pytest.mark.parametrize(("input_shape", "output_shape", "layout", "want"), [
    ([1, 64, 64, 3], [1, 2, 64, 64], "NHWC", "NCHW"),
    ([1, 3, 64, 64], [1, 64, 64, 2], "NCHW", "NHWC"),
    ([1, 1, 256, 256], [1, 1, 64, 64], "NCHW", "NCHW"),  # a quarter of the input is still spatial
    (["n", 1, "h", "w"], ["n", 1, "h", "w"], "NCHW", "NCHW"),
    (["n", "h", "w", 1], ["n", "h", "w", 2], "NHWC", "NHWC"),
    (["n", 1, "h", "w"], ["n", 3, "oh", "ow"], "NCHW", "NCHW"),
    ([1, 1, 64, 64], [1, 64, 64], "NCHW", None),
], ids=["nhwc-in-nchw-out", "nchw-in-nhwc-out", "fraction", "symbolic", "symbolic-nhwc", "new-symbols", "rank3"])
def test_output_layout_from_the_shapes(input_shape: list, output_shape: list, layout: str, want: str | None) -> None:
    assert infer_output_layout(input_shape, output_shape, layout, WHERE) == want


def test_ambiguous_contradictory_and_foreign_outputs_are_refused_naming_the_key() -> None:
    with pytest.raises(ModelSpecError, match="nakt.output_layout"):
        infer_output_layout(["n", 3, "h", "w"], ["n", "a", "b", "c"], "NCHW", WHERE)  # nothing to tell by
    with pytest.raises(ModelSpecError, match="contradicts"):
        infer_output_layout([1, 64, 64, 3], [1, 2, 64, 64], "NHWC", WHERE, stated="NHWC")
    with pytest.raises(ModelSpecError, match="rank 2"):
        infer_output_layout([1, 1, 64, 64], [1, 1], "NCHW", WHERE)
    with pytest.raises(ModelSpecError, match="no segmentation map"):
        infer_output_layout([1, 1, 64, 64], [1, 64, 7, 5], "NCHW", WHERE)


def test_a_classifier_is_not_taken_for_a_segmenter(tmp_path: Path) -> None:
    path = _export(Rank2(), torch.zeros(1, 1, 64, 64), tmp_path / "cls.onnx", None)
    with pytest.raises(ModelSpecError, match="rank 2"):
        OnnxSegmenter(path, device="cpu")


@pytest.mark.parametrize(("value", "contract", "message"), [
    (float("nan"), {}, "NaN or Inf"),
    (3.0, {"output": "probabilities"}, "declared probabilities range over"),
], ids=["nan", "probabilities-above-1"])
def test_implausible_values_on_the_first_batch_are_errors_naming_the_teacher(
        tmp_path: Path, value: float, contract: dict, message: str) -> None:
    path = _export(Broken(base_network(), value), torch.zeros(1, 1, 64, 64), tmp_path / "broken.onnx",
                   {0: "n", 2: "h", 3: "w"})
    segmenter = OnnxSegmenter(path, device="cpu", overrides=contract)
    with pytest.raises(ModelSpecError, match=message) as info:
        segmenter.predict(IMAGES)
    assert "broken.onnx" in str(info.value)


def test_softmax_probabilities_must_sum_to_one_over_the_class_axis(tmp_path: Path) -> None:
    class TwoSigmoids(nn.Module):
        def __init__(self, base: nn.Module) -> None:
            super().__init__()
            self.base = base

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logit = self.base(x)
            return torch.cat([torch.sigmoid(logit), 0.5 * torch.sigmoid(logit)], dim=1)

    path = _export(TwoSigmoids(base_network()), torch.zeros(1, 1, 64, 64), tmp_path / "two.onnx", None)
    with pytest.raises(ModelSpecError, match="sum to 1"):
        OnnxSegmenter(path, device="cpu", overrides={"output": "probabilities"}).predict(IMAGES)
