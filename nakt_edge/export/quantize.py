"""Reduced-precision copies of an exported FP32 student: FP16 and static INT8 (QDQ).

INT8 follows the recipe measured on this AVX2 CPU (ENVIRONMENT.md): ``quant_pre_process``, then
``quantize_static`` in QDQ format with per-channel QInt8 weights, QUInt8 activations and
``reduce_range`` (U8S8 without reduce_range saturates on AVX2 without VNNI; S8S8 is barely
faster than FP32). Before quantizing, ``int8_rewrites`` turns grouped convs into group-1 convs and
keeps convs on 1-3 channels in FP32, where ORT's INT8 kernels are slow. Calibration images come from the
user. When accuracy suffers, ``sensitive_nodes`` ranks nodes by the local quantization error of
their outputs (ONNX Runtime's QDQ debugging tools), so the worst ones can be left in FP32.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader

from nakt_edge.errors import InputError
from nakt_edge.export.int8_rewrites import rewrite_for_int8
from nakt_edge.export.onnx_export import set_metadata

log = logging.getLogger("nakt_edge")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def to_fp16(src: str | Path, dst: str | Path) -> Path:
    """FP16 weights and activations, float32 inputs and outputs kept (for GPUs; not faster on CPUs).

    ONNX Runtime's own converter (``onnxruntime.transformers.float16``), so no other package is needed."""
    from onnxruntime.transformers import float16

    model = float16.convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save(model, str(dst))
    return Path(dst)


def fp16_to_fp32(src: str | Path, dst: str | Path) -> Path:
    """An FP16 export (``to_fp16``) back in FP32: initializers, constants and casts widened, metadata kept.

    ONNX Runtime's CPU provider computes the FP16 graph in FP32 anyway, so on the CPU the copy predicts
    exactly what the FP16 file predicts (checked on the zoo teacher: max difference 0.0)."""
    from onnx import TensorProto, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT16:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32),
                                                                  init.name))
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT16:
                attribute.i = TensorProto.FLOAT
            if node.op_type == "Constant" and attribute.t.data_type == TensorProto.FLOAT16:
                attribute.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attribute.t).astype(np.float32)))
    del graph.value_info[:]
    for prop in model.metadata_props:
        if prop.key == "nakt.precision":
            prop.value = "fp32"
    onnx.save(model, str(dst))
    return Path(dst)


class ImageReader(CalibrationDataReader):
    """Feeds (N, C, H, W) images to ONNX Runtime's calibrators one at a time; a model of several inputs
    gets an equal share of the channels in each, in input order (single-layer models of benchmarks)."""

    def __init__(self, model: str | Path, images: np.ndarray) -> None:
        inputs = onnx.load(str(model), load_external_data=False).graph.input
        share, rest = divmod(images.shape[1], len(inputs))
        declared = [value.type.tensor_type.shape.dim[1].dim_value if len(value.type.tensor_type.shape.dim) > 1
                    else 0 for value in inputs]
        if rest or any(channels not in (0, share) for channels in declared):
            raise InputError(f"{model}: {len(inputs)} input(s) of {declared} channels cannot share calibration "
                             f"images of {images.shape[1]}", hint="calibrate a model whose inputs split the image "
                                                                   "channels equally")
        self.input_names = [value.name for value in inputs]
        self.input_name = self.input_names[0]
        self.images = images
        self.index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.index >= len(self.images):
            return None
        self.index += 1
        parts = np.split(self.images[self.index - 1: self.index], len(self.input_names), axis=1)
        return dict(zip(self.input_names, parts, strict=True))

    def rewind(self) -> None:
        self.index = 0


def prepare_for_quantization(src: str | Path, dst: str | Path) -> Path:
    """ORT's quantization pre-processing (shape inference + optimisation), run inside a temp dir.

    When symbolic shape inference is incomplete, ORT saves sym_shape_infer_temp.onnx and its
    external data into the *current* directory; running there keeps the user's folder clean."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src).resolve(), Path(dst).resolve()
    with tempfile.TemporaryDirectory(prefix="nakt-quant-") as work, contextlib.chdir(work), \
            contextlib.redirect_stdout(io.StringIO()):
        staged = Path(work) / "prep.onnx"  # (ORT's shape inference prints progress to stdout: kept quiet)
        try:
            quant_pre_process(str(src), str(staged), skip_symbolic_shape=False)
        except Exception:  # noqa: BLE001  (dynamo graphs fail symbolic shape inference: ENVIRONMENT.md)
            quant_pre_process(str(src), str(staged), skip_symbolic_shape=True)
        onnx.save(onnx.load(str(staged)), str(dst))
    return dst


class _RankOneWeightNotice(logging.Filter):
    """Drops ORT's per-weight warning for rank-1 weights (norm scales), which it quantizes per tensor."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "is out-of-range for weight" not in record.getMessage()


PIXEL_STEP = 1.0 / 255.0  # one gray level of an 8-bit image in the unit-normalized input


