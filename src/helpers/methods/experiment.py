"""The one orchestrator: review × seed × variant → a results row, appended to the results table
(``helpers.core.results``) that the notebooks read.

``sweep`` plans the key of every row first (``variant.settings`` and the data's checksums are
known before anything is computed), then runs only the (review, seed) tasks whose rows are
missing — in-process or on a Dask scheduler (``helpers.methods.distributed``). One task is one
``Trial`` scoring all its missing variants, so they share the split, Base and phase 1; only
the driver writes the table.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from ..core import results
from ..core.config import SweepConfig
from ..core.data import review_checksum
from .trial import Trial, encoder_for, row_key
from .variant import Variant
from .variants import Lora


def run_task(config: SweepConfig, review: str, seed: int, variants: tuple[Variant, ...],
             orders_folder: Path | None = None) -> list[dict]:
    """One task of a sweep: the records of these variants for one review and seed; with
    ``orders_folder``, each variant's reading order is stored there too, from the same scores."""
    trial = Trial(config, review, seed)
    records = []
    for variant in variants:
        start = time.perf_counter()  # a row's seconds: the scoring alone, stored order or not
        scored = variant.score(trial)
        records.append(trial.record(variant, scored=scored, seconds=time.perf_counter() - start))
        if orders_folder is not None:
            from .orders import order_of

            order_of(trial, variant, folder=orders_folder, scores=scored.scores)
    return records


def plan_keys(config: SweepConfig, reviews: list[str], seeds: list[int],
              variants: tuple[Variant, ...]) -> dict[tuple[str, int, str], results.RowKey]:
    """The key of every (review, seed, variant) row, known before anything is computed."""
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"two variants of one sweep share a name: {sorted(n for n in names if names.count(n) > 1)}")
    identity = encoder_for(config).identity() if any(v.uses_encoder for v in variants) else None
    return {(review, seed, v.name): row_key(config, review, seed, v, checksum=review_checksum(review, config.data_dir),
                                             encoder=identity if v.uses_encoder else None)
            for review in reviews for seed in seeds for v in variants}


def sweep(config: SweepConfig, reviews: list[str], seeds: list[int], variants: tuple[Variant, ...],
          results_path: Path, *, scheduler: str | None = None, progress: bool = True,
          orders_folder: Path | None = None) -> pd.DataFrame:
    """Every review × seed × variant; rows already in the results table are reused, so an
    interrupted or repeated run only computes what is missing. Returns the rows of exactly
    these keys. With ``orders_folder``, the rows computed store their reading orders too
    (``helpers.methods.orders``; a row already stored leaves its order to ``orders.orders``)."""
    from .distributed import run_tasks

    keys = plan_keys(config, reviews, seeds, variants)
    is_done = dict(zip(keys, results.done(results.read(results_path), list(keys.values()))))
    by_name = {v.name: v for v in variants}
    tasks: dict[tuple[str, int], list[Variant]] = {}
    for (review, seed, name), finished in is_done.items():
        if not finished:
            tasks.setdefault((review, seed), []).append(by_name[name])
    jobs = [(f"{review}, seed {seed}", run_task, (config, review, seed, tuple(vs), orders_folder))
            for (review, seed), vs in tasks.items()]
    computed = run_tasks(jobs, results_path, scheduler=scheduler, progress=progress, desc="reviews × seeds")
    results.note_usage(reused=sum(is_done.values()), computed=computed)
    return results.select(results.read(results_path), list(keys.values()))


def summary_table(rows: pd.DataFrame, *, metric: str = "awss") -> pd.DataFrame:
    """Mean, sd and count over seeds per review and variant."""
    return rows.groupby(["review", "variant"])[metric].agg(["mean", "std", "count"]).reset_index()


def top_reviews(config: SweepConfig, reviews: list[str], seeds: list[int], results_path: Path, *,
                n: int = 5) -> pd.Series:
    """The ``n`` reviews with the best mean LoRA AWSS@95, read from the results table (notebook
    05's rows for these settings; nothing is recomputed). The mean is over every seed stored for
    these settings, at least ``seeds``, so running notebook 06 on fewer seeds than 05 composes
    the same reviews."""
    table = results.read(results_path)
    needed = list(plan_keys(config, reviews, seeds, (Lora(),)).values())
    found = sum(results.done(table, needed))
    if found < len(needed):
        raise LookupError(f"{results_path} holds {found} of the {len(needed)} LoRA rows of these settings "
                          "(reviews × seeds): run notebook 05 with them first, or name the reviews")
    stored = sorted(set(seeds) | {int(s) for s in table.loc[table["variant"] == Lora().name, "seed"]})
    rows = results.select(table, list(plan_keys(config, reviews, stored, (Lora(),)).values()))
    return rows.groupby("review")["awss"].mean().sort_values(ascending=False).head(n)
