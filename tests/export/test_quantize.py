from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from nakt_edge.errors import GateError, InputError
from nakt_edge.export import exporter
from nakt_edge.export.exporter import export_model
from nakt_edge.export.gates import GateResult
from nakt_edge.export.quantize import prepare_for_quantization
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter


def _props(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_fp16_passes_its_accuracy_gate_and_halves_the_file(tiny_run: Path, tiny_onnx: Path, phantom_set: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "fp16.onnx"
    result = export_model(tiny_run, out, precision="fp16", calib=phantom_set / "images")
    assert [g.name for g in result.gates] == ["accuracy"] and result.gates[0].passed
    assert _props(out)["nakt.precision"] == "fp16"
    assert out.stat().st_size < 0.6 * tiny_onnx.stat().st_size
    assert OnnxSegmenter(out, device="cpu").predict(phantom_set_images(phantom_set)).shape == (2, 64, 64)


def phantom_set_images(phantom_set: Path):
    import numpy as np

    from nakt_edge.data.images import read_gray

    return np.stack([read_gray(p) for p in sorted((phantom_set / "images").iterdir())[:2]])


def test_int8_is_static_qdq_and_records_its_calibration(tiny_run: Path, phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "int8.onnx"
    result = export_model(tiny_run, out, precision="int8", calib=phantom_set / "images", calib_images=8, force=True)
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    props = _props(out)
    assert props["nakt.precision"] == "int8" and '"method": "minmax"' in props["nakt.calibration"]
    assert [g.name for g in result.gates] == ["accuracy", "speed"]
    assert ('"forced": true' in props["nakt.gates"]) == result.forced


def test_int8_input_is_pinned_to_the_8_bit_grid_so_bright_pixels_do_not_clip(tiny_onnx: Path, tmp_path: Path) -> None:
    import numpy as np
    from onnx import numpy_helper

    from nakt_edge.export.gates import _logits
    from nakt_edge.export.quantize import PIXEL_STEP, quantize_int8

    prepared = prepare_for_quantization(tiny_onnx, tmp_path / "prep.onnx")
    dim = np.random.default_rng(0).uniform(0.0, 0.5, (4, 1, 64, 64)).astype(np.float32)  # no pixel above 128
    bright = np.full((1, 1, 64, 64), 0.2, np.float32)
    bright[..., 16:48, 16:48] = 1.0
    for pinned, expected_scale in ((False, None), (True, PIXEL_STEP)):
        out = quantize_int8(prepared, tmp_path / f"int8-{pinned}.onnx", dim, image_input=pinned, rewrite=False)
        model = onnx.load(str(out))
        stored = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        node = next(n for n in model.graph.node if n.op_type == "QuantizeLinear"
                    and n.input[0] == model.graph.input[0].name)
        scale, zero = float(stored[node.input[1]]), int(stored[node.input[2]])
        if pinned:
            assert scale == pytest.approx(expected_scale, rel=1e-6) and zero == 0
        else:
            assert scale * 255 < 0.51  # calibrated on dim images: white would clip at about half gray
    fp32 = _logits(prepared, bright)
    pinned_out = _logits(tmp_path / "int8-True.onnx", bright)
    clipped_out = _logits(tmp_path / "int8-False.onnx", bright)
    assert np.abs(pinned_out - fp32).mean() < np.abs(clipped_out - fp32).mean()


def test_the_default_int8_gate_is_designs_dice_098() -> None:
    assert 1 - exporter.DEFAULT_MAX_DICE_DROP["int8"] == pytest.approx(0.98)  # DESIGN.md, "Numbers"


def test_a_failed_gate_writes_nothing_unless_forced(tiny_run: Path, phantom_set: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    slower = GateResult("speed", 1.4, "< 1", False, {"fp32_p50_ms": 1.0, "p50_ms": 1.4})
    monkeypatch.setattr(exporter, "speed_gate", lambda *a, **k: slower)
    out = tmp_path / "int8.onnx"
    with pytest.raises(GateError, match="not faster than FP32 at batch 1 \\(1.4 ms vs 1.0 ms FP32\\)") as info:
        export_model(tiny_run, out, precision="int8", calib=phantom_set / "images", calib_images=8)
    assert info.value.exit_code == 1 and not out.exists()
    forced = export_model(tiny_run, out, precision="int8", calib=phantom_set / "images", calib_images=8, force=True)
    assert forced.forced and '"forced": true' in _props(out)["nakt.gates"]


def test_accuracy_gate_failure_tries_keeping_sensitive_nodes_in_fp32(tiny_run: Path, phantom_set: Path,
                                                                     tmp_path: Path) -> None:
    with pytest.raises(GateError, match="mask Dice vs FP32"):
        export_model(tiny_run, tmp_path / "x.onnx", precision="int8", calib=phantom_set / "images",
                     calib_images=4, max_dice_drop=-1.0)  # an impossible gate: every exclusion step is tried
    assert not (tmp_path / "x.onnx").exists()


def test_int8_needs_calibration_images(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--calib"):
        export_model(tiny_run, tmp_path / "x.onnx", precision="int8")


def test_quantization_preprocessing_leaves_the_working_directory_clean(tiny_onnx: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """ORT drops sym_shape_infer_temp.onnx + <uuid>.data into the cwd when symbolic inference is incomplete."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    prepared = prepare_for_quantization(tiny_onnx, tmp_path / "prep.onnx")
    assert prepared.is_file() and list(cwd.iterdir()) == []


def test_a_fused_activation_is_traced_back_to_the_conv_whose_weights_err() -> None:
    from onnx import helper

    from nakt_edge.export.quantize import _weighted_source

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Clip", ["r"], ["y"], name="clip"),
             helper.make_node("Add", ["y", "x"], ["z"], name="add")]
    producer = {out: node for node in nodes for out in node.output}
    assert _weighted_source(producer["y"], producer).name == "conv"
    assert _weighted_source(producer["z"], producer).name == "add"  # not an activation: kept as it is


def test_calibration_images_are_shared_by_channel_over_a_models_inputs(tmp_path: Path) -> None:
    import numpy as np
    from onnx import TensorProto, helper

    from nakt_edge.export.quantize import ImageReader

    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 2, 4, 4]) for name in ("a", "b")]
    graph = helper.make_graph([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)], "two", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])])
    onnx.save(helper.make_model(graph), tmp_path / "two.onnx")
    images = np.arange(2 * 4 * 4 * 4, dtype=np.float32).reshape(2, 4, 4, 4)
    reader = ImageReader(tmp_path / "two.onnx", images)
    fed = [reader.get_next(), reader.get_next()]
    assert reader.get_next() is None
    for index, feed in enumerate(fed):
        assert list(feed) == ["a", "b"]
        np.testing.assert_array_equal(np.concatenate([feed["a"], feed["b"]], axis=1), images[index: index + 1])
    with pytest.raises(InputError, match="cannot share calibration images of 3"):
        ImageReader(tmp_path / "two.onnx", images[:, :3])  # 3 channels over 2 inputs
    uneven = [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 4, 4]),
              helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 1, 4, 4])]
    onnx.save(helper.make_model(helper.make_graph(graph.node, "uneven", uneven, graph.output)), tmp_path / "3+1.onnx")
    with pytest.raises(InputError, match=r"\[3, 1\] channels"):
        ImageReader(tmp_path / "3+1.onnx", images)
