"""The reliability table: bad inputs across every command, each refused in one line or skipped on record.

Every row builds one bad input in a fresh folder and runs one `nakt` command on it. A refused row must
exit 2 with a single `error:` line that names the offending file (or option) and the fix, print no
traceback, and leave no file behind in the output it was asked to write. A skipped row must finish,
and the output's manifest must record the skipped file with its reason.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image
from typer.testing import CliRunner

from nakt_edge.cli import app
from nakt_edge.data.phantoms import write_phantom_set

runner = CliRunner()


@dataclass
class World:
    """Good inputs shared by the rows (read-only) and a fresh folder for each row's bad ones."""

    images: Path
    masks: Path
    teacher: Path
    run: Path
    root: Path

    def copy_images(self, name: str = "images", count: int = 4) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.images.iterdir())[:count]:
            shutil.copy(path, folder / path.name)
        return folder

    def copy_masks(self, name: str = "masks", count: int = 4) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.masks.iterdir())[:count]:
            shutil.copy(path, folder / path.name)
        return folder

    def label(self, images: Path, *extra: str, teacher: Path | None = None) -> list[str]:
        return ["label", "--teacher", str(teacher or self.teacher), "--images", str(images), "--out",
                str(self.root / "out"), "--size", "64", "--device", "cpu", "--no-filter", *extra]

    def train(self, images: Path, masks: Path, *extra: str) -> list[str]:
        return ["train", "--images", str(images), "--masks", str(masks), "--arch", "unet", "--width", "0.125",
                "--out", str(self.root / "out"), "--size", "64", "--epochs", "1", "--device", "cpu", *extra]

    def evaluate(self, model: Path, images: Path, masks: Path) -> list[str]:
        return ["evaluate", str(model), "--images", str(images), "--masks", str(masks), "--device", "cpu",
                "--out", str(self.root / "out" / "eval.json")]


@pytest.fixture(scope="module")
def shared(tiny_onnx: Path, tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    data = tmp_path_factory.mktemp("good")
    write_phantom_set(data, 6, "breast", 64, seed=3)
    return {"images": data / "images", "masks": data / "masks", "teacher": tiny_onnx, "run": tiny_run}


@pytest.fixture
def world(shared: dict[str, Path], tmp_path: Path) -> World:
    return World(root=tmp_path, **shared)


# ------------------------------------------------------------------ builders of bad files

def _write(path: Path, array: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), array), path
    return path


def _gray(world: World, name: str = "images") -> Path:
    return world.copy_images(name)


def zero_byte(world: World) -> list[str]:
    folder = _gray(world)
    (folder / "empty.png").write_bytes(b"")
    return world.label(folder)


def truncated(world: World) -> list[str]:
    folder = _gray(world)
    data = (folder / sorted(p.name for p in folder.iterdir())[0]).read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 3])
    return world.label(folder)


def text_named_png(world: World) -> list[str]:
    folder = _gray(world)
    (folder / "notes.png").write_text("not an image\n")
    return world.label(folder)


