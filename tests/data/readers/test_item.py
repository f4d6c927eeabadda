"""Image items: DICOM files in data folders, a multi-frame file as one item per frame, grouped by file."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from nakt_edge.data.pairing import collect_samples, list_images, select_split
from nakt_edge.data.readers.item import ImageItem, item_named
from nakt_edge.errors import InputError
from tests.dicom_files import write_dicom

RNG = np.random.default_rng(9)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    write_dicom(images / "loop.dcm", RNG.integers(0, 256, (3, 20, 24), dtype=np.uint8))
    write_dicom(images / "still.dcm", RNG.integers(0, 256, (1, 20, 24), dtype=np.uint8))
    shutil.copy(write_dicom(tmp_path / "scanner.dcm", RNG.integers(0, 256, (2, 20, 24), dtype=np.uint8)),
                images / "IM0001")  # scanners write DICOM files without a suffix
    cv2.imwrite(str(images / "photo.png"), RNG.integers(0, 256, (20, 24), dtype=np.uint8))
    (images / "notes.txt").write_text("not an image")
    return images


def test_a_folder_lists_images_dicom_files_and_every_frame_of_a_loop(folder: Path) -> None:
    items = list_images(folder)
    assert [i.stem for i in items] == ["IM0001_f00000", "IM0001_f00001", "loop_f00000", "loop_f00001",
                                       "loop_f00002", "photo", "still"]
    assert [i.name for i in items][2:5] == ["loop.dcm#0", "loop.dcm#1", "loop.dcm#2"]
    assert {i.group for i in items if i.path.name == "loop.dcm"} == {"loop"}  # frames of a loop: one group


def test_each_item_reads_its_own_frame(folder: Path, tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, (3, 20, 24), dtype=np.uint8)
    write_dicom(folder / "loop.dcm", frames)
    for index in range(3):
        np.testing.assert_array_equal(ImageItem(folder / "loop.dcm", index).read_gray_u8(), frames[index])
    with pytest.raises(InputError, match="has 3 frame"):
        ImageItem(folder / "loop.dcm", 3).read_gray()


def test_manifest_names_a_whole_loop_or_one_frame(folder: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,split,group\nloop.dcm,train,\nIM0001#1,test,scan\nphoto.png,train,p\n")
    train, groups = select_split(list_images(folder), manifest, "train")
    assert [i.stem for i in train] == ["loop_f00000", "loop_f00001", "loop_f00002", "photo"]
    assert groups == {"loop_f00000": "loop", "loop_f00001": "loop", "loop_f00002": "loop", "photo": "p"}
    test, groups = select_split(list_images(folder), manifest, "test")
    assert [i.stem for i in test] == ["IM0001_f00001"] and groups == {"IM0001_f00001": "scan"}


def test_masks_pair_with_frames_by_stem_and_a_missing_one_is_named(folder: Path, tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    for item in list_images(folder):
        if item.stem != "loop_f00002":
            cv2.imwrite(str(masks / f"{item.stem}.png"), np.zeros((20, 24), np.uint8))
    with pytest.raises(InputError, match="image has no mask") as error:
        collect_samples(folder, masks)
    assert "loop_f00002.png" in error.value.hint


def test_item_named_round_trips_manifest_names(folder: Path) -> None:
    for item in list_images(folder):
        assert item_named(folder, item.name) == item
    assert item_named(folder, "odd#name.png") == ImageItem(folder / "odd#name.png")


def test_two_items_with_one_stem_are_refused(folder: Path) -> None:
    cv2.imwrite(str(folder / "loop_f00001.png"), np.zeros((20, 24), np.uint8))
    with pytest.raises(InputError, match="share the stem 'loop_f00001'"):
        list_images(folder)
