"""When may a reviewer stop reading? Stopping rules over a labelling sequence.

A reviewer reads records in some order (ASReview's active learning, or a one-shot ranking) and
labels each one. Every rule here reads ``labels`` — 1 (included) or 0 (excluded) for the records
read so far, in reading order — and ``n_total``, the size of the whole pool (read or not), and
says after how many records it would stop:

- ``consecutive_irrelevant``: stop after ``n`` excluded records in a row (the heuristic family of
  ASReview's guidance and of the SAFE procedure, Boetje & van de Schoot 2024);
- ``knee``: the knee method of Cormack & Grossman (2016): stop once the slope of the gain curve
  before some point is ``156 − min(found, 150)`` times the slope after it (as tarexp computes it,
  one record a round);
- ``statistical``: Callaghan & Müller-Hansen (2020): a hypergeometric test of the hypothesis that
  the recall target has been missed, treating the last records read as a sample of those not yet
  read (their `buscarpy` package's ``calculate_h0``); stop once it is rejected at the confidence
  level. ``random_sample_needed`` says how many records drawn at random from the unread ones,
  all excluded, would let it stop, for a reviewer whose ranked reading has not got there yet.

NumPy and SciPy only; every function is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.stats import hypergeom


@dataclass(frozen=True)
class Stop:
    """Where a rule stops a reading sequence."""

    rule: str
    at: int | None                     # records read when the rule says stop; None: it does not (yet)
    p_value: float | None = None       # statistical rule: p of "the recall target was missed" there
    recall_bound: float | None = None  # statistical rule: the highest recall it is confident of there


def _labels(labels) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a sequence of 0 (excluded) and 1 (included) in reading order")
    return y.astype(np.int64)


def _check_total(y: np.ndarray, n_total: int) -> None:
    if n_total < len(y):
        raise ValueError(f"n_total={n_total} is smaller than the {len(y)} records read")


# ---------------------------------------------------------------- heuristic

def consecutive_irrelevant(labels, n: int) -> Stop:
    """Stop after ``n`` excluded records in a row (counted from the first record read)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    run = 0
    for k, label in enumerate(_labels(labels), start=1):
        run = 0 if label else run + 1
        if run >= n:
            return Stop(f"{n} excluded in a row", k)
    return Stop(f"{n} excluded in a row", None)


# ---------------------------------------------------------------- knee

def knee_ratio(labels) -> np.ndarray:
    """For every number of records read s = 1, 2, ...: the largest slope ratio over candidate knees
    i < s, (found(i)/i) / ((1 + found(s) − found(i)) / (s − i)) — Cormack & Grossman's ρ."""
    found = np.cumsum(_labels(labels))
    ratios = np.empty(len(found))
    for s in range(1, len(found) + 1):
        i = np.arange(1, s + 1)
        before = found[:s] / i
        after = (1 + found[s - 1] - found[:s]) / (s - i + 1)
        ratios[s - 1] = np.max(before / after)
    return ratios


def knee(labels) -> Stop:
    """Stop at the first s where ρ ≥ 156 − min(found(s), 150): a sharp knee with many included
    records found, or an extreme one with few."""
    y = _labels(labels)
    threshold = 156 - np.minimum(np.cumsum(y), 150)
    hits = np.flatnonzero(knee_ratio(y) >= threshold)
    return Stop("knee", int(hits[0]) + 1 if len(hits) else None)


# ---------------------------------------------------------------- statistical

def p_missed(labels, n_total: int, *, recall_target: float = 0.95) -> float:
    """p-value of H0 "recall is below ``recall_target``" after reading ``labels``: for every tail of
    the sequence (the last k records read), the hypergeometric probability of seeing so few
    included records in it, were it a random draw from itself and the unread records, if just
    enough included records remained for the target to be missed; the smallest over k. Equal to
    buscarpy's ``calculate_h0`` (tested)."""
    y = _labels(labels)
    _check_total(y, n_total)
    if not 0 < recall_target < 1:
        raise ValueError(f"recall_target must be in (0, 1), got {recall_target}")
    if len(y) == 0:
        return 1.0
    found = y.sum()
    tails = y[::-1].cumsum()                 # included records in the last k read
    k = np.arange(1, len(y) + 1)
    missed = np.floor(found / recall_target + 1 - (found - tails))  # included in urn + unread under H0
    population = n_total - (len(y) - k)
    p = hypergeom.cdf(tails, population, np.minimum(missed, population), k)
    # H0 needing more included records than there are records is impossible: rejected outright
    # (buscarpy returns NaN there)
    return float(np.min(np.where(missed > population, 0.0, p)))


