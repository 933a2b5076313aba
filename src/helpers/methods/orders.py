"""Reading orders: the sequence in which a reviewer reads a review's records under each method,
stored per (review, seed, method) as a keyed artefact (``helpers.core.artefacts``), so a stopping rule
or any later analysis needs no re-run.

A reviewer has read the 16 training records before any method ranks (they are its labels; an
active-learning run starts from them as priors), then reads the rest in the method's order:
descending score for a one-shot ranking, labelling order for active learning (whose records
never shown come last). The key is the results row's key of that review, seed and method:
everything that changes the ranking.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.artefacts import stored
from ..core.progress import progress as progress_bar


def reading_order(train_positions, eval_positions, scores) -> np.ndarray:
    """Positions in reading order: the training records first, then the evaluation records by
    descending score, ties in table order."""
    eval_positions = np.asarray(eval_positions)
    ranked = eval_positions[np.argsort(-np.asarray(scores, dtype=float), kind="stable")]
    return np.r_[np.asarray(train_positions), ranked].astype(np.int32)


def order_of(trial, variant, *, folder: Path, recompute: bool = False, scores=None) -> dict:
    """The stored reading order of one review × seed × method (computed and stored where it is
    missing, from ``scores`` where the caller has already scored): ``positions`` in the review
    table and their ``labels``, and ``n_total``."""
    def compute() -> dict:
        data = trial.data
        positions = reading_order(data.split.train, data.split.eval,
                                  variant.score(trial).scores if scores is None else scores)
        return {"positions": positions, "labels": data.table["label"].to_numpy()[positions].astype(np.int8),
                "n_total": len(positions)}

    split = "" if trial.config.n_per_class == 8 else f"-{trial.config.n_per_class}per-class"
    name = f"orders/{variant.name.replace(':', '_')}/{trial.review}-seed{trial.seed}{split}"
    return stored(name, {"row": trial.key(variant).hash}, compute, folder=folder, recompute=recompute)


def probabilities_of(trial, variant, *, folder: Path, recompute: bool = False) -> np.ndarray:
    """A one-shot method's probability of inclusion for each evaluation record, in its reading order
    (descending): what a rule that reads a model's probabilities (Quant) needs. Stored like the
    order, under the same row key; only for a method whose scores are probabilities."""
    def compute() -> dict:
        scores = np.asarray(variant.score(trial).scores, dtype=float)
        if not ((scores >= 0) & (scores <= 1)).all():
            raise ValueError(f"{variant.name}'s scores are not probabilities; Quant cannot read them")
        return {"probabilities": np.sort(scores)[::-1]}

    name = f"probabilities/{variant.name.replace(':', '_')}/{trial.review}-seed{trial.seed}"
    return stored(name, {"row": trial.key(variant).hash}, compute, folder=folder, recompute=recompute)["probabilities"]


def orders(config, reviews: list[str], seeds: list[int], variants, *, folder: Path, recompute: bool = False,
           probabilities: tuple[str, ...] = (), progress: bool = True) -> pd.DataFrame:
    """Every review × seed × method's reading order (one row each: review, seed, variant, the row
    key it belongs to, labels in reading order, n_total, n_train: the training records read first),
    each stored as it lands, so an interrupted run resumes where it stopped. One trial per review
    and seed, shared by its methods. For the methods named in ``probabilities``, also their
    probability of every evaluation record in reading order (``scores``; None for the others)."""
    from .trial import Trial

    rows = []
    for review, seed in progress_bar([(r, s) for r in reviews for s in seeds], desc="reading orders", enabled=progress):
        trial = Trial(config, review, seed)
        for variant in variants:
            order = order_of(trial, variant, folder=folder, recompute=recompute)
            scores = (probabilities_of(trial, variant, folder=folder, recompute=recompute)
                      if variant.name in probabilities else None)
            rows.append({"review": review, "seed": seed, "variant": variant.name, "key": trial.key(variant).hash,
                         "labels": order["labels"], "n_total": int(order["n_total"]),
                         "n_train": 2 * config.n_per_class, "scores": scores})
    return pd.DataFrame(rows)
