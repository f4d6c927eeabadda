"""``label``: the streaming labeler (Algorithm 1, lines 1-10) that writes a pseudo-labeled set.

Reader threads decode and resize images while ONNX Runtime runs the teachers on the previous
batch, and a writer thread encodes masks and appends manifest rows, so the teachers never wait
for I/O. Prefetch and pending writes are bounded: memory stays flat on any folder size. A re-run
on the same OUT skips images already in the manifest (after checking that teachers and settings
are the same); unreadable images get a row (reason ``unreadable: ...``) and the run goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nakt_edge.config import LabelConfig
from nakt_edge.data.images import check_working_size, resize_to
from nakt_edge.data.pairing import list_images, select_split
from nakt_edge.data.readers.item import ImageItem
from nakt_edge.errors import InputError
from nakt_edge.labeling.filters import assess, min_pixels_for, quantize
from nakt_edge.labeling.fusion import StapleResult, fuse, normalised_weights, staple_summary, teacher_agreement
from nakt_edge.labeling.pseudo_set import PSEUDO_OUTPUTS, ManifestAppender, PseudoRow, prepare_out, read_rows
from nakt_edge.labeling.shards import shard_position
from nakt_edge.labeling.summary import describe_teachers, finalize
from nakt_edge.outputs import claim, guard_folder, write_bytes, write_png
from nakt_edge.progress import Reporter
from nakt_edge.provenance import sha256_file, usable_cores
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

log = logging.getLogger("nakt_edge")


@dataclass
class LabelResult:
    out: Path
    summary: dict[str, Any]
    processed: int  # images labeled by this call
    skipped: int  # images found done in the manifest (resume)
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else float("nan")


def decode(image: ImageItem, size: int) -> np.ndarray | str:
    """The image at the working size, or the reason it cannot be read."""
    try:
        return resize_to(image.read_gray(), size, size)
    except InputError as error:
        return error.message


def predict_teacher(segmenter: OnnxSegmenter, batch: np.ndarray, tta: str | None) -> np.ndarray:
    """Foreground probabilities of one teacher, averaged with the flipped input's when ``tta='flip'``."""
    prob = segmenter.predict(batch)
    if tta == "flip":
        prob = 0.5 * (prob + segmenter.predict(np.ascontiguousarray(batch[:, :, ::-1]))[:, :, ::-1])
    return prob


