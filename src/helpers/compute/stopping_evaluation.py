"""Notebook 10's protocol: the grid of stopping rules, every rule on every run, and the selection.

``candidates`` is the grid of rules and settings; ``evaluate`` applies each to every stored
reading order (on the pool after the training records) beside the oracle, ``summarise`` and
``readable`` turn that into the tables; ``choose`` picks a rule on the development reviews and
``recommend`` lets the held-out reviews veto it. Apart from the rules (``stopping_rules``,
``stopping_settings``) and the recommended rule (``stopping``): it is the study of the rules,
which a reviewer's tools never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from .counting_process import CURVE_FAMILIES
from .stopping import oracle, outcome
from .stopping_rules import Stop
from .stopping_settings import Consecutive, CountingProcess, Knee, Qbcb, Quant, Rule, Statistical

if TYPE_CHECKING:
    import pandas as pd


def candidates(*, recall_target: float = 0.95, confidence: float = 0.95, consecutive=(50, 100), check_every: int = 10,
               biases=(1.0, 1.25, 1.5, 2.0, 3.0), confidences=(0.8, 0.9, 0.95, 0.99)) -> tuple[Rule, ...]:
    """Notebook 10's grid of rules and settings: the heuristics, the urn at each bias × confidence
    (the reviewer's ``confidence`` always among them), the counting process with each curve, Quant
    and QuantCI, QBCB with two sample sizes."""
    confidences = sorted(set(confidences) | {confidence})
    return (*(Consecutive(n) for n in consecutive), Knee(),
            *(Statistical(recall_target=recall_target, confidence=c, bias=b, check_every=check_every)
              for b in biases for c in confidences),
            *(CountingProcess(curve=f, recall_target=recall_target, confidence=confidence) for f in CURVE_FAMILIES),
            Quant(recall_target=recall_target, check_every=check_every),
            Quant(recall_target=recall_target, nstd=2.0, check_every=check_every),
            Qbcb(59, recall_target=recall_target, confidence=confidence),
            Qbcb(100, recall_target=recall_target, confidence=confidence))


def choose(dev_pooled, rules, *, recall_target: float = 0.95, confidence: float = 0.95,
           goal: float = 0.05) -> str | None:
    """The selection rule, fixed before the held-out reviews were evaluated: among the rules that
    need only the labels and the pool size and promise this recall target at this confidence,
    those whose share of development runs below the target is under ``goal`` with 97.5 %
    one-sided confidence (the upper end of its two-sided 95 % exact interval ≤ ``goal``); of these, the one that saves the most
    reading on the development reviews. Returns its name; None where none qualifies (too few
    development runs to bound the misses so, or every rule missed too often)."""
    eligible = {r.name for r in rules if r.needs == "labels" and getattr(r, "recall_target", None) == recall_target
                and getattr(r, "confidence", None) == confidence}
    table = dev_pooled[dev_pooled["rule"].isin(eligible) & (dev_pooled["below_ci_high"] <= goal)]
    return None if table.empty else str(table.sort_values("work_saved", ascending=False)["rule"].iloc[0])


def recommend(chosen: str | None, held_pooled, *, fallback: str, goal: float = 0.05) -> str:
    """The rule to recommend: the development reviews' choice if the held-out reviews confirm it —
    its share of runs below the target at most ``goal``, the exact interval's upper end at most
    twice that — else ``fallback``, the conservative rule. The held-out runs can only veto a choice
    (and fall back to the rule that promises least), never pick a rule of their own."""
    if chosen is None:
        return fallback
    by_rule = held_pooled.set_index("rule")
    if chosen not in by_rule.index:
        raise ValueError(f"recommend: {chosen!r} has no held-out row (rules there: {sorted(by_rule.index)})")
    row = by_rule.loc[chosen]
    return chosen if row["below_share"] <= goal and row["below_ci_high"] <= 2 * goal else fallback


# ---------------------------------------------------------------- notebook 10: every rule on every run

def evaluate(runs, rules, *, recall_target: float = 0.95, progress: bool = False,
             workers: int | None = None) -> "pd.DataFrame":
    """Every rule (and the oracle) on every reading order (rows of ``orders.orders``), on the pool
    AWSS@95 is computed on: the records after the ``n_train`` training records, which were drawn
    knowing their labels. Per run and rule: where it stops, recall reached, work saved, whether
    recall fell below the target. A rule that needs what a run lacks (Quant: a model's
    probabilities) is left out of that run. Runs are spread over ``workers`` processes (default:
    one per core; the urn's noncentral distribution is the cost), in the order given."""
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import pandas as pd

    from ..core.progress import progress as progress_bar

    jobs = [(run.review, run.seed, run.variant, np.asarray(run.labels), run.n_total, run.n_train,
             getattr(run, "scores", None)) for run in runs.itertuples(index=False)]
    workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    bar = progress_bar(total=len(jobs), desc="stopping rules", enabled=progress)
    if workers == 1:
        out = []
        for job in jobs:
            out.append(_evaluate_run(job, rules, recall_target))
            bar.update()
    else:  # spawn: the caller may hold torch's threads, which a fork would copy mid-flight
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_evaluate_run, job, rules, recall_target) for job in jobs]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            out = [future.result() for future in futures]
    bar.close()
    return pd.DataFrame([row for rows in out for row in rows])


