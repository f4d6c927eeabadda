"""The paper's Figure 3 for a pseudo-labeled set: the entropy distribution with beta marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nakt_edge.outputs import atomic_path


def plot_entropy_histogram(entropies: Sequence[float], beta: float | None, path: str | Path, title: str = "") -> Path:
    """Write a PNG histogram of per-image mask entropies (bits) with the threshold beta as a line."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.6), dpi=110)
    upper = max([8.0 / 4, *entropies, (beta or 0) + 0.5])
    axis.hist(list(entropies), bins=40, range=(0, upper), color="#4c72b0", edgecolor="white")
    if beta is not None:
        excluded = sum(1 for e in entropies if e > beta)
        axis.axvline(beta, color="#c44e52", linestyle="--", label=f"beta = {beta:g} bits ({excluded} above)")
        axis.legend(loc="upper right")
    axis.set_xlabel("gray-level entropy of the soft pseudo mask (bits)")
    axis.set_ylabel("images")
    axis.set_title(title or f"pseudo-mask entropy, {len(entropies)} images")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return Path(path)