def label(
    teachers: Sequence[str | Path],
    images: str | Path,
    out: str | Path,
    config: LabelConfig | None = None,
    *,
    manifest: str | Path | None = None,
    split: str | None = None,
    overrides: dict[str, str] | None = None,
    shard: tuple[int, int] | None = None,
    ray_address: str | None = None,
    ray_actors: int | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> LabelResult:
    """Label ``images`` with the fused output of ONNX ``teachers`` and write the pseudo-labeled set ``out``.

    Args:
        teachers: ONNX files; each is described by its nakt.* metadata, its sidecar and ``overrides``.
        images: folder of unlabeled (transferal) images; DICOM files in it give one image per frame.
        out: output folder (see ``nakt_edge.labeling.pseudo_set``); re-running resumes it.
        config: fusion, alpha/beta filter, working size, device, batch and threads.
        manifest, split: label only the images of one split of a manifest CSV.
        overrides: contract keys applied to every teacher (e.g. ``{"layout": "NHWC"}``).
        shard: (K, N) labels only every N-th image from the K-th (``nakt_edge.labeling.shards``).
        ray_address: run the teachers on Ray Data actors (``"local"``: a Ray started here; else a cluster
            address such as ``auto`` or ``ray://head:10001``); ``ray_actors`` sets their number.
        force: relabel from scratch instead of resuming.
    """
    config = (config or LabelConfig()).validate()
    reporter = reporter or Reporter()
    if not teachers:
        raise InputError("no teacher given", hint="pass at least one --teacher MODEL.onnx")
    check_working_size(config.size, 16)
    normalised_weights(config.weights, len(teachers))
    files = list_images(images)
    if manifest is not None:
        files, _ = select_split(files, manifest, split)
    elif split is not None:
        raise InputError("--split needs --manifest", hint="pass the manifest CSV that defines the splits")
    position = None
    if shard is not None:
        position = shard_position([f.stem for f in files], *shard)
        files = files[shard[0] - 1::shard[1]]
    for teacher in teachers:
        if not Path(teacher).is_file():
            raise InputError("teacher model not found", hint="check the --teacher path", path=teacher)
    if ray_address is not None:
        from nakt_edge.labeling.ray_labeling import require_ray

        require_ray()
    hashes = [sha256_file(t) for t in teachers]
    identity = {"teachers": hashes, "overrides": dict(overrides or {}), **config.identity(),
                **({"shard": list(shard)} if shard else {})}
    segmenters = [OnnxSegmenter(t, overrides=overrides, device=config.device, threads=config.threads,
                                size=config.size) for t in teachers]
    out = Path(out)
    with claim(out):  # one run per pseudo-labeled set
        fresh = force or not (out / "label_config.json").is_file()
        prepare_out(out, identity, force)
        done = {row.stem for row in read_rows(out)}
        pending = [f for f in files if f.stem not in done]
        started = time.perf_counter()
        staple_runs: list[StapleResult] = []
        ray_info: dict[str, Any] = {}
        try:
            if ray_address is None:
                _stream(segmenters, pending, out, config, reporter, staple_runs)
            else:
                _write_from_ray(teachers, pending, out, config, overrides, ray_address, ray_actors, reporter,
                                staple_runs, ray_info)
        except BaseException:
            if fresh and not read_rows(out):  # refused on the first batch (a teacher's output): leave no trace
                guard_folder(out, True, PSEUDO_OUTPUTS)
            raise
        seconds = time.perf_counter() - started
        run: dict[str, Any] = {"processed": len(pending), "skipped": len(files) - len(pending), "seconds": seconds,
                               **ray_info}
        described = describe_teachers(segmenters, hashes)
        if ray_info.get("ray", {}).get("providers"):  # the actors ran the teachers, not this process
            described = [{**t, "provider": ",".join(ray_info["ray"]["providers"])} for t in described]
        if config.fusion == "staple":
            run["staple"] = staple_summary(staple_runs)
            if run["staple"]["hit_cap"]:
                log.warning("STAPLE stopped at its iteration cap (%d) on %d of %d images before converging",
                            run["staple"]["iteration_cap"], run["staple"]["hit_cap"], len(staple_runs))
        summary = finalize(out, images, [f.stem for f in files], described, config,
                           manifest=manifest, split=split, run=run, extra={"shard": position} if position else None)
        return LabelResult(out, summary, len(pending), len(files) - len(pending), seconds)


def label_batch(segmenters: Sequence[OnnxSegmenter], items: Sequence[ImageItem], batch: np.ndarray,
                config: LabelConfig, alpha: int, staple_runs: list[StapleResult] | None = None,
                ) -> list[tuple[PseudoRow, np.ndarray]]:
    """Fuse the teachers on one decoded batch (N, S, S) and judge each image: its manifest row and uint8 mask."""
    probs = np.stack([predict_teacher(s, batch, config.tta) for s in segmenters])
    fused = fuse(probs, config.fusion, config.weights, staple_runs)
    labeled = []
    for item, prob, agree in zip(items, fused, teacher_agreement(probs)):
        gray = quantize(prob)
        verdict = assess(gray, alpha, config.max_entropy, enabled=config.filter)
        labeled.append((PseudoRow(item.name, item.stem, verdict.target_pixels, verdict.entropy_bits, float(agree),
                                  verdict.kept, verdict.reason), gray))
    return labeled


def unreadable_row(item: ImageItem, reason: str) -> PseudoRow:
    """The manifest row of an image that could not be decoded (the run goes on)."""
    return PseudoRow(item.name, item.stem, 0, float("nan"), float("nan"), False, f"unreadable: {reason}")


def _write_from_ray(teachers: Sequence[str | Path], pending: list[ImageItem], out: Path, config: LabelConfig,
                    overrides: dict[str, str] | None, address: str, actors: int | None, reporter: Reporter,
                    staple_runs: list[StapleResult], ray_info: dict[str, Any]) -> None:
    """Write what the Ray actors label, in list order: each mask (atomically) before its manifest row."""
    from nakt_edge.labeling.ray_labeling import stream_with_ray

    if not pending:  # all done already: no need to start Ray
        return
    appender = ManifestAppender(out)
    reporter.start("label", f"labeling with {len(teachers)} teacher(s) on Ray", len(pending))
    try:
        for row, png in stream_with_ray(teachers, pending, config, overrides, address, actors, staple_runs,
                                        ray_info):
            if png is not None:
                write_bytes(out / "masks" / f"{row.stem}.png", png)
            appender.append(row)
            reporter.advance("label")
    finally:
        appender.close()
        reporter.finish("label")


def _stream(segmenters: list[OnnxSegmenter], pending: list[ImageItem], out: Path, config: LabelConfig,
            reporter: Reporter, staple_runs: list[StapleResult]) -> None:
    size, batch_size = config.size, config.batch
    alpha = min_pixels_for(size, size, min_pixels=config.min_pixels, min_fraction=config.min_fraction)
    readers_count = config.workers or usable_cores()
    appender = ManifestAppender(out)
    write_slots = threading.BoundedSemaphore(4 * batch_size)

    def write(row: PseudoRow, gray: np.ndarray | None) -> None:
        try:
            if gray is not None:
                write_png(out / "masks" / f"{row.stem}.png", gray)
            appender.append(row)
        finally:
            write_slots.release()

    reporter.start("label", f"labeling with {len(segmenters)} teacher(s)", len(pending))
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # our reader/writer threads parallelise across images; OpenCV's own pool would
    # only compete with ONNX Runtime for the cores (restored when labeling ends)
    with ThreadPoolExecutor(readers_count, thread_name_prefix="nakt-read") as readers, \
            ThreadPoolExecutor(1, thread_name_prefix="nakt-write") as writer:
        queue: deque[tuple[ImageItem, Future]] = deque()
        source = iter(pending)
        writes: deque[Future] = deque()

        def refill() -> None:
            while len(queue) < 2 * batch_size and (path := next(source, None)) is not None:
                queue.append((path, readers.submit(decode, path, size)))

        def submit(row: PseudoRow, gray: np.ndarray | None) -> None:
            write_slots.acquire()
            writes.append(writer.submit(write, row, gray))
            while writes and writes[0].done():
                writes.popleft().result()  # surfaces a failed write (disk full, permissions)

        refill()
        try:
            while queue:
                entries: list[tuple[ImageItem, np.ndarray | str]] = []
                readable_count = 0
                while queue and readable_count < batch_size:
                    path, future = queue.popleft()
                    refill()
                    entries.append((path, future.result()))
                    readable_count += not isinstance(entries[-1][1], str)
                readable = [(item, decoded) for item, decoded in entries if not isinstance(decoded, str)]
                labeled = iter(label_batch(segmenters, [item for item, _ in readable],
                                           np.stack([d for _, d in readable]), config, alpha, staple_runs)
                               if readable else [])
                for item, decoded in entries:  # manifest rows in the order of the image list
                    if isinstance(decoded, str):
                        log.warning("skipped %s: %s (recorded in the manifest)", item, decoded)
                        submit(unreadable_row(item, decoded), None)
                    else:
                        submit(*next(labeled))
                reporter.advance("label", len(entries))
            for future in writes:
                future.result()
        finally:
            writer.shutdown(wait=True)
            appender.close()
            cv2.setNumThreads(cv2_threads)
            reporter.finish("label")