def image_16bit(world: World) -> list[str]:
    folder = world.root / "images"
    folder.mkdir()
    gray = cv2.imread(str(sorted(world.images.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    _write(folder / "deep.png", gray.astype(np.uint16) * 257)
    return world.label(folder)


def rgba(world: World) -> list[str]:
    folder = world.root / "images"
    folder.mkdir()
    gray = cv2.imread(str(sorted(world.images.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    _write(folder / "alpha.png", np.dstack([gray, gray, gray, np.full_like(gray, 128)]))
    return world.label(folder)


def palette(world: World) -> list[str]:
    folder = world.root / "images"
    folder.mkdir()
    Image.open(sorted(world.images.iterdir())[0]).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "p.png")
    return world.label(folder)


def cmyk(world: World) -> list[str]:
    folder = world.root / "images"
    folder.mkdir()
    Image.open(sorted(world.images.iterdir())[0]).convert("CMYK").save(folder / "print.jpg")
    return world.label(folder)


def tiny_image(world: World) -> list[str]:
    folder = _gray(world)
    _write(folder / "speck.png", np.full((3, 3), 200, np.uint8))
    return world.label(folder)


def huge_image(world: World) -> list[str]:
    folder = world.root / "images"
    folder.mkdir()
    _write(folder / "huge.png", np.zeros((8000, 8000), np.uint8))
    return world.label(folder)


def unicode_names(world: World) -> list[str]:
    folder = world.root / "ïmages with spaces"
    folder.mkdir()
    for i, path in enumerate(sorted(world.images.iterdir())[:2]):
        shutil.copy(path, folder / f"bild {i} — ü.png")
    return world.label(folder)


def folder_with_junk(world: World) -> list[str]:
    folder = _gray(world)
    (folder / "README.txt").write_text("scan notes")
    (folder / "sub").mkdir()
    shutil.copy(sorted(world.images.iterdir())[5], folder / "sub" / "nested.png")
    return world.label(folder)


def duplicate_stems(world: World) -> list[str]:
    folder = _gray(world)
    gray = cv2.imread(str(sorted(world.images.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    _write(folder / "twin.png", gray)
    _write(folder / "twin.jpg", gray)
    return world.label(folder)


def empty_folder(world: World) -> list[str]:
    (world.root / "images").mkdir()
    return world.label(world.root / "images")


def missing_folder(world: World) -> list[str]:
    return world.label(world.root / "nowhere")


def images_is_a_file(world: World) -> list[str]:
    path = world.root / "list.txt"
    path.write_text("a.png\n")
    return world.label(path)


def corrupt_onnx(world: World) -> list[str]:
    bad = world.root / "broken.onnx"
    bad.write_bytes(world.teacher.read_bytes()[:1000])
    return world.label(world.copy_images(), teacher=bad)


def _graph_model(path: Path, output_shape: list[object], body: Callable[[], list[onnx.NodeProto]],
                 initializers: list[onnx.TensorProto] | None = None) -> Path:
    model = helper.make_model(
        helper.make_graph(body(), "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 64, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, output_shape)], initializers or []),
        opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def classifier_onnx(world: World) -> list[str]:
    bad = _graph_model(world.root / "classifier.onnx", ["n", 1],
                       lambda: [helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=0)])
    return world.label(world.copy_images(), teacher=bad)


def three_class_softmax(world: World) -> list[str]:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, 1, 1, 1], [1.0, -1.0, 0.5])
    bad = _graph_model(world.root / "three.onnx", ["n", 3, 64, 64],
                       lambda: [helper.make_node("Conv", ["x", "w"], ["z"]),
                                helper.make_node("Softmax", ["z"], ["y"], axis=1)], [weight])
    return world.label(world.copy_images(), teacher=bad)


def external_data_outside(world: World) -> list[str]:
    """A model whose weights file is named ``../weights.bin``: ONNX Runtime would read outside its folder."""
    folder = world.root / "model"
    folder.mkdir()
    model = onnx.load(str(world.teacher))
    onnx.save(model, str(folder / "teacher.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    (folder / "weights.bin").rename(world.root / "weights.bin")
    model = onnx.load(str(folder / "teacher.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    (folder / "teacher.onnx").write_bytes(model.SerializeToString())
    return world.label(world.copy_images(), teacher=folder / "teacher.onnx")


def _label_with_sidecar(world: World, sidecar: str) -> list[str]:
    model = world.root / "teacher.onnx"
    shutil.copy(world.teacher, model)
    Path(str(model) + ".json").write_text(sidecar)
    return world.label(world.copy_images(), teacher=model)


def sidecar_not_json(world: World) -> list[str]:
    return _label_with_sidecar(world, "{layout: NHWC")


def sidecar_unknown_key(world: World) -> list[str]:
    return _label_with_sidecar(world, json.dumps({"nakt.layuot": "NHWC"}))


def sidecar_bad_value(world: World) -> list[str]:
    return _label_with_sidecar(world, json.dumps({"nakt.channels": "two"}))


def manifest_missing_columns(world: World) -> list[str]:
    folder = world.copy_images()
    (world.root / "manifest.csv").write_text("name,set\na.png,transfer\n")
    return world.label(folder, "--manifest", str(world.root / "manifest.csv"), "--split", "transfer")


def manifest_unknown_split(world: World) -> list[str]:
    folder = world.copy_images()
    rows = "".join(f"{p.name},transfer,g{i}\n" for i, p in enumerate(sorted(folder.iterdir())))
    (world.root / "manifest.csv").write_text("file,split,group\n" + rows)
    return world.label(folder, "--manifest", str(world.root / "manifest.csv"), "--split", "tranfser")


def masks_other_size(world: World) -> list[str]:
    images, masks = world.copy_images(), world.copy_masks()
    first = sorted(masks.iterdir())[0]
    _write(first, cv2.resize(cv2.imread(str(first), cv2.IMREAD_GRAYSCALE), (40, 30), interpolation=cv2.INTER_NEAREST))
    return world.evaluate(world.teacher, images, masks)


def masks_zero_one(world: World) -> list[str]:
    """0/1 masks are read as foreground = 1, not as empty (checked in the test below, not refused)."""
    images, masks = world.copy_images(), world.copy_masks()
    for path in masks.iterdir():
        _write(path, (cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8))
    return world.evaluate(world.teacher, images, masks)


def masks_three_channels(world: World) -> list[str]:
    images, masks = world.copy_images(), world.copy_masks()
    for path in masks.iterdir():
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        _write(path, np.dstack([gray] * 3))
    return world.evaluate(world.teacher, images, masks)


def masks_missing(world: World) -> list[str]:
    images = world.copy_images()
    (world.root / "masks").mkdir()
    return world.train(images, world.root / "masks")


def epochs_zero(world: World) -> list[str]:
    return [*world.train(world.copy_images(), world.copy_masks()), "--epochs", "0"]


def batch_size_zero(world: World) -> list[str]:
    return [*world.train(world.copy_images(), world.copy_masks()), "--batch-size", "0"]


def label_batch_zero(world: World) -> list[str]:
    return [*world.label(world.copy_images()), "--batch", "0"]


def size_not_divisible(world: World) -> list[str]:
    return [*world.train(world.copy_images(), world.copy_masks()), "--size", "100"]


def entropy_out_of_range(world: World) -> list[str]:
    return [*world.label(world.copy_images()), "--max-entropy", "-1"]


def output_exists_train(world: World) -> list[str]:
    shutil.copytree(world.run, world.root / "out")
    return world.train(world.copy_images(), world.copy_masks())


def output_holds_other_files(world: World) -> list[str]:
    """Not refused: nakt writes its own names and leaves what else the user keeps there alone."""
    (world.root / "out").mkdir()
    (world.root / "out" / "keep.txt").write_text("earlier work")
    return world.train(world.copy_images(), world.copy_masks())


def output_exists_evaluate(world: World) -> list[str]:
    (world.root / "out").mkdir()
    (world.root / "out" / "eval.json").write_text("{}")
    return world.evaluate(world.teacher, world.copy_images(), world.copy_masks())


def output_read_only(world: World) -> list[str]:
    args = world.label(world.copy_images())
    args[args.index("--out") + 1] = "/proc/nakt-out"  # nobody may create folders there, root included
    # (a real read-only file system is in tests/cli/test_faults.py: it needs the right to mount)
    return args


def output_under_a_file(world: World) -> list[str]:
    (world.root / "plain").write_text("a file, not a folder")
    args = world.label(world.copy_images())
    args[args.index("--out") + 1] = str(world.root / "plain" / "out")
    return args


def export_not_a_run(world: World) -> list[str]:
    (world.root / "notrun").mkdir()
    return ["export", str(world.root / "notrun"), "--out", str(world.root / "out" / "m.onnx")]


def export_damaged_weights(world: World) -> list[str]:
    run = world.root / "run"
    shutil.copytree(world.run, run)
    (run / "model.safetensors").write_bytes(b"\x00" * 64)
    return ["export", str(run), "--out", str(world.root / "out" / "m.onnx")]


def export_pickle_weights(world: World) -> list[str]:
    run = world.root / "run"
    shutil.copytree(world.run, run)
    (run / "model.safetensors").unlink()
    (run / "model.pt").write_bytes(b"\x80\x04\x95")  # a pickle: never loaded
    return ["export", str(run), "--out", str(world.root / "out" / "m.onnx")]


def bench_missing_model(world: World) -> list[str]:
    return ["bench", str(world.root / "gone.onnx"), "--size", "64", "--out", str(world.root / "out" / "b.json")]


def evaluate_corrupt_model(world: World) -> list[str]:
    bad = world.root / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    return world.evaluate(bad, world.copy_images(), world.copy_masks())


def distill_pseudo_not_labeled(world: World) -> list[str]:
    folder = world.copy_images("pseudo")
    return ["distill", "--pseudo", str(folder), "--arch", "unet", "--width", "0.125", "--out",
            str(world.root / "out"), "--size", "64", "--epochs", "1", "--device", "cpu"]


def finetune_missing_run(world: World) -> list[str]:
    return ["finetune", str(world.root / "norun"), "--images", str(world.copy_images()), "--masks",
            str(world.copy_masks()), "--out", str(world.root / "out"), "--epochs", "1", "--device", "cpu"]


def phantoms_zero_count(world: World) -> list[str]:
    return ["phantoms", "--out", str(world.root / "out"), "--n", "0"]


# ------------------------------------------------------------------ checks of rows that must work

def same_pixels_as_pillow(world: World) -> None:
    """What OpenCV decoded for us matches an independent decoder (Pillow, ITU-R 601 luma) to 1 level."""
    from nakt_edge.data.images import read_gray

    (image,) = (world.root / "images").iterdir()
    with Image.open(image) as pil:
        reference = np.asarray(pil.convert("I;16") if pil.mode.startswith("I;16") else pil.convert("L"), np.float64)
    scale = 65535.0 if reference.max() > 255 else 255.0
    assert np.abs(read_gray(image) * scale - reference).max() <= scale / 255 + 1e-6


def sixteen_bit_scaled(world: World) -> None:
    """16-bit gray v*257 reads as v/255 (scaled to [0, 1], not clipped to white) and labels like the 8-bit one."""
    from nakt_edge.data.images import read_gray

    original = cv2.imread(str(sorted(world.images.iterdir())[0]), cv2.IMREAD_GRAYSCALE)
    assert np.abs(read_gray(world.root / "images" / "deep.png") - original / 255.0).max() < 1e-6
    same_pixels_as_pillow(world)


def only_top_level_images(world: World) -> None:
    rows = list(csv.DictReader((world.root / "out" / "manifest.csv").open(encoding="utf-8")))
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in sorted(world.images.iterdir())[:4])


def other_files_kept(world: World) -> None:
    assert (world.root / "out" / "keep.txt").read_text() == "earlier work"
    assert (world.root / "out" / "model.safetensors").is_file()


def zero_one_masks_are_foreground(world: World) -> None:
    """0/1 masks score exactly as the 0/255 originals do (read as empty, Dice would collapse)."""
    scored = json.loads((world.root / "out" / "eval.json").read_text())
    reference = runner.invoke(app, ["evaluate", str(world.teacher), "--images", str(world.images), "--masks",
                                    str(world.masks), "--device", "cpu", "--out", str(world.root / "ref.json")])
    assert reference.exit_code == 0, reference.output
    per_image = {r["file"]: r["dice"] for r in json.loads((world.root / "ref.json").read_text())["images"]}
    got = {r["file"]: r["dice"] for r in scored["images"]}
    assert got == {name: per_image[name] for name in got}


@dataclass(frozen=True)
class Case:
    build: Callable[[World], list[str]]
    outcome: str  # "refused": exit 2, one line; "skipped": the run goes on, the manifest records it; "ok"
    needle: str = ""  # must appear in the message (the file or option at fault)
    hint: str = ""  # must appear in the message (the fix)
    check: Callable[[World], None] | None = None  # more that must hold after an "ok" row


CASES: dict[str, Case] = {
    "zero-byte image": Case(zero_byte, "skipped", "empty.png", "file is empty"),
    "truncated image": Case(truncated, "skipped", "cut.png", "not a readable image"),
    "text file named .png": Case(text_named_png, "skipped", "notes.png", "not a readable image"),
    "16-bit image": Case(image_16bit, "ok", check=sixteen_bit_scaled),
    "RGBA image": Case(rgba, "ok", check=same_pixels_as_pillow),
    "palette image": Case(palette, "ok", check=same_pixels_as_pillow),
    "CMYK JPEG": Case(cmyk, "ok", check=same_pixels_as_pillow),
    "3x3 image": Case(tiny_image, "skipped", "speck.png", "smaller than"),
    "8000x8000 image": Case(huge_image, "ok"),
    "unicode and spaces in names": Case(unicode_names, "ok"),
    "non-image files and sub-folders": Case(folder_with_junk, "ok", check=only_top_level_images),
    "duplicate stems": Case(duplicate_stems, "refused", "twin", "rename one"),
    "empty image folder": Case(empty_folder, "refused", "images", "no images found"),
    "missing image folder": Case(missing_folder, "refused", "nowhere", "--images"),
    "image folder is a file": Case(images_is_a_file, "refused", "list.txt", "not a folder"),
    "corrupt ONNX": Case(corrupt_onnx, "refused", "broken.onnx", "not an ONNX model"),
    "ONNX that is no segmenter": Case(classifier_onnx, "refused", "classifier.onnx", "segment"),
    "3-class softmax, no foreground": Case(three_class_softmax, "refused", "three.onnx", "nakt.foreground"),
    "external data outside the model folder": Case(external_data_outside, "refused", "teacher.onnx", "outside"),
    "sidecar not JSON": Case(sidecar_not_json, "refused", "teacher.onnx.json", "valid JSON"),
    "sidecar unknown key": Case(sidecar_unknown_key, "refused", "teacher.onnx.json", "nakt.layuot"),
    "sidecar bad value": Case(sidecar_bad_value, "refused", "teacher.onnx", "channels"),
    "manifest missing columns": Case(manifest_missing_columns, "refused", "manifest.csv", "file"),
    "manifest unknown split": Case(manifest_unknown_split, "refused", "manifest.csv", "tranfser"),
    "mask of another size": Case(masks_other_size, "refused", "breast_00000.png", "size of their image"),
    "masks stored as 0/1": Case(masks_zero_one, "ok", check=zero_one_masks_are_foreground),
    "masks with 3 channels": Case(masks_three_channels, "ok"),
    "no masks for the images": Case(masks_missing, "refused", "masks", "mask"),
    "--epochs 0": Case(epochs_zero, "refused", "--epochs", "1"),
    "train --batch-size 0": Case(batch_size_zero, "refused", "--batch-size", "greater than or equal to 1"),
    "label --batch 0": Case(label_batch_zero, "refused", "--batch", "greater than or equal to 1"),
    "--size the architecture cannot take": Case(size_not_divisible, "refused", "size 100", "--size 96"),
    "--max-entropy -1": Case(entropy_out_of_range, "refused", "max-entropy", "-1"),
    "output folder holds a run (train)": Case(output_exists_train, "refused", "out", "--force"),
    "output folder holds other files": Case(output_holds_other_files, "ok", check=other_files_kept),
    "output file exists (evaluate)": Case(output_exists_evaluate, "refused", "eval.json", "--force"),
    "output on /proc (no folder can be made)": Case(output_read_only, "refused", "/proc/nakt-out", "--out"),
    "output under a plain file": Case(output_under_a_file, "refused", "plain", "--out"),
    "export of a folder that is no run": Case(export_not_a_run, "refused", "notrun", "run"),
    "export of damaged weights": Case(export_damaged_weights, "refused", "model.safetensors", "re-create the run"),
    "weights only as a pickle": Case(export_pickle_weights, "refused", "model.safetensors", "safetensors"),
    "bench of a missing model": Case(bench_missing_model, "refused", "gone.onnx", "pass .onnx files"),
    "evaluate a corrupt model": Case(evaluate_corrupt_model, "refused", "broken.onnx", "not an ONNX model"),
    "distill from an unlabeled folder": Case(distill_pseudo_not_labeled, "refused", "pseudo", "nakt label"),
    "finetune of a missing run": Case(finetune_missing_run, "refused", "norun", "run"),
    "phantoms --n 0": Case(phantoms_zero_count, "refused", "--n", "greater than or equal to 1"),
}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, world: World) -> None:
    case = CASES[name]
    args = case.build(world)
    out = world.root / "out"
    before = _files(out)
    result = runner.invoke(app, args)
    text = result.output
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if case.outcome == "refused":
        assert result.exit_code == 2, text
        lines = [line for line in text.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        assert len(errors) == 1, text
        assert case.needle in errors[0] and case.hint in errors[0], errors[0]
        assert _files(out) == before, f"left behind: {set(_files(out)) - set(before)}"
        return
    assert result.exit_code == 0, text
    if args[0] == "label":
        rows = list(csv.DictReader((out / "manifest.csv").open(encoding="utf-8")))
        skipped = [r for r in rows if r["reason"].startswith("unreadable")]
        if case.outcome == "skipped":
            assert [r["file"] for r in skipped] == [case.needle], rows
            assert case.hint in skipped[0]["reason"], skipped[0]
            assert case.needle in text  # and the run said so
        else:
            assert not skipped, rows
            assert all((out / "masks" / f"{Path(r['file']).stem}.png").is_file() for r in rows)
        assert not list(out.rglob("*.tmp"))
    if case.check is not None:
        case.check(world)
