from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from nakt_edge.errors import OutputExistsError, ParityError
from nakt_edge.export.exporter import export_model
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.runtime.providers import create_session


def test_export_carries_the_teacher_contract_and_the_parity_numbers(tiny_onnx: Path) -> None:
    props = {p.key: p.value for p in onnx.load(str(tiny_onnx)).metadata_props}
    assert props["nakt.layout"] == "NCHW" and props["nakt.channels"] == "1" and props["nakt.size"] == "64,64"
    assert props["nakt.output"] == "logits" and props["nakt.precision"] == "fp32"
    assert '"passed": true' in props["nakt.parity"]
    assert onnx.load(str(tiny_onnx)).opset_import[0].version >= 17


def test_exported_model_has_dynamic_batch_and_size(tiny_onnx: Path) -> None:
    session = create_session(tiny_onnx, device="cpu").session
    for shape in [(1, 1, 64, 64), (3, 1, 96, 48)]:
        out = session.run(None, {"image": np.zeros(shape, np.float32)})[0]
        assert out.shape == shape


def test_exported_student_can_serve_as_a_teacher(tiny_onnx: Path, tiny_run: Path) -> None:
    from nakt_edge.runtime.predictor import TorchPredictor

    images = np.random.default_rng(0).random((2, 80, 80), dtype=np.float32)
    onnx_prob = OnnxSegmenter(tiny_onnx, device="cpu").predict(images)
    torch_prob = TorchPredictor(tiny_run, device="cpu").predict(images)
    assert onnx_prob.shape == (2, 80, 80)
    np.testing.assert_allclose(onnx_prob, torch_prob, atol=1e-4)


def test_failed_parity_writes_nothing(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    with pytest.raises(ParityError, match="max \\|logit difference\\|") as info:
        export_model(tiny_run, out, atol=0.0)
    assert info.value.exit_code == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_existing_file_needs_force(tiny_run: Path, tiny_onnx: Path) -> None:
    with pytest.raises(OutputExistsError):
        export_model(tiny_run, tiny_onnx)
