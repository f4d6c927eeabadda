"""Labeling in shards on several machines (``nakt label --shard K/N``) and merging them (``--merge``).

Shard K of N takes every N-th image of the sorted image list, starting at the K-th, so the
slices are disjoint, cover the list and stay balanced whatever the folder holds. Each shard is
an ordinary, resumable pseudo-labeled set whose summary.json also records its position: K, N,
the number of images of the whole list and the sha256 of its stems in order. ``merge_shards``
refuses shards of other settings, teachers or image lists, a shard given twice, a missing or
unfinished one, and any stem found in two shards; it rebuilds the single run's manifest order
and checks it against that digest, so the merged set is the one a single ``nakt label`` writes.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nakt_edge.config import LabelConfig
from nakt_edge.data.readers.item import FRAME_MARK
from nakt_edge.errors import InputError
from nakt_edge.labeling.pseudo_set import MANIFEST_COLUMNS, PseudoRow, prepare_out, read_rows
from nakt_edge.labeling.summary import finalize
from nakt_edge.outputs import claim, read_json, rows_to_csv, write_bytes, write_text
from nakt_edge.progress import Reporter


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N."""
    index, sep, count = text.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = 0
    if not sep or not 1 <= k <= n:
        raise InputError(f"--shard '{text}' is not K/N with 1 <= K <= N", hint="e.g. --shard 1/4 ... --shard 4/4")
    return k, n


def stems_digest(stems: Sequence[str]) -> str:
    """sha256 of the stems in order: two machines listed the same images the same way iff their digests agree."""
    return hashlib.sha256("\n".join(stems).encode("utf-8")).hexdigest()


def shard_position(stems: Sequence[str], index: int, count: int) -> dict[str, Any]:
    """What a shard's summary.json records about its place in the whole list."""
    return {"index": index, "count": count, "total": len(stems), "stems_sha256": stems_digest(stems),
            "images": len(stems[index - 1::count])}


@dataclass(frozen=True)
class _Shard:
    path: Path
    summary: dict[str, Any]
    identity: dict[str, Any]  # label_config.json without the shard entry
    rows: list[PseudoRow]

    @property
    def position(self) -> dict[str, Any]:
        return self.summary["shard"]

    @property
    def name(self) -> str:
        return f"{self.position['index']}/{self.position['count']}"


def _open_shard(path: Path) -> _Shard:
    if not (path / "summary.json").is_file() or not (path / "label_config.json").is_file():
        raise InputError("not a finished shard (no summary.json)",
                         hint="run (or resume) nakt label --shard K/N --out on it first", path=path)
    summary = read_json(path / "summary.json")
    if "shard" not in summary:
        raise InputError("not a shard: it was labeled without --shard", hint="merge only sets labeled with --shard K/N",
                         path=path)
    identity = {k: v for k, v in read_json(path / "label_config.json").items() if k != "shard"}
    rows = read_rows(path)
    stems = {row.stem for row in rows}
    if len(stems) != summary["shard"]["images"]:
        raise InputError(f"shard {summary['shard']['index']}/{summary['shard']['count']} is unfinished: "
                         f"{len(stems)} of {summary['shard']['images']} images labeled",
                         hint="resume it with the same nakt label --shard command", path=path)
    return _Shard(path, summary, identity, rows)


def _check_together(shards: list[_Shard]) -> None:
    """Same settings, teachers and image list; each of 1..N exactly once; no stem twice."""
    first = shards[0]
    for shard in shards[1:]:
        if shard.identity != first.identity:
            changed = sorted(k for k in set(shard.identity) | set(first.identity)
                             if shard.identity.get(k) != first.identity.get(k))
            raise InputError(f"shard {shard.name} was labeled with other {', '.join(changed)} than shard {first.name}",
                             hint="merge shards of one labeling run (same teachers and settings)", path=shard.path)
        for key in ("count", "total", "stems_sha256"):
            if shard.position[key] != first.position[key]:
                raise InputError(f"shard {shard.name} split another image list than shard {first.name} ({key} "
                                 f"differs)", hint="label every shard from the same folder, manifest and split",
                                 path=shard.path)
    count = first.position["count"]
    seen = Counter(s.position["index"] for s in shards)
    twice = sorted(k for k, times in seen.items() if times > 1)
    if twice:
        paths = [str(s.path) for s in shards if s.position["index"] == twice[0]]
        raise InputError(f"shard {twice[0]}/{count} given twice ({', '.join(paths)})", hint="pass each shard once")
    missing = [k for k in range(1, count + 1) if k not in seen]
    if missing:
        raise InputError(f"shard(s) {', '.join(f'{k}/{count}' for k in missing)} missing",
                         hint=f"label them with nakt label --shard K/{count} and pass every shard to --merge")
    owner: dict[str, str] = {}
    for shard in shards:
        for row in shard.rows:
            if row.stem in owner:
                raise InputError(f"image '{row.stem}' is in shard {owner[row.stem]} and in shard {shard.name}",
                                 hint="the shards overlap: relabel them from one image list", path=shard.path)
            owner[row.stem] = shard.name