def _evaluate_run(job: tuple, rules, recall_target: float) -> list[dict]:
    review, seed, variant, labels, n_total, n_train, scores = job
    labels = labels[n_train:]
    n_pool = n_total - n_train
    run = {"review": review, "seed": seed, "variant": variant}
    out = []
    for rule in rules:
        if rule.needs == "scores" and scores is None:
            continue
        stop = rule.stop(labels, n_pool, scores=scores, seed=seed)
        out.append(_row(run, labels, outcome(labels, stop), stop, recall_target, family=rule.family))
    out.append(_row(run, labels, oracle(labels, recall_target=recall_target), None, recall_target, family="oracle"))
    return out


def _row(run: dict, labels, result: dict, stop: Stop | None, recall_target: float, *, family: str) -> dict:
    return {**run, "family": family, **result,
            "n_pool": len(labels), "included": int(labels.sum()),
            "below_target": result["recall"] < recall_target - 1e-12,
            "p_value": _number(getattr(stop, "p_value", None)),
            "recall_bound": _number(getattr(stop, "recall_bound", None))}


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _below_ci(below: int, runs: int, confidence: float):
    from scipy.stats import binomtest

    return binomtest(below, runs).proportion_ci(confidence_level=confidence, method="exact")


def summarise(evaluated, *, by=("variant", "rule"), confidence: float = 0.95) -> "pd.DataFrame":
    """Per group (method × rule by default; ``by=("rule",)`` pools the methods): mean recall
    reached and work saved (means over reviews of the means over the group's runs, bootstrap CIs
    over reviews), how many runs stopped, how many fell below the target with an exact
    (Clopper-Pearson) interval for that share, and how far the work saved falls short of the
    oracle's on the same runs."""
    import pandas as pd

    from .stats import mean_with_ci

    oracle_saved = evaluated[evaluated["family"] == "oracle"].set_index(["review", "seed", "variant"])["work_saved"]
    out = []
    for group_key, group in evaluated.groupby(list(by), sort=False):
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        gap = oracle_saved.loc[list(zip(group.review, group.seed, group.variant))].to_numpy() - group["work_saved"].to_numpy()
        per_review = group.assign(gap=gap).groupby("review")[["recall", "work_saved", "gap"]].mean()
        recall, recall_low, recall_high = mean_with_ci(per_review["recall"].to_numpy())
        saved, saved_low, saved_high = mean_with_ci(per_review["work_saved"].to_numpy())
        below, runs = int(group["below_target"].sum()), len(group)
        ci = _below_ci(below, runs, confidence)
        out.append({**dict(zip(by, group_key)), "family": group["family"].iloc[0], "runs": runs,
                    "stopped": int(group["stopped"].sum()),
                    "recall": recall, "recall_ci_low": recall_low, "recall_ci_high": recall_high,
                    "work_saved": saved, "work_saved_ci_low": saved_low, "work_saved_ci_high": saved_high,
                    "short_of_oracle": float(per_review["gap"].mean()),
                    "below_target": below, "below_share": below / runs, "below_ci_low": ci.low, "below_ci_high": ci.high})
    return pd.DataFrame(out)


def readable(summary, labels: Callable[[str], str] = str) -> "pd.DataFrame":
    """``summarise`` as a reader's table: each mean with its 95 % CI in one cell, and the runs below
    the target as a count, a share and its binomial interval."""
    import pandas as pd

    from .stats import with_ci

    table = pd.DataFrame({
        "rule": summary["rule"],
        "stopped": [f"{s} of {n}" for s, n in zip(summary["stopped"], summary["runs"])],
        "recall reached": [with_ci(m, lo, hi, spec=".3f") for m, lo, hi in
                           zip(summary["recall"], summary["recall_ci_low"], summary["recall_ci_high"])],
        "work saved": [with_ci(m, lo, hi, spec=".1%") for m, lo, hi in
                       zip(summary["work_saved"], summary["work_saved_ci_low"], summary["work_saved_ci_high"])],
        "short of the oracle": [f"{g:.1%}" for g in summary["short_of_oracle"]],
        "recall below target": [f"{k} of {n}: " + with_ci(p, lo, hi, spec=".1%") for k, n, p, lo, hi in
                                zip(summary["below_target"], summary["runs"], summary["below_share"],
                                    summary["below_ci_low"], summary["below_ci_high"])]})
    if "variant" in summary:
        table.insert(0, "method", [labels(v) for v in summary["variant"]])
    return table