def quantize_int8(src: str | Path, dst: str | Path, calibration: np.ndarray, *, method: str = "minmax",
                  exclude: Sequence[str] = (), image_input: bool = False, rewrite: bool = True) -> Path:
    """Static QDQ INT8 of the pre-processed FP32 model ``src`` calibrated on ``calibration`` (N, C, H, W).

    ``rewrite``: first apply ``int8_rewrites`` (grouped convs over a Concat split per part, other narrow
    grouped convs made group-1, convs that read 1-3 channels kept in FP32), which make the file faster on
    ONNX Runtime's CPU kernels and no less accurate; the rewritten nodes are listed in the file's
    ``nakt.int8_rewrites`` metadata.

    ``image_input``: the input is an image scaled to [0, 1] (x / 255, as nakt students take it); its
    quantization is pinned to scale 1/255, zero point 0, the 8-bit grid itself, instead of the calibration
    range (BUSI: max 0.946 averaged over batches, so every pixel above gray level 241 clipped)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise InputError(f"unknown calibration method '{method}'", hint=f"use one of {', '.join(CALIBRATION_METHODS)}")
    reader = ImageReader(src, calibration)
    extra: dict[str, object] = {"CalibMovingAverage": True} if method == "minmax" else {}
    if image_input:
        extra["TensorQuantOverrides"] = {reader.input_name: [{"scale": np.array(PIXEL_STEP, np.float32),
                                                              "zero_point": np.array(0, np.uint8)}]}
    notice = _RankOneWeightNotice()
    logging.getLogger().addFilter(notice)
    try:
        with tempfile.TemporaryDirectory(prefix="nakt-calib-") as work:
            rewrites: dict[str, list[str]] = {}
            if rewrite:
                model, exclude, rewrites = rewrite_for_int8(onnx.load(str(src)), exclude)
                src = Path(work) / "rewritten.onnx"
                onnx.save(model, str(src))
            quantize_static(
                str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=methods[method], nodes_to_exclude=list(exclude),
                calibration_cache_path=Path(work) / "calibration.cache",
                extra_options=extra or None,
            )
    finally:
        logging.getLogger().removeFilter(notice)
    if rewrite:
        set_metadata(dst, {"nakt.int8_rewrites": json.dumps(rewrites)})
        log.info("INT8 rewrites: %d grouped conv(s) split over their Concat, %d made dense, %d node(s) of image "
                 "stems kept in FP32", len(rewrites["split_grouped_convs"]), len(rewrites["dense_grouped_convs"]),
                 len(rewrites["fp32_thin_input_stems"]))
    return Path(dst)


def sensitive_nodes(fp32: str | Path, int8: str | Path, images: np.ndarray) -> list[tuple[str, float]]:
    """Nodes of ``fp32`` ranked by the SQNR (dB) of their quantized outputs, worst first."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory(prefix="nakt-qdq-debug-") as work:
        float_aug, qdq_aug = Path(work) / "float.onnx", Path(work) / "qdq.onnx"
        modify_model_output_intermediate_tensors(str(fp32), str(float_aug))
        modify_model_output_intermediate_tensors(str(int8), str(qdq_aug))
        providers = ["CPUExecutionProvider"]
        float_acts = collect_activations(str(float_aug), ImageReader(fp32, images), execution_providers=providers)
        qdq_acts = collect_activations(str(qdq_aug), ImageReader(int8, images), execution_providers=providers)
    matching = create_activation_matching(qdq_acts, float_acts)  # tensors that int8_rewrites added have no float twin
    errors = compute_activation_error({name: pair for name, pair in matching.items() if "float" in pair})
    producer = {out: node for node in onnx.load(str(fp32)).graph.node for out in node.output}
    ranked: dict[str, float] = {}
    for name, err in sorted(errors.items(), key=lambda item: item[1].get("qdq_err", np.inf)):
        if name in producer and "qdq_err" in err and np.isfinite(err["qdq_err"]):
            node = _weighted_source(producer[name], producer)
            ranked.setdefault(node.name, float(err["qdq_err"]))
    return sorted(ranked.items(), key=lambda item: item[1])


def _weighted_source(node: onnx.NodeProto, producer: dict[str, onnx.NodeProto]) -> onnx.NodeProto:
    """The Conv/MatMul/Gemm behind a tensor made by an activation (Relu, Clip, ...): QDQ fuses Conv+Relu,
    so the quantized tensor is the Relu's, but its error comes from the Conv's weights; excluding only the
    Relu would leave them in INT8 (BUSI cmunext_edge students: 16 Relus kept in FP32 moved the gate by
    +0.004, the 8 Convs behind the worst tensors by +0.016)."""
    while node.op_type in _FUSED_ACTIVATIONS and node.input and node.input[0] in producer:
        node = producer[node.input[0]]
    return node


_FUSED_ACTIVATIONS = ("Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish")
