from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nakt_edge.errors import DeviceError, ModelSpecError
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.runtime.providers import gpu_present
from tests.runtime.foreign_teachers import expected_probabilities

IMAGES = np.random.default_rng(0).random((3, 96, 96), dtype=np.float32)


@pytest.mark.parametrize("name", ["nhwc", "rgb_imagenet", "softmax2", "probabilities", "sidecar"])
def test_foreign_teachers_give_the_same_foreground_as_pytorch(foreign_teachers: dict[str, Path], name: str) -> None:
    segmenter = OnnxSegmenter(foreign_teachers[name], device="cpu")
    got = segmenter.predict(IMAGES)
    assert got.shape == (3, 96, 96) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected_probabilities(IMAGES), atol=2e-4)


def test_contract_is_inferred_from_the_graph(foreign_teachers: dict[str, Path]) -> None:
    assert OnnxSegmenter(foreign_teachers["nhwc"], device="cpu").spec.layout == "NHWC"
    assert OnnxSegmenter(foreign_teachers["probabilities"], device="cpu").spec.output == "probabilities"
    rgb = OnnxSegmenter(foreign_teachers["rgb_imagenet"], device="cpu").spec
    assert (rgb.channels, rgb.normalize) == (3, "imagenet")


def test_static_input_is_fed_at_its_size_and_resized_back(foreign_teachers: dict[str, Path]) -> None:
    segmenter = OnnxSegmenter(foreign_teachers["static64"], device="cpu")
    assert segmenter.spec.size == (64, 64)
    np.testing.assert_allclose(segmenter.predict(IMAGES), expected_probabilities(IMAGES, fed_size=64), atol=2e-4)


def test_a_model_the_graph_cannot_describe_asks_for_a_sidecar(foreign_teachers: dict[str, Path],
                                                               tmp_path: Path) -> None:
    bare = tmp_path / "bare.onnx"
    shutil.copy(foreign_teachers["sidecar"], bare)  # same graph, without its sidecar
    with pytest.raises(ModelSpecError, match="sidecar") as info:
        OnnxSegmenter(bare, device="cpu")
    assert info.value.exit_code == 2
    segmenter = OnnxSegmenter(bare, device="cpu", overrides={"layout": "NHWC", "nakt.channels": "1"})
    np.testing.assert_allclose(segmenter.predict(IMAGES), expected_probabilities(IMAGES), atol=2e-4)


def test_bad_contract_values_name_the_key(foreign_teachers: dict[str, Path]) -> None:
    with pytest.raises(ModelSpecError, match="nakt.layout = 'NWHC'"):
        OnnxSegmenter(foreign_teachers["probabilities"], device="cpu", overrides={"layout": "NWHC"})


def test_not_an_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.onnx"
    bad.write_text("hello")
    with pytest.raises(ModelSpecError, match="x.onnx"):
        OnnxSegmenter(bad, device="cpu")


@pytest.mark.skipif(gpu_present(), reason="checks the failure on a machine without a GPU")
def test_cuda_without_a_gpu_fails_loudly(foreign_teachers: dict[str, Path]) -> None:
    with pytest.raises(DeviceError, match="CUDAExecutionProvider") as info:
        OnnxSegmenter(foreign_teachers["probabilities"], device="cuda")
    assert info.value.exit_code == 2


def test_auto_records_the_provider_it_got(foreign_teachers: dict[str, Path]) -> None:
    segmenter = OnnxSegmenter(foreign_teachers["probabilities"], device="auto")
    assert segmenter.provider in ("CPUExecutionProvider", "CUDAExecutionProvider")


@pytest.mark.gpu
def test_cuda_provider_really_runs(foreign_teachers: dict[str, Path]) -> None:
    segmenter = OnnxSegmenter(foreign_teachers["probabilities"], device="cuda")
    assert segmenter.provider == "CUDAExecutionProvider"
    np.testing.assert_allclose(segmenter.predict(IMAGES), expected_probabilities(IMAGES), atol=1e-3)


@pytest.mark.gpu
def test_cuda_batches_go_through_pinned_buffers_and_io_binding(foreign_teachers: dict[str, Path]) -> None:
    """The bound path computes what a plain ``session.run`` computes, for changing batch sizes."""
    segmenter = OnnxSegmenter(foreign_teachers["probabilities"], device="cuda")
    assert segmenter._cuda_feeder() is not None
    for count in (3, 3, 1):
        batch = segmenter.preprocess(IMAGES[:count])
        plain = segmenter.session.run([segmenter.output_name], {segmenter.input_name: batch})[0]
        np.testing.assert_allclose(segmenter.run(batch), plain, atol=1e-5)