def _listing_key(row: PseudoRow) -> tuple[str, int]:
    """Where ``list_images`` puts a row's image: by file name, then frame (``loop.dcm#12``)."""
    file, mark, frame = row.file.rpartition(FRAME_MARK)
    return (file, int(frame)) if mark and frame.isdigit() else (row.file, -1)


def _single_run_order(shards: list[_Shard]) -> list[PseudoRow]:
    """All shards' rows in the order one run labels them; checked against the digest of the whole list."""
    order = sorted((row for shard in shards for row in shard.rows), key=_listing_key)
    if stems_digest([row.stem for row in order]) != shards[0].position["stems_sha256"]:
        raise InputError("the shards' rows do not rebuild the image list they were cut from",
                         hint="a shard folder was changed by hand, or the images changed between shards: relabel",
                         path=shards[0].path)
    return order


def _config_of(summary: dict[str, Any]) -> LabelConfig:
    settings = dict(summary["settings"])
    if settings.get("weights") is not None:
        settings["weights"] = tuple(settings["weights"])
    return LabelConfig(**settings)


def merge_shards(shards: Sequence[str | Path], out: str | Path, *, force: bool = False,
                 reporter: Reporter | None = None) -> tuple[dict[str, Any], int, float]:
    """Combine the shard sets into the pseudo-labeled set ``out``; returns (summary, masks copied, seconds).

    A re-run resumes (masks already in ``out`` are not copied again); ``force`` replaces another set."""
    reporter = reporter or Reporter()
    if not shards:
        raise InputError("--merge needs the shard folders", hint="e.g. --merge shard1 --merge shard2")
    opened = [_open_shard(Path(p)) for p in shards]
    _check_together(opened)
    opened.sort(key=lambda s: s.position["index"])
    rows = _single_run_order(opened)
    first = opened[0]
    out = Path(out)
    started = time.perf_counter()
    with claim(out):
        prepare_out(out, first.identity, force)
        owner = {row.stem: shard for shard in opened for row in shard.rows}
        copied = 0
        reporter.start("merge", f"merging {len(opened)} shards", len(rows))
        for row in rows:
            target = out / "masks" / f"{row.stem}.png"
            source = owner[row.stem].path / "masks" / f"{row.stem}.png"
            if source.is_file() and not target.is_file():
                write_bytes(target, source.read_bytes())
                copied += 1
            reporter.advance("merge")
        reporter.finish("merge")
        write_text(out / "manifest.csv", rows_to_csv([row.to_csv() for row in rows], MANIFEST_COLUMNS))
        seconds = time.perf_counter() - started
        run = {"processed": sum(s.summary["run"]["processed"] for s in opened),
               "skipped": sum(s.summary["run"]["skipped"] for s in opened),
               "seconds": sum(s.summary["run"]["seconds"] for s in opened),
               "merged_from": [{"path": str(s.path.resolve()), "shard": s.name, "images": s.position["images"],
                                "provider": s.summary["provider"], "seconds": s.summary["run"]["seconds"]}
                               for s in opened],
               "merge_seconds": seconds}
        summary = finalize(out, first.summary["images"], [row.stem for row in rows], first.summary["teachers"],
                           _config_of(first.summary), manifest=first.summary["manifest"], split=first.summary["split"],
                           run=run)
    return summary, copied, seconds
