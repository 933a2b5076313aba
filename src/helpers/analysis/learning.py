"""Learning curves (notebook 11): how each method's work saved grows with the labelled citations
per class, k, when the study fixes k = 8.

Every k reuses notebook 05's machinery: the same variants and sweep, with the sweep's
``n_per_class`` set to k — a key column of every row, so each k has rows of its own and k = 8 is
the study's rows. The draws of one seed are nested (``fewshot.draw_order``: the k + k of a smaller
k are among those of a larger one), so the curves are paired along k. A review with fewer than
k + ``min_eval_included`` included records is skipped at that k and named, never dropped in
silence. Each row's reading order is stored as it lands, so the realised work saved of a
reviewer who stops with ``stopping.recommended`` needs no re-run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.config import SweepConfig

K_VALUES = (2, 4, 8, 16, 32, 64)
MIN_EVAL_INCLUDED = 5  # included records left to evaluate on, below which a review is skipped at a k


@dataclass(frozen=True)
class Plan:
    """Which reviews run at each k, and which are skipped, with the reason."""

    reviews: dict[int, tuple[str, ...]]
    skipped: pd.DataFrame  # k, review, included, reason


def plan(reviews: list[str], ks, *, data_dir=None, min_eval_included: int = MIN_EVAL_INCLUDED) -> Plan:
    """The reviews at each k: those with at least k + ``min_eval_included`` included records (and
    k + 1 excluded ones); every other one named with its count."""
    from ..core.data import load_review

    counts = {r: load_review(r, data_dir)["label"].to_numpy() for r in reviews}
    kept, skipped = {}, []
    for k in ks:
        kept[k] = tuple(r for r in reviews if counts[r].sum() >= k + min_eval_included and (counts[r] == 0).sum() > k)
        skipped += [{"k": k, "review": r, "included": int(counts[r].sum()), "reason": _too_few(counts[r], k, min_eval_included)}
                    for r in reviews if r not in kept[k]]
    return Plan(kept, pd.DataFrame(skipped, columns=["k", "review", "included", "reason"]))


def _too_few(labels, k: int, min_eval_included: int) -> str:
    """Why a review cannot be run at k per class, in its own numbers."""
    included, excluded = int(labels.sum()), int((labels == 0).sum())
    if included < k + min_eval_included:
        return f"{included} included: fewer than {k} + {min_eval_included} to evaluate on"
    return f"{excluded} excluded: fewer than {k} + 1"


def at_k(config: SweepConfig, k: int) -> SweepConfig:
    return replace(config, n_per_class=k)


def sweep(config: SweepConfig, the_plan: Plan, seeds: list[int], variants, results_path: Path, *,
          orders_folder: Path, scheduler: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Every k × review × seed × variant of the plan (rows reused where stored; each k's rows and
    reading orders land as its tasks finish), with a column ``k``."""
    from ..methods.experiment import sweep as sweep_rows

    frames = []
    for k, reviews in the_plan.reviews.items():
        if reviews:
            rows = sweep_rows(at_k(config, k), list(reviews), seeds, variants, results_path, scheduler=scheduler,
                              progress=progress, orders_folder=orders_folder)
            frames.append(rows.assign(k=k))
    return pd.concat(frames, ignore_index=True)


def realised(config: SweepConfig, the_plan: Plan, seeds: list[int], variants, *, folder: Path,
             recall_target: float = 0.95, confidence: float = 0.95, progress: bool = True) -> pd.DataFrame:
    """What a reviewer who follows ``stopping.recommended`` really saves at each k: per k × review
    × seed × method, the recall reached and the work saved at its stop, on the pool after the 2k
    training records (the pool AWSS@95 is computed on), read from the stored orders."""
    from ..compute import stopping
    from ..methods.orders import orders

    out = []
    for k, reviews in the_plan.reviews.items():
        if not reviews:
            continue
        runs = orders(at_k(config, k), list(reviews), seeds, variants, folder=folder, progress=progress)
        for run in runs.itertuples(index=False):
            pool = np.asarray(run.labels)[run.n_train:]
            stop = stopping.recommended(pool, len(pool), recall_target=recall_target, confidence=confidence)
            out.append({"k": k, "review": run.review, "seed": run.seed, "variant": run.variant,
                        **stopping.outcome(pool, stop),
                        "oracle_work_saved": stopping.oracle(pool, recall_target=recall_target)["work_saved"]})
    return pd.DataFrame(out)


def means(rows: pd.DataFrame, *, metric: str = "awss") -> pd.DataFrame:
    """Per k and method: the mean over reviews of the mean over seeds, its bootstrap 95 % CI over
    reviews, and how many reviews and rows are behind it."""
    from ..compute.stats import mean_with_ci

    out = []
    for (k, variant), group in rows.groupby(["k", "variant"], sort=True):
        per_review = group.groupby("review")[metric].mean()
        mean, low, high = mean_with_ci(per_review.to_numpy())
        out.append({"k": k, "variant": variant, "mean": mean, "ci_low": low, "ci_high": high,
                    "reviews": len(per_review), "rows": len(group)})
    return pd.DataFrame(out)


def paired_by_k(rows: pd.DataFrame, *, reference: str = "lora", others: dict[str, str], metric: str = "awss") -> pd.DataFrame:
    """At each k, ``reference`` against each other method over the (review, seed) pairs both have:
    Wilcoxon's test, median difference, wins/ties/losses and the report's reading (``verdict``).
    ``others`` maps a comparison's role ("Base", "best one-shot peer") to a method per k, or to
    one method for every k (a plain string)."""
    from ..compute.stats import paired, verdict

    out = []
    for k, group in rows.groupby("k", sort=True):
        wide = group.pivot_table(index=["review", "seed"], columns="variant", values=metric)
        for role, other in others.items():
            name = other if isinstance(other, str) else other[k]
            both = wide[[reference, name]].dropna()
            test = paired(both[reference], both[name])
            row = {"k": k, "role": role, "comparison": f"{reference} − {name}", **test}
            out.append({**row, "reading": verdict(pd.Series(row))})
    return pd.DataFrame(out)


def best_peer_by_k(rows: pd.DataFrame, peers: list[str]) -> dict[int, str]:
    """At each k, the one-shot peer with the highest mean AWSS@95 (mean over seeds first)."""
    from ..compute.stats import best_by_mean

    return {k: best_by_mean(group, peers)["variant"].iloc[0] for k, group in rows.groupby("k", sort=True)}


def first_win(paired: pd.DataFrame, role: str) -> int | None:
    """The smallest k at which the reference beats ``role`` (median difference > 0, p < 0.05)."""
    wins = paired[(paired.role == role) & (paired.reading == "beats")]
    return int(wins["k"].min()) if len(wins) else None


def phase1_flops_by_k(counts, lengths: pd.DataFrame, config: SweepConfig, the_plan: Plan, seeds: list[int]) -> pd.DataFrame:
    """Counted FLOPs of phase 1 at each k (notebook 09's counting: the same seeded pairs and
    batches as training, each step's distinct texts padded to the longest training text), per
    review × seed."""
    from .cost import split_token_counts
    from ..models.flops import phase1_flops

    cost = counts.training(config.training)
    out = []
    for k, reviews in the_plan.reviews.items():
        split = split_token_counts(lengths, at_k(config, k))
        for review in reviews:
            for seed in seeds:
                tokens = split(review, seed)
                out.append({"k": k, "review": review, "seed": seed,
                            "train_flops": phase1_flops(cost, tokens.train, tokens.labels, config.training, seed=seed,
                                                        max_length=counts.encoder.max_length)})
    return pd.DataFrame(out)