def recall_bound(labels, n_total: int, *, confidence: float = 0.95, tolerance: float = 1e-3) -> float:
    """The highest recall target whose "missed" hypothesis is rejected at ``confidence``: the recall
    the reviewer may claim with that confidence (0 where none is rejected)."""
    alpha = 1 - confidence
    low, high = 0.0, 1.0 - 1e-9
    if p_missed(labels, n_total, recall_target=tolerance) >= alpha:
        return 0.0
    while high - low > tolerance:
        mid = (low + high) / 2
        low, high = (mid, high) if p_missed(labels, n_total, recall_target=max(mid, tolerance)) < alpha else (low, mid)
    return low


def statistical(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95,
                check_every: int = 1) -> Stop:
    """Stop at the first check (every ``check_every`` records, and at the last one read) where
    ``p_missed`` falls below 1 − ``confidence``."""
    y = _labels(labels)
    _check_total(y, n_total)
    alpha = 1 - confidence
    checks = sorted(set(range(check_every, len(y) + 1, check_every)) | ({len(y)} if len(y) else set()))
    for s in checks:
        p = p_missed(y[:s], n_total, recall_target=recall_target)
        if p < alpha:
            return Stop(f"statistical ({recall_target:.0%} recall, {confidence:.0%} confidence)", s, p,
                        recall_bound(y[:s], n_total, confidence=confidence))
    p = p_missed(y, n_total, recall_target=recall_target) if len(y) else 1.0
    return Stop(f"statistical ({recall_target:.0%} recall, {confidence:.0%} confidence)", None, p,
                recall_bound(y, n_total, confidence=confidence) if len(y) else 0.0)


def random_sample_needed(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95) -> int:
    """How many records drawn at random from the unread ones, all of them excluded, would reject
    "recall below the target" at ``confidence`` (Callaghan & Müller-Hansen's random-sampling
    phase): the smallest n with P(no included record in n draws | just enough remain to miss the
    target) < 1 − confidence. 0 where the ranked reading already rejects it; every unread record
    where only reading them all would."""
    y = _labels(labels)
    _check_total(y, n_total)
    if p_missed(y, n_total, recall_target=recall_target) < 1 - confidence:
        return 0
    unread, found = n_total - len(y), int(y.sum())
    remaining = math.floor(found / recall_target + 1 - found)  # included records still unread under H0
    if unread == 0 or remaining > unread:
        return unread
    draws = np.arange(1, unread + 1)
    ok = np.flatnonzero(hypergeom.pmf(0, unread, remaining, draws) < 1 - confidence)
    return int(draws[ok[0]]) if len(ok) else unread


# ---------------------------------------------------------------- what a stop achieved

def outcome(labels_in_order, stop: Stop) -> dict:
    """What stopping there gives, on a sequence whose every label is known: recall reached, the
    share of the records not read (work saved), and whether it stopped before the end. A rule
    that never stops reads everything."""
    y = _labels(labels_in_order)
    read = len(y) if stop.at is None else stop.at
    return {"rule": stop.rule, "stopped": stop.at is not None and stop.at < len(y), "read": read,
            "recall": y[:read].sum() / y.sum(), "work_saved": 1 - read / len(y)}


def oracle(labels_in_order, *, recall_target: float = 0.95) -> dict:
    """The oracle a WSS@95-style metric assumes: stop exactly when the target recall is reached."""
    y = _labels(labels_in_order)
    read = int(np.argmax(np.cumsum(y) >= math.ceil(recall_target * y.sum() - 1e-9))) + 1
    return outcome(y, Stop(f"oracle ({recall_target:.0%} recall)", read))


# ---------------------------------------------------------------- notebook 10: every rule on every run

