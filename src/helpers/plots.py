"""Figure style and saving with a provenance line (encoder, data, mode). No computation."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

CLASS_NAMES = {1: "included", 0: "excluded"}
CLASS_MARKERS = {1: "o", 0: "x"}


def setup_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "svg.fonttype": "none"})


def provenance(encoder: str, mode: str, data: str, extra: str = "") -> str:
    """The line every figure carries: which encoder, which data, which mode made it."""
    parts = [f"encoder: {encoder}", f"data: {data}", f"mode: {mode}"]
    return " · ".join(parts + ([extra] if extra else []))


def save_figure(fig: plt.Figure, name: str, figures_dir: Path, caption: str) -> list[Path]:
    """Stamp the provenance caption under the figure and write PNG and SVG."""
    fig.text(0.01, -0.01, caption, ha="left", va="top", fontsize=8, color="0.35")
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = [figures_dir / f"{name}.{ext}" for ext in ("png", "svg")]
    for p in paths:
        fig.savefig(p)
    return paths
