"""Figure style, fixed colours and names, saving with a provenance line, and the figure and
table types the notebooks share. No computation: everything drawn is passed in.

One colour per review and per method across every figure, and one display name per method
in legends and tables (``method_label``), so a reader can follow a review or a method from
page to page.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..core.data import REVIEWS

CLASS_NAMES = {1: "included", 0: "excluded"}
CLASS_COLORS = {"included": "#d1495b", "excluded": "#3b6ea8"}
REVIEW_COLORS = dict(zip(REVIEWS, sns.color_palette("tab20", len(REVIEWS)).as_hex()))
# a colour per method the book shows, fixed so a method keeps its colour from figure to figure
# (the others take the palette's); what a method is called is the variant's own ``label``
METHOD_COLORS = {
    "base": "#7f7f7f", "lora": "#1f77b4", "lora+int4": "#17becf", "lora+wanda50": "#9467bd",
    "student3-from-lora": "#e6550d", "student3-from-base": "#fdae6b", "student3": "#a55194",
    "hybrid-sqrt": "#2ca02c", "hybrid-both": "#98df8a", "peft-svd": "#ff7f0e", "peft-ties": "#ffbb78",
    "peft-dare_ties": "#8c564b", "peft-cat": "#c49c94", "tfidf+lr": "#bcbd22", "setfit": "#e377c2",
    "asreview-oneshot": "#d62728", "asreview-al": "#8b0000",
}


@lru_cache(maxsize=1)
def _labels() -> dict[str, str]:
    """Every method the book names (the study's variants, its students, the peers, notebook 06's
    compositions, notebook 08's candidates) by results-table name, with its label."""
    from ..methods.beyond import ACTIVE_LEARNING_CANDIDATES, ONE_SHOT_CANDIDATES
    from ..models.compose import compositions
    from ..core.config import DistillArgs
    from ..methods.peers import PEERS
    from ..methods.distilled import distilled_variants
    from ..methods.variants import STUDY_VARIANTS

    named = (*STUDY_VARIANTS, *distilled_variants(DistillArgs()), *PEERS, *ONE_SHOT_CANDIDATES,
             *ACTIVE_LEARNING_CANDIDATES, *compositions())
    return {v.name: v.label for v in named}


def method_label(name: str) -> str:
    """A results-table method name as a reader sees it (the variant's ``label``; a name the book
    does not know stays as it is)."""
    return _labels().get(name, name)


def method_color(name: str, fallback_index: int = 0) -> str:
    return METHOD_COLORS.get(name) or sns.color_palette("dark", 10).as_hex()[fallback_index % 10]


def setup_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "svg.fonttype": "none"})


def provenance(*, encoder: str, mode: str, data: str, extra: str = "") -> str:
    """The line every figure carries: which encoder, which data, which mode made it."""
    parts = [f"encoder: {encoder}", f"data: {data}", f"mode: {mode}"]
    return " · ".join(parts + ([extra] if extra else []))


def save_figure(fig: plt.Figure, name: str, figures_dir: Path, caption: str) -> list[Path]:
    """Stamp the provenance caption under the figure and write PNG and SVG.

    The files are byte-for-byte the same when the figure is: no date in the metadata and
    SVG element ids salted by the figure's name, so a re-run that changes nothing leaves
    the committed figures unchanged in git."""
    fig.text(0.01, -0.01, caption, ha="left", va="top", fontsize=8, color="0.35", wrap=True)
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = [figures_dir / f"{name}.{ext}" for ext in ("png", "svg")]
    with plt.rc_context({"svg.hashsalt": name}):
        for p in paths:
            fig.savefig(p, metadata={"Date": None} if p.suffix == ".svg" else None)
    return paths


def table(df: pd.DataFrame, *, caption: str = "", decimals: int = 3, hide_index: bool = False):
    """A Styler with integer columns as integers with thousands separators, other numbers to
    ``decimals`` places, missing values as '–'."""
    formats = {}
    for col in df.columns:
        values = df[col]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        finite = values.dropna()
        # counts that NaN turned into floats are still counts (whole numbers, not all 0/1)
        integral = pd.api.types.is_integer_dtype(values) or (
            len(finite) > 0 and bool((finite == finite.round()).all()) and finite.abs().max() >= 2)
        formats[col] = "{:,.0f}" if integral else f"{{:,.{decimals}f}}"
    styler = df.style.format(formats, na_rep="–")
    if caption:
        styler = styler.set_caption(caption)
    return styler.hide(axis="index") if hide_index else styler