@dataclass(frozen=True)
class Rules:
    """The rules notebook 10 compares, with their settings."""

    consecutive: tuple[int, ...] = (50, 100)  # excluded records in a row before stopping
    recall_target: float = 0.95               # the statistical rule's target...
    confidence: float = 0.95                  # ...and confidence
    check_every: int = 10                     # the statistical rule is checked every this many records

    def __post_init__(self):
        if not self.consecutive or min(self.consecutive) < 1 or not 0 < self.recall_target < 1 \
                or not 0 < self.confidence < 1 or self.check_every < 1:
            raise ValueError(f"Rules needs consecutive counts >= 1, recall_target and confidence in (0, 1) and "
                             f"check_every >= 1, got {self}")

    def stops(self, labels, n_total: int) -> list[Stop]:
        return [*(consecutive_irrelevant(labels, n) for n in self.consecutive), knee(labels),
                statistical(labels, n_total, recall_target=self.recall_target, confidence=self.confidence,
                            check_every=self.check_every)]


def evaluate(orders, rules: Rules) -> "pd.DataFrame":
    """Every rule (and the oracle) on every reading order (rows of ``orders.orders``): where it
    stops, the recall reached there, the work saved, and whether recall fell below the target."""
    import pandas as pd

    out = []
    for run in orders.itertuples(index=False):
        labels = np.asarray(run.labels)
        for stop in [*rules.stops(labels, run.n_total), oracle(labels, recall_target=rules.recall_target)]:
            result = stop if isinstance(stop, dict) else outcome(labels, stop)
            out.append({"review": run.review, "seed": run.seed, "variant": run.variant, **result,
                        "below_target": result["recall"] < rules.recall_target - 1e-12,
                        "p_value": _number(getattr(stop, "p_value", None)),
                        "recall_bound": _number(getattr(stop, "recall_bound", None))})
    return pd.DataFrame(out)


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def summarise(evaluated, *, confidence: float = 0.95) -> "pd.DataFrame":
    """Per method × rule: mean recall reached and work saved (means over reviews of the means over
    seeds, bootstrap CIs over reviews), how many runs stopped, and how many fell below the target
    with an exact (Clopper-Pearson) binomial interval for that share."""
    import pandas as pd
    from scipy.stats import binomtest

    from .stats import mean_with_ci

    out = []
    for (variant, rule), group in evaluated.groupby(["variant", "rule"], sort=False):
        per_review = group.groupby("review")[["recall", "work_saved"]].mean()
        recall, recall_low, recall_high = mean_with_ci(per_review["recall"].to_numpy())
        saved, saved_low, saved_high = mean_with_ci(per_review["work_saved"].to_numpy())
        below, runs = int(group["below_target"].sum()), len(group)
        ci = binomtest(below, runs).proportion_ci(confidence_level=confidence, method="exact")
        out.append({"variant": variant, "rule": rule, "runs": runs, "stopped": int(group["stopped"].sum()),
                    "recall": recall, "recall_ci_low": recall_low, "recall_ci_high": recall_high,
                    "work_saved": saved, "work_saved_ci_low": saved_low, "work_saved_ci_high": saved_high,
                    "below_target": below, "below_share": below / runs, "below_ci_low": ci.low, "below_ci_high": ci.high})
    return pd.DataFrame(out)


def readable(summary, labels: Callable[[str], str] = str) -> "pd.DataFrame":
    """``summarise`` as a reader's table: each mean with its 95 % CI in one cell, and the runs below
    the target as a count, a share and its binomial interval."""
    import pandas as pd

    from .stats import with_ci

    return pd.DataFrame({
        "method": [labels(v) for v in summary["variant"]], "rule": summary["rule"],
        "stopped": [f"{s} of {n}" for s, n in zip(summary["stopped"], summary["runs"])],
        "recall reached": [with_ci(m, lo, hi, spec=".3f") for m, lo, hi in
                           zip(summary["recall"], summary["recall_ci_low"], summary["recall_ci_high"])],
        "work saved": [with_ci(m, lo, hi, spec=".1%") for m, lo, hi in
                       zip(summary["work_saved"], summary["work_saved_ci_low"], summary["work_saved_ci_high"])],
        "recall below target": [f"{k} of {n}: " + with_ci(p, lo, hi, spec=".1%") for k, n, p, lo, hi in
                                zip(summary["below_target"], summary["runs"], summary["below_share"],
                                    summary["below_ci_low"], summary["below_ci_high"])]})
