"""Finding images in a folder, pairing them with their masks, and selecting a manifest split.

Masks pair with images by stem: ``MASKS/<stem>.<ext>``, or, BUSI style, ``<stem>_mask*.png``
beside the image (in MASKS or in the image folder); several mask files of one image are merged
by OR. A manifest CSV (``file`` and ``split`` columns, optional ``group``) selects a split; its
``group`` column keeps near-duplicate frames together whenever the data is split again.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nakt_edge.data.images import IMAGE_SUFFIXES
from nakt_edge.data.mask_names import is_mask_file, mask_owner
from nakt_edge.data.readers.dicom import DICOM_SUFFIXES
from nakt_edge.data.readers.item import FRAME_MARK, ImageItem, is_image_file, items_of
from nakt_edge.errors import InputError
from nakt_edge.outputs import glob_escape


@dataclass(frozen=True)
class Sample:
    """One image, its mask files (empty when unlabeled) and its leakage group."""

    image: ImageItem
    masks: tuple[Path, ...] = ()
    group: str = ""

    @property
    def stem(self) -> str:
        return self.image.stem


def list_images(folder: str | Path) -> list[ImageItem]:
    """Images directly in ``folder``, sorted by name: image files (BUSI ``*_mask*`` files excluded) and
    DICOM files, a multi-frame one as one item per frame (see ``readers.item``)."""
    folder = Path(folder)
    if folder.is_file():
        raise InputError("is a file, not a folder of images", hint="pass the folder that holds it with --images",
                         path=folder)
    if not folder.is_dir():
        raise InputError("image folder not found", hint="pass an existing folder with --images", path=folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p) and not is_mask_file(p))
    if not files:
        raise InputError(
            "no images found",
            hint=f"the folder must hold {', '.join(IMAGE_SUFFIXES + DICOM_SUFFIXES)} files", path=folder
        )
    images = [item for path in files for item in items_of(path)]
    seen: dict[str, ImageItem] = {}
    for image in images:
        if image.stem in seen:
            raise InputError(
                f"two images share the stem '{image.stem}' ({seen[image.stem].name}, {image.name})",
                hint="rename one: outputs are named by stem",
                path=folder,
            )
        seen[image.stem] = image
    return images


def find_masks(image: ImageItem, masks_dir: Path | None) -> tuple[Path, ...]:
    """Mask files of ``image``: ``masks_dir/<stem>.*`` first, else ``<stem>_mask*`` files."""
    folders = [masks_dir] if masks_dir is not None else [image.path.parent]
    for folder in folders:
        direct = sorted(
            p for p in folder.glob(f"{glob_escape(image.stem)}.*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p != image.path
        )
        if direct:
            return (direct[0],)
        busi = sorted(
            p for p in folder.glob(f"{glob_escape(image.stem)}_mask*")
            if p.suffix.lower() in IMAGE_SUFFIXES and mask_owner(p) == image.stem
        )
        if busi:
            return tuple(busi)
    return ()



def read_manifest(manifest: str | Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV; it needs at least the ``file`` column."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError("manifest not found", hint="pass an existing CSV with --manifest", path=manifest)
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "file" not in rows[0]:
        raise InputError("manifest has no 'file' column", hint="the CSV needs a header with 'file'", path=manifest)
    return rows


def select_split(
    images: list[ImageItem], manifest: str | Path, split: str | None
) -> tuple[list[ImageItem], dict[str, str]]:
    """Keep the images listed in ``manifest`` (with ``split``, when given); return them and their groups.

    A row naming a DICOM file (``loop.dcm``) selects all its frames, one naming a frame
    (``loop.dcm#12``) that frame; without a ``group`` the file's stem is the group."""
    rows = read_manifest(manifest)
    if split is not None:
        if "split" not in rows[0]:
            raise InputError("manifest has no 'split' column", hint="drop --split or add the column", path=manifest)
        splits = sorted({row["split"] for row in rows})
        if split not in splits:
            raise InputError(f"no split named '{split}'", hint=f"valid splits: {', '.join(splits)}", path=manifest)
        rows = [row for row in rows if row["split"] == split]
    wanted = {Path(row["file"]).name: row.get("group") or Path(row["file"].split(FRAME_MARK)[0]).stem
              for row in rows}
    chosen = {image.stem: wanted.get(image.name, wanted.get(image.path.name)) for image in images}
    selected = [image for image in images if chosen[image.stem] is not None]
    if not selected:
        raise InputError(
            "no image of the folder is listed in the manifest",
            hint="the manifest's 'file' column must name files of --images",
            path=manifest,
        )
    return selected, {image.stem: chosen[image.stem] for image in selected}


def collect_samples(
    images_dir: str | Path,
    masks_dir: str | Path | None = None,
    *,
    manifest: str | Path | None = None,
    split: str | None = None,
    require_masks: bool = True,
) -> list[Sample]:
    """Images of ``images_dir`` (optionally one manifest split) with their masks and groups.

    Raises:
        InputError: no images, a missing mask (when ``require_masks``), a bad manifest or split.
    """
    if split is not None and manifest is None:
        raise InputError("--split needs --manifest", hint="pass the manifest CSV that defines the splits")
    images = list_images(images_dir)
    groups: dict[str, str] = {}
    if manifest is not None:
        images, groups = select_split(images, manifest, split)
    masks_path = Path(masks_dir) if masks_dir is not None else None
    if masks_path is not None and not masks_path.is_dir():
        raise InputError("mask folder not found", hint="pass an existing folder with --masks", path=masks_path)
    samples = []
    for image in images:
        masks = find_masks(image, masks_path) if require_masks else ()
        if require_masks and not masks:
            where = masks_path or image.path.parent
            raise InputError(
                "image has no mask",
                hint=f"add {where / (image.stem + '.png')} or {image.stem}_mask.png, or remove the image",
                path=image.path,
            )
        samples.append(Sample(image=image, masks=masks, group=groups.get(image.stem, image.group)))
    return samples


def collect_unlabeled(
    folders: Sequence[str | Path], *, manifest: str | Path | None = None, split: str | None = None
) -> list[Sample]:
    """Unlabeled images of one or more transferal folders, with leakage groups.

    A manifest (with ``split``) selects the images of every folder whose files it lists; a folder
    it names no file of (generated phantoms beside BUSI, say) is taken whole. With several folders
    each group is prefixed by the folder's position, so equal stems in two folders never merge.
    """
    if not folders:
        raise InputError("no image folder given", hint="pass at least one --images DIR")
    if split is not None and manifest is None:
        raise InputError("--split needs --manifest", hint="pass the manifest CSV that defines the splits")
    samples: list[Sample] = []
    matched = False
    for index, folder in enumerate(folders):
        images, groups = list_images(folder), {}
        if manifest is not None:
            try:
                images, groups = select_split(images, manifest, split)
                matched = True
            except InputError as error:
                if len(folders) == 1 or "no image of the folder" not in error.message:
                    raise
        prefix = f"{index}:" if len(folders) > 1 else ""
        samples.extend(Sample(image, (), prefix + groups.get(image.stem, image.group)) for image in images)
    if manifest is not None and not matched:
        raise InputError("no image of any --images folder is listed in the manifest",
                         hint="the manifest's 'file' column must name files of one of the folders", path=manifest)
    return samples