def tsne_scatter(ax, points, reviews, labels, *, title: str) -> None:
    """Colour by review (its fixed colour), marker by class (circle = included, x = excluded);
    a single review is coloured by class instead, so the two classes stand apart."""
    frame = pd.DataFrame({"x": points[:, 0], "y": points[:, 1], "review": list(reviews),
                          "class": [CLASS_NAMES[int(v)] for v in labels]})
    single = frame["review"].nunique() == 1
    sns.scatterplot(data=frame, x="x", y="y", hue="class" if single else "review",
                    palette=CLASS_COLORS if single else REVIEW_COLORS, style="class",
                    markers={"included": "o", "excluded": "X"}, style_order=["included", "excluded"],
                    s=18, alpha=0.75, linewidth=0, ax=ax)
    ax.set(title=title, xlabel="t-SNE 1", ylabel="t-SNE 2", xticks=[], yticks=[])


def cosine_heatmap(ax, sim, n_included: int, *, title: str) -> None:
    """Class-ordered cosine matrix with the class boundary drawn."""
    im = ax.imshow(sim, cmap="viridis", vmin=-1 if sim.min() < 0 else 0, vmax=1, interpolation="nearest")
    ax.axhline(n_included - 0.5, color="white", lw=1.2)
    ax.axvline(n_included - 0.5, color="white", lw=1.2)
    ax.set_title(title)
    ax.set_xticks([n_included / 2, (n_included + len(sim)) / 2], ["included", "excluded"])
    ax.set_yticks([n_included / 2, (n_included + len(sim)) / 2], ["included", "excluded"], rotation=90, va="center")
    ax.grid(False)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04).set_label("cosine similarity", labelpad=2)


def score_distributions(ax_density, ax_survival, scores, labels, *, threshold: float, label: str) -> None:
    """Per-class density of the classifier score, and survival 1 - CDF with the @95 threshold."""
    for cls in (1, 0):
        s = np.sort(np.asarray(scores)[np.asarray(labels) == cls])
        name = CLASS_NAMES[cls]
        sns.kdeplot(s, ax=ax_density, fill=True, alpha=0.3, label=name, cut=0, clip=(0, 1), warn_singular=False,
                    color=CLASS_COLORS[name])
        ax_survival.step(s, 1 - np.arange(1, len(s) + 1) / len(s), where="post", label=name, color=CLASS_COLORS[name])
    for ax in (ax_density, ax_survival):
        ax.axvline(threshold, color="black", ls="--", lw=1, label="threshold (recall ≥ 0.95)")
        ax.set_xlim(0, 1)
        ax.set_xlabel("logistic-regression score P(included)")
    ax_density.set(title=f"{label}: score density", ylabel="density")
    ax_survival.set(title=f"{label}: survival 1 − CDF", ylabel="share of class with score > x")
    ax_density.legend(fontsize=8)
    ax_survival.legend(fontsize=8)


def per_review_dots(ax, summary: pd.DataFrame, order: list[str], methods: list[str], *, missing: set[str] = frozenset(),
                    flagged: set[str] = frozenset(), metric_label: str = "AWSS@95") -> None:
    """Mean per review and method (rows of ``summary``: review, variant, mean, std) with ± 1 sd
    across seeds as error bars; reviews without text keep their row, marked 'no text here';
    flagged reviews get a '†'. Methods sit side by side within a review's row; nothing joins
    the points, since reviews are not ordered."""
    offsets = np.linspace(-0.3, 0.3, len(methods)) if len(methods) > 1 else [0.0]
    for k, (method, dy) in enumerate(zip(methods, offsets)):
        d = summary[summary.variant == method].set_index("review")
        present = [r for r in order if r in d.index]
        ax.errorbar([d.loc[r, "mean"] for r in present], [order.index(r) + dy for r in present],
                    xerr=[0 if np.isnan(d.loc[r, "std"]) else d.loc[r, "std"] for r in present],
                    fmt="o", ms=4, capsize=2, lw=1, color=method_color(method, k), label=method_label(method))
    for i, r in enumerate(order):
        if r in missing:
            ax.text(0.02, i, "no text here", va="center", fontsize=8, color="0.5", transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(order)), [f"{r} †" if r in flagged else r for r in order])
    for tick, r in zip(ax.get_yticklabels(), order):
        tick.set_color("0.5" if r in missing else "black")
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"{metric_label} (mean over seeds; bars: ± 1 sd)")


