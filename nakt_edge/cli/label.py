"""`nakt label`: pseudo-label unlabeled images with ONNX teachers (fusion + alpha/beta exclusion)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import ContractOpt, DeviceOpt, ForceOpt, ManifestOpt, SplitOpt, ThreadsOpt
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import fmt, print_table
from nakt_edge.errors import InputError


def parse_weights(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--weights '{text}' is not a comma-separated list of numbers", hint="e.g. --weights 2,1") \
            from None


def parse_contract(pairs: list[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--contract '{pair}' is not KEY=VALUE", hint="e.g. --contract layout=NHWC")
        overrides[key.strip()] = value.strip()
    return overrides


@command("label")
def label(
    out: Annotated[Path, typer.Option("--out", help="Output folder of the pseudo-labeled set.")],
    teacher: Annotated[list[Path], typer.Option("--teacher", help="Teacher ONNX file; repeat for several.")
                       ] = [],  # noqa: B006 (typer needs a list)
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of images (PNG/JPG/BMP/TIFF/DICOM).")
                      ] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Teacher weights, e.g. 1,1 (equal).")] = None,
    fusion: Annotated[str, typer.Option("--fusion", help="mean (paper), vote or staple.")] = "mean",
    min_pixels: Annotated[Optional[int], typer.Option("--min-pixels", help="alpha: minimum target pixels.")] = None,
    min_fraction: Annotated[Optional[float], typer.Option(
        "--min-fraction", help="alpha as a fraction of the image (default: 256 px at 384x384, scaled).")] = None,
    max_entropy: Annotated[float, typer.Option("--max-entropy", help="beta: max mask entropy in bits.")] = 2.5,
    no_filter: Annotated[bool, typer.Option("--no-filter", help="Keep every image (statistics still recorded).")
                         ] = False,
    tta: Annotated[Optional[str], typer.Option("--tta", help="'flip': average with the flipped prediction.")] = None,
    size: Annotated[int, typer.Option("--size", help="Working size S of the pseudo masks.")] = 384,
    device: DeviceOpt = "auto",
    batch: Annotated[int, typer.Option("--batch", min=1, help="Images per teacher call.")] = 8,
    threads: ThreadsOpt = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, help="Threads decoding and resizing images beside the teachers (default: the cores).")
    ] = None,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    contract: ContractOpt = [],  # noqa: B006
    shard: Annotated[Optional[str], typer.Option(
        "--shard", help="K/N: label only every N-th image from the K-th (one machine's share); then --merge.")] = None,
    merge: Annotated[list[Path], typer.Option(
        "--merge", help="Shard folder to combine into --out (repeat for every shard; no --teacher/--images).")
                     ] = [],  # noqa: B006
    ray: Annotated[Optional[str], typer.Option(
        "--ray", help="Run the teachers on Ray Data actors: 'local' (a Ray started here), 'auto' or a cluster "
                      "address (ray://head:10001). Needs pip install 'nakt-edge[ray]'.")] = None,
    ray_actors: Annotated[Optional[int], typer.Option(
        "--ray-actors", min=1, help="With --ray: teacher actors (default: one per GPU, else per CPU).")] = None,
    force: ForceOpt = False,
) -> None:
    """Label images with the fused output of ONNX teachers; a re-run resumes.

    On several machines: `--shard K/N` on each, then `--merge` the N shard folders into one set, or one
    run over a Ray cluster with `--ray ADDRESS`."""
    from nakt_edge.config import LabelConfig
    from nakt_edge.labeling.labeler import label as label_api
    from nakt_edge.labeling.shards import merge_shards, parse_shard

    if merge:
        if teacher or images is not None or shard is not None or ray is not None:
            raise InputError("--merge combines finished shards: leave out --teacher, --images, --shard and --ray",
                             hint="nakt label --merge SHARD1 --merge SHARD2 ... --out SET")
        with RichReporter() as reporter:
            summary, copied, seconds = merge_shards(merge, out, force=force, reporter=reporter)
        _print_summary(out, summary)
        console.print(f"merged {len(merge)} shard(s) into {out} in {seconds:.1f} s ({copied} mask(s) copied)")
        return
    if not teacher or images is None:
        raise InputError("nakt label needs --teacher MODEL.onnx and --images DIR", hint="see nakt label --help")
    if min_pixels is not None and min_fraction is not None:
        raise InputError("--min-pixels and --min-fraction exclude each other", hint="pass one of them")
    if tta not in (None, "flip"):
        raise InputError(f"--tta '{tta}' is not supported", hint="use --tta flip or leave it out")
    config = LabelConfig(size=size, fusion=fusion, weights=parse_weights(weights), min_pixels=min_pixels,
                         min_fraction=min_fraction, max_entropy=max_entropy, filter=not no_filter, tta=tta,
                         device=device, batch=batch, threads=threads, workers=workers)  # type: ignore[arg-type]
    with RichReporter() as reporter:
        result = label_api(teacher, images, out, config, manifest=manifest, split=split,
                           overrides=parse_contract(contract), shard=parse_shard(shard) if shard else None,
                           ray_address=ray, ray_actors=ray_actors, force=force, reporter=reporter)
    _print_summary(out, result.summary)
    console.print(f"labeled {result.processed} image(s) in {result.seconds:.1f} s "
                  f"({fmt(result.images_per_s, 1)} images/s), {result.skipped} already done; "
                  f"wrote {out}/manifest.csv, summary.json, entropy_hist.png")


def _print_summary(out: Path, s: dict[str, Any]) -> None:
    """The Table 7 counts and the teachers of a pseudo-labeled set."""
    c = s["counts"]
    print_table(f"pseudo-labeled set {out}", ["images", "unreadable", "labeled",
                                              f"< alpha ({s['alpha_min_pixels']} px)",
                                              f"> beta ({fmt(s['beta_max_entropy'], 2)} bits)", "kept", "kept %"],
                [[c["total"], c["unreadable"], c["labeled"], c["few_pixels"], c["high_entropy"], c["kept"],
                  fmt(c["kept_percent"], 1)]])
    print_table("teachers", ["model", "provider", "sha256"],
                [[Path(t["path"]).name, t["provider"], t["sha256"][:12]] for t in s["teachers"]])
