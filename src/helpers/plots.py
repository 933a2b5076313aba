"""Figure style and saving with a provenance line (encoder, data, mode). No computation."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

CLASS_NAMES = {1: "included", 0: "excluded"}


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


def tsne_scatter(ax, points, reviews, labels, title: str) -> None:
    """Colour by review, marker by class (circle = included, x = excluded); a single review
    is coloured by class instead, so the two classes stand apart."""
    frame = {"x": points[:, 0], "y": points[:, 1], "review": list(reviews),
             "class": [CLASS_NAMES[int(v)] for v in labels]}
    hue = "review" if len(set(frame["review"])) > 1 else "class"
    sns.scatterplot(data=frame, x="x", y="y", hue=hue, style="class",
                    markers={"included": "o", "excluded": "X"}, style_order=["included", "excluded"],
                    s=18, alpha=0.75, linewidth=0, ax=ax)
    ax.set(title=title, xlabel="t-SNE 1", ylabel="t-SNE 2", xticks=[], yticks=[])


def cosine_heatmap(ax, sim, n_included: int, title: str) -> None:
    """Class-ordered cosine matrix with the class boundary drawn."""
    im = ax.imshow(sim, cmap="viridis", vmin=-1 if sim.min() < 0 else 0, vmax=1, interpolation="nearest")
    ax.axhline(n_included - 0.5, color="white", lw=1.2)
    ax.axvline(n_included - 0.5, color="white", lw=1.2)
    ax.set_title(title)
    ax.set_xticks([n_included / 2, (n_included + len(sim)) / 2], ["included", "excluded"])
    ax.set_yticks([n_included / 2, (n_included + len(sim)) / 2], ["included", "excluded"], rotation=90, va="center")
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04).set_label("cosine similarity", labelpad=2)


def score_distributions(ax_density, ax_survival, scores, labels, threshold: float, label: str) -> None:
    """Per-class density of the classifier score, and survival 1 - CDF with the @95 threshold."""
    import numpy as np

    for cls in (1, 0):
        s = np.sort(np.asarray(scores)[np.asarray(labels) == cls])
        name = CLASS_NAMES[cls]
        sns.kdeplot(s, ax=ax_density, fill=True, alpha=0.3, label=name, cut=0, clip=(0, 1), warn_singular=False)
        ax_survival.step(s, 1 - np.arange(1, len(s) + 1) / len(s), where="post", label=name)
    for ax in (ax_density, ax_survival):
        ax.axvline(threshold, color="crimson", ls="--", lw=1, label="threshold (recall ≥ 0.95)")
        ax.set_xlim(0, 1)
        ax.set_xlabel("logistic-regression score P(included)")
    ax_density.set(title=f"{label}: score density", ylabel="density")
    ax_survival.set(title=f"{label}: survival 1 − CDF", ylabel="share of class with score > x")
    ax_density.legend(fontsize=8)
    ax_survival.legend(fontsize=8)


VARIANT_LABELS = {"base": "Base", "lora": "LoRA", "lora+int4": "LoRA + 4-bit", "lora+wanda50": "LoRA + pruning (Wanda 50 %)"}


def per_review_dots(ax, summary, order: list[str], variants: list[str], missing: set[str], flagged: set[str]) -> None:
    """Mean AWSS@95 per review and variant with the spread across seeds as error bars;
    reviews without text keep their row, marked 'no text here'; flagged reviews get a '†'."""
    import numpy as np

    offsets = np.linspace(-0.27, 0.27, len(variants))
    palette = sns.color_palette("colorblind", len(variants))
    for k, (variant, dy) in enumerate(zip(variants, offsets)):
        d = summary[summary.variant == variant].set_index("review")
        ys = [i + dy for i, r in enumerate(order) if r in d.index]
        xs = [d.loc[r, "mean"] for r in order if r in d.index]
        err = [0 if np.isnan(d.loc[r, "std"]) else d.loc[r, "std"] for r in order if r in d.index]
        ax.errorbar(xs, ys, xerr=err, fmt="o", ms=4, capsize=2, color=palette[k], label=VARIANT_LABELS.get(variant, variant))
    for i, r in enumerate(order):
        if r in missing:
            ax.text(0.02, i, "no text here", va="center", fontsize=8, color="0.5", transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(order)), [f"{r} †" if r in flagged else r for r in order])
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("AWSS@95 (mean over seeds; bars: ± 1 sd)")