def mean_sd_plot(rows: pd.DataFrame, order: list[str], *, metrics=("awss", "wss")) -> plt.Figure:
    """One panel per metric: each seed's value per variant (dots) and the mean ± sd (diamond)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for k, v in enumerate(order):
            vals = rows[rows.variant == v][metric]
            ax.scatter(np.full(len(vals), k) + np.linspace(-0.08, 0.08, len(vals)), vals, alpha=0.7,
                       color=method_color(v, k))
            ax.errorbar(k + 0.22, vals.mean(), yerr=vals.std() if len(vals) > 1 else 0, fmt="D", color="black", capsize=4)
        ax.set_xticks(range(len(order)), [method_label(v) for v in order])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel(f"{metric.upper()}@95 on the evaluation set")
        ax.set_title(f"{metric.upper()}@95 per seed (dots) and mean ± sd")
    return fig


def mean_sd_table(summary: pd.DataFrame, *, reviews: list[str], variants: list[str]) -> pd.DataFrame:
    """Reviews × variants (display names) of "mean ± sd" over seeds from ``summary_table``'s rows
    (the mean alone where there is one seed)."""
    cells = summary.assign(cell=[f"{m:.3f} ± {s:.3f}" if c > 1 else f"{m:.3f}"
                                 for m, s, c in zip(summary["mean"], summary["std"], summary["count"])])
    wide = cells.pivot(index="review", columns="variant", values="cell")
    return wide.reindex(index=reviews, columns=variants).rename(columns=method_label).rename_axis(columns=None)


def stopping_rules_by_method(summary: pd.DataFrame, *, recall_target: float):
    """Notebook 10's first figure: recall reached against work saved, one marker per rule, one
    colour per method; the oracle's markers ringed."""
    rule_names = list(dict.fromkeys(summary["rule"]))
    markers = dict(zip(rule_names, "o^sDv*P"))
    fig, ax = plt.subplots(figsize=(9, 6), layout="constrained")
    for k, (variant, group) in enumerate(summary.groupby("variant", sort=False)):
        for row in group.itertuples():
            ax.scatter(row.work_saved, row.recall, marker=markers[row.rule], s=60, color=method_color(variant, k),
                       edgecolor="black" if row.family == "oracle" else "none")
    ax.axhline(recall_target, color="black", ls="--", lw=1)
    for rule, marker in markers.items():
        ax.scatter([], [], marker=marker, color="0.4", label=rule)
    for k, variant in enumerate(dict.fromkeys(summary["variant"])):
        ax.scatter([], [], marker="s", color=method_color(variant, k), label=method_label(variant))
    ax.set(xlabel="work saved at the stop (share of the pool not read; mean over reviews)",
           ylabel="recall reached at the stop (mean over reviews)", title="Stopping rules in practice")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def stopping_frontier(panels: dict[str, pd.DataFrame], *, chosen: str | None, recommended: str, goal: float):
    """Notebook 10's frontier: for each split (development, held-out), every rule × setting as one
    point — share of runs below the recall target against work saved — coloured by rule family,
    the chosen rule ringed, the recommended one squared, the goal's share dashed."""
    families = list(dict.fromkeys(f for t in panels.values() for f in t["family"]))
    colours = dict(zip(families, sns.color_palette("tab10", len(families)).as_hex()))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.2), layout="constrained", sharey=True)
    for ax, (title, table) in zip(np.atleast_1d(axes), panels.items()):
        for row in table.itertuples():
            ax.errorbar(row.work_saved, row.below_share, yerr=[[row.below_share - row.below_ci_low],
                                                               [row.below_ci_high - row.below_share]],
                        fmt="o", ms=6, color=colours[row.family], alpha=0.85, lw=0.8)
            if row.rule == chosen:
                ax.scatter(row.work_saved, row.below_share, s=240, facecolor="none", edgecolor="black", lw=1.5, zorder=5)
            if row.rule == recommended:
                ax.scatter(row.work_saved, row.below_share, s=240, marker="s", facecolor="none", edgecolor="black",
                           lw=1.5, zorder=5)
        ax.axhline(goal, color="black", ls="--", lw=1)
        ax.set(title=title, xlabel="work saved (share of the pool not read; mean over reviews)", xlim=(-0.02, 1))
    np.atleast_1d(axes)[0].set_ylabel("runs below the recall target (share, exact 95 % CI)")
    for family, colour in colours.items():
        np.atleast_1d(axes)[-1].scatter([], [], color=colour, label=family)
    np.atleast_1d(axes)[-1].scatter([], [], s=240, facecolor="none", edgecolor="black", label="chosen on development")
    np.atleast_1d(axes)[-1].scatter([], [], s=240, marker="s", facecolor="none", edgecolor="black", label="recommended")
    np.atleast_1d(axes)[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def learning_curves(awss: pd.DataFrame, realised: pd.DataFrame, flops: pd.DataFrame, *, study_k: int = 8):
    """Notebook 11's figure: mean AWSS@95 against the labelled citations per class (log₂ axis, 95 %
    CIs over reviews) per method; the work a reviewer really saves stopping with the recommended
    rule; phase 1's counted FLOPs. The study's k dotted."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 5), layout="constrained")
    for ax, table, ylabel in ((axes[0], awss, "AWSS@95 (mean over reviews)"),
                              (axes[1], realised, "work saved at the recommended rule's stop")):
        for k, (variant, group) in enumerate(table.groupby("variant", sort=False)):
            group = group.sort_values("k")
            ax.errorbar(group["k"], group["mean"], yerr=[group["mean"] - group["ci_low"], group["ci_high"] - group["mean"]],
                        marker="o", capsize=3, color=method_color(variant, k), label=method_label(variant))
        ax.set(ylabel=ylabel)
    per_k = flops.groupby("k")["train_flops"].agg(["mean", "min", "max"]).reset_index()
    axes[2].plot(per_k["k"], per_k["mean"], marker="o", color=method_color("lora"), label="phase 1 (mean over reviews × seeds)")
    axes[2].fill_between(per_k["k"], per_k["min"], per_k["max"], color=method_color("lora"), alpha=0.2)
    axes[2].set(ylabel="phase-1 FLOPs per review and seed (counted)")
    for ax, title in zip(axes, ("Work saved (oracle stop)", "Work saved, stopping by the rule", "Phase 1's cost")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(awss["k"].unique()), [str(k) for k in sorted(awss["k"].unique())])
        ax.axvline(study_k, color="0.5", ls=":", lw=1)
        ax.set(xlabel="labelled citations per class, k (log₂)", title=title)
    axes[0].legend(fontsize=8, loc="best")
    return fig


COST_AXES = {"flops_per_citation": "FLOPs per citation screened, training and inference (counted, any machine)",
             "energy_wh": "energy per review and seed, Wh"}


def awss_against_cost(methods: pd.DataFrame, fronts: dict[str, np.ndarray], *, energy: str, country: str) -> plt.Figure:
    """Notebook 09's figure: each method's mean AWSS@95 against its counted FLOPs per citation
    (machine-free) and against its energy per review (this machine, ``energy``: "estimated" or
    "measured"), with the Pareto front of each (``fronts``: positions, ``cost.cost_fronts``).
    Squares: work counted from the non-zeros of sparse matrices; circles: an encoder's products."""
    from matplotlib.ticker import NullFormatter

    from ..analysis.cost import on_cost_axis

    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5), layout="constrained")
    sparse = methods["flops_counted"].str.startswith("counted (sparse)").to_numpy()
    for ax, column in zip(axes, COST_AXES):
        x = methods[column].to_numpy(dtype=float)
        on_axis = on_cost_axis(x)
        for k, (variant, xv, yv) in enumerate(zip(methods["variant"], x, methods["awss"])):
            if on_axis[k]:
                ax.scatter(xv, yv, s=60, marker="s" if sparse[k] else "o", color=method_color(variant, k),
                           label=method_label(variant))
        front = fronts[column]
        ax.plot(x[front], methods["awss"].to_numpy()[front], color="black", lw=1, ls="--", marker="o", ms=13,
                mfc="none", label="Pareto front")
        shown = x[on_axis]
        ax.set(xscale="log", xlabel=COST_AXES[column] + (f" ({energy})" if column == "energy_wh" else ""),
               ylabel="AWSS@95 (mean over reviews)",
               xlim=(min(shown.min() / 2, shown.max() / 20), shown.max() * 2))  # a decade at least: ratios read true
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only: minor ones collide on a short axis
    axes[0].set_title("Per citation: machine-free (squares: sparse work, counted from its non-zeros)", fontsize=11)
    axes[1].set_title(f"Per review: this machine, {country} grid")
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig
