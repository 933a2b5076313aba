"""Stopping rules as pure functions over a labelling sequence: when may a reviewer stop reading?

A reviewer reads records in some order (ASReview's active learning, or a one-shot ranking) and
labels each one. Every rule here reads ``labels`` — 1 (included) or 0 (excluded) for the records
read so far, in reading order — and ``n_total``, the number of records they were read from (read
or not), and says after how many records it stops (``Stop.at``; None: not yet). None looks at a
label past the point where it stops (tested: truncating or changing the later labels never moves
a stop).

- ``consecutive_irrelevant``: stop after ``n`` excluded records in a row (the heuristic family of
  ASReview's guidance and of the SAFE procedure, Boetje & van de Schoot 2024);
- ``knee``: the knee method of Cormack & Grossman (2016): stop once the slope of the gain curve
  before some point is ``156 − min(found, 150)`` times the slope after it (as tarexp computes it,
  one record a round);
- ``statistical``: Callaghan & Müller-Hansen (2020): a test of the hypothesis that the recall
  target has been missed, treating the last records read as an urn drawn from themselves and the
  unread ones (their `buscarpy` package's ``calculate_h0``): with ``bias`` 1 a fair urn
  (hypergeometric), above 1 a biased one (Wallenius), in which an included record was ``bias``
  times as likely as an excluded one to be read before the rest — what a ranking that works does;
- ``quant``: Yang, Lewis & Frieder's Quant and QuantCI (tarexp's ``QuantStoppingRule``): recall
  estimated from a model's probability of every record, not from labels;
- ``qbcb``: Lewis, Yang & Frieder's quantile binomial coefficient bound: a random sample drawn
  until it holds ``sample_positives`` included records; stop once the ranking has found enough
  of them. The sample's reading is work too (``Stop.sampled``).

The counting processes, which fit a rate curve, are in ``counting_process``. The modules that
build on these functions are kept apart from them: the same rules as settings
(``stopping_settings``), the rule a reviewer is told to follow and what a stop achieved
(``stopping``), notebook 10's grid and evaluation (``stopping_evaluation``).

NumPy and SciPy only; every function is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import binom, hypergeom, nchypergeom_wallenius


@dataclass(frozen=True)
class Stop:
    """Where a rule stops a reading sequence."""

    rule: str
    at: int | None                     # records read when the rule says stop; None: it does not (yet)
    p_value: float | None = None       # statistical rule: p of "the recall target was missed" there
    recall_bound: float | None = None  # statistical rule: the highest recall it is confident of there
    estimate: float | None = None      # counting process: its bound on the included records still unread
    sampled: tuple[int, ...] = ()      # positions read at random besides the ranked prefix (qbcb): work too


def as_labels(labels) -> np.ndarray:
    """``labels`` as an integer array, checked: 0 (excluded) and 1 (included), in reading order."""
    y = np.asarray(labels)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a sequence of 0 (excluded) and 1 (included) in reading order")
    return y.astype(np.int64)


def check_total(y: np.ndarray, n_total: int) -> None:
    """The pool a sequence was read from holds at least the records read."""
    if n_total < len(y):
        raise ValueError(f"n_total={n_total} is smaller than the {len(y)} records read")


def check_fraction(name: str, value: float) -> None:
    """A recall target, confidence or share: strictly between 0 and 1."""
    if not 0 < value < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value}")


# ---------------------------------------------------------------- heuristic

def consecutive_name(n: int) -> str:
    return f"{n} excluded in a row"


def consecutive_irrelevant(labels, n: int) -> Stop:
    """Stop after ``n`` excluded records in a row (counted from the first record read)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    run = 0
    for k, label in enumerate(as_labels(labels), start=1):
        run = 0 if label else run + 1
        if run >= n:
            return Stop(consecutive_name(n), k)
    return Stop(consecutive_name(n), None)


# ---------------------------------------------------------------- knee

def knee_ratio(labels) -> np.ndarray:
    """For every number of records read s = 1, 2, ...: the largest slope ratio over candidate knees
    i < s, (found(i)/i) / ((1 + found(s) − found(i)) / (s − i)) — Cormack & Grossman's ρ."""
    found = np.cumsum(as_labels(labels))
    ratios = np.empty(len(found))
    for s in range(1, len(found) + 1):
        i = np.arange(1, s + 1)
        before = found[:s] / i
        after = (1 + found[s - 1] - found[:s]) / (s - i + 1)
        ratios[s - 1] = np.max(before / after)
    return ratios


def knee_threshold(found):
    """The slope ratio the knee method needs with ``found`` included records: 156 − min(found, 150)
    (a sharp knee with many included records found, an extreme one with few)."""
    return 156 - np.minimum(found, 150)


def knee(labels) -> Stop:
    """Stop at the first s where ρ ≥ ``knee_threshold(found(s))``."""
    y = as_labels(labels)
    hits = np.flatnonzero(knee_ratio(y) >= knee_threshold(np.cumsum(y)))
    return Stop("knee", int(hits[0]) + 1 if len(hits) else None)


# ---------------------------------------------------------------- statistical (fair or biased urn)

def included_under_h0(found: int, recall_target: float) -> int:
    """Included records in all under H0 "recall is below the target": the fewest for which the
    ``found`` ones are a share below ``recall_target`` — the H0 closest to the target, which the
    rules test (any more included records would only be easier to reject)."""
    return math.floor(found / recall_target + 1)


def p_missed(labels, n_total: int, *, recall_target: float = 0.95, bias: float = 1.0) -> float:
    """p-value of H0 "recall is below ``recall_target``" after reading ``labels``: for every tail of
    the sequence (the last k records read), the probability of seeing so few included records in
    it, were it drawn from itself and the unread records — fairly (``bias`` 1: hypergeometric) or
    with included records ``bias`` times as likely to be drawn (Wallenius' noncentral
    hypergeometric) — if just enough included records remained for the target to be missed; the
    smallest over k. Equal to buscarpy's ``calculate_h0`` with its ``bias`` (tested).

    Only the longest tail of each count of included records is evaluated (a tail that reaches
    back to just after an included record, and the whole sequence): a longer tail with the same
    count has a smaller p, so the minimum is among them — exactly buscarpy's value (tested) at a
    fraction of the cost, which matters for Wallienus' distribution."""
    y = as_labels(labels)
    check_total(y, n_total)
    check_fraction("recall_target", recall_target)
    if not bias >= 1:
        raise ValueError(f"bias must be >= 1 (1: a fair urn), got {bias}")
    if len(y) == 0:
        return 1.0
    found = y.sum()
    backwards = y[::-1]
    tails = backwards.cumsum()                 # included records in the last k read
    k = np.arange(1, len(y) + 1)
    longest = np.r_[backwards[1:], 1] == 1     # the record before the tail is included (or there is none)
    tails, k = tails[longest], k[longest]
    missed = included_under_h0(found, recall_target) - (found - tails)  # included in the urn (tail + unread)
    population = n_total - (len(y) - k)
    possible = missed <= population            # H0 needing more included records than records: rejected
    p = np.zeros(len(k))
    args = (tails[possible], population[possible], missed[possible], k[possible])
    p[possible] = hypergeom.cdf(*args) if bias == 1 else nchypergeom_wallenius.cdf(*args, bias)
    return float(p.min())


def recall_bound(labels, n_total: int, *, confidence: float = 0.95, bias: float = 1.0,
                 tolerance: float = 1e-3) -> float:
    """The highest recall target whose "missed" hypothesis is rejected at ``confidence``: the recall
    the reviewer may claim with that confidence (0 where none is rejected)."""
    alpha = 1 - confidence
    low, high = 0.0, 1.0 - 1e-9
    if p_missed(labels, n_total, recall_target=tolerance, bias=bias) >= alpha:
        return 0.0
    while high - low > tolerance:
        mid = (low + high) / 2
        rejected = p_missed(labels, n_total, recall_target=max(mid, tolerance), bias=bias) < alpha
        low, high = (mid, high) if rejected else (low, mid)
    return low


def checks(n_read: int, every: int) -> range:
    """The points a rule checked every ``every`` records is checked at, among ``n_read`` records:
    each multiple of ``every`` — wherever the labels come from (a stored order, a reviewer's
    file, ASReview's stopper after each label), so a stop is the same point in all of them."""
    return range(every, n_read + 1, every)


@lru_cache(maxsize=64)
def _p_path(labels: bytes, n_total: int, recall_target: float, bias: float) -> dict:
    """p-values computed so far for one sequence, by records read: shared by the rules that differ
    only in confidence, so a grid of confidences costs one pass."""
    return {}


def statistical_name(recall_target: float, confidence: float, bias: float = 1.0) -> str:
    urn = "statistical" if bias == 1 else f"biased urn ×{bias:g}"
    return f"{urn} ({recall_target:.0%} recall, {confidence:.0%} confidence)"


def statistical(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95,
                check_every: int = 1, bias: float = 1.0, checked: int = 0) -> Stop:
    """Stop at the first check (``checks``) where ``p_missed`` falls below 1 − ``confidence``; with
    the p-value and the recall it is confident of there (or at the last record read, if never).
    ``checked``: records up to which a caller already knows every check said go on (a stopper
    asked after each label), so only the checks after it are computed."""
    y = as_labels(labels)
    check_total(y, n_total)
    check_fraction("confidence", confidence)
    name = statistical_name(recall_target, confidence, bias)
    path = _p_path(y.tobytes(), n_total, recall_target, bias)  # p-values of this sequence's prefixes
    for s in checks(len(y), check_every):
        if s <= checked:
            continue
        if s not in path:
            path[s] = p_missed(y[:s], n_total, recall_target=recall_target, bias=bias)
        if path[s] < 1 - confidence:
            return Stop(name, s, path[s], recall_bound(y[:s], n_total, confidence=confidence, bias=bias))
    p = p_missed(y, n_total, recall_target=recall_target, bias=bias) if len(y) else 1.0
    return Stop(name, None, p, recall_bound(y, n_total, confidence=confidence, bias=bias) if len(y) else 0.0)


def random_sample_needed(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95) -> int:
    """How many records drawn at random from the unread ones, all of them excluded, would reject
    "recall below the target" at ``confidence`` (Callaghan & Müller-Hansen's random-sampling
    phase): the smallest n with P(no included record in n draws | just enough remain to miss the
    target) < 1 − confidence. 0 where the ranked reading already rejects it; every unread record
    where only reading them all would."""
    y = as_labels(labels)
    check_total(y, n_total)
    if p_missed(y, n_total, recall_target=recall_target) < 1 - confidence:
        return 0
    unread, found = n_total - len(y), int(y.sum())
    remaining = included_under_h0(found, recall_target) - found  # included records still unread under H0
    if unread == 0 or remaining > unread:
        return unread
    draws = np.arange(1, unread + 1)
    ok = np.flatnonzero(hypergeom.pmf(0, unread, remaining, draws) < 1 - confidence)
    return int(draws[ok[0]]) if len(ok) else unread


# ---------------------------------------------------------------- a model's probabilities: Quant

def quant_name(recall_target: float, nstd: float) -> str:
    return f"Quant{'CI' if nstd else ''} ({recall_target:.0%} recall{f', {nstd:g} sd' if nstd else ''})"


def quant(scores, *, recall_target: float = 0.95, nstd: float = 0.0, check_every: int = 10) -> Stop:
    """Yang, Lewis & Frieder's Quant rule (QuantCI with ``nstd`` > 0), as tarexp's
    ``QuantStoppingRule``: ``scores`` are a model's probabilities of inclusion for every record, in
    reading order (a one-shot ranking's: read in descending order). Recall is estimated as the
    probability mass read over the whole mass, less ``nstd`` standard deviations; checked after
    every batch of ``check_every`` records from the third on (tarexp's first batch is round 0, and
    it checks from round 2). No label is read."""
    p = np.asarray(scores, dtype=float)
    if p.ndim != 1 or not ((p >= 0) & (p <= 1)).all():
        raise ValueError("scores must be probabilities in [0, 1], one per record in reading order")
    check_fraction("recall_target", recall_target)
    name = quant_name(recall_target, nstd)
    total, all_var = p.sum(), (p * (1 - p)).sum()
    known, known_var = np.cumsum(p), np.cumsum(p * (1 - p))
    for s in range(3 * check_every, len(p) + 1, check_every):
        estimate = known[s - 1] / total
        variance = known[s - 1] ** 2 / total ** 4 * all_var + known_var[s - 1] / total ** 2
        if estimate - nstd * math.sqrt(variance) >= recall_target:
            return Stop(name, s)
    return Stop(name, None)


# ---------------------------------------------------------------- a random sample: QBCB

def qbcb_needed(sample_positives: int, *, recall_target: float = 0.95, confidence: float = 0.95) -> int | None:
    """How many of the sample's included records the ranking must have found: 1 + the smallest i
    with P(Binomial(r, target) ≤ i) ≥ confidence; None where that exceeds r (the rule cannot fire:
    at 95 % recall and 95 % confidence it needs r ≥ 59)."""
    i = np.arange(sample_positives + 1)
    j = int(i[np.argmax(binom.cdf(i, sample_positives, recall_target) >= confidence)]) + 1
    return j if j <= sample_positives else None


def qbcb_name(sample_positives: int, recall_target: float, confidence: float) -> str:
    return f"QBCB ({sample_positives} included sampled; {recall_target:.0%} recall, {confidence:.0%} confidence)"


def qbcb(labels_in_order, *, sample_positives: int = 59, recall_target: float = 0.95, confidence: float = 0.95,
         seed: int = 0) -> Stop:
    """Lewis, Yang & Frieder's QBCB, simulated on a fully labelled sequence: records are drawn at
    random (seeded) and read until ``sample_positives`` included ones are in the sample; the ranked
    reading stops at the ``qbcb_needed``-th of them in reading order. The sample is read as well
    (``Stop.sampled``, counted as work by ``outcome``); a sample that exhausts the pool reads
    everything."""
    y = as_labels(labels_in_order)
    order = np.random.default_rng(seed).permutation(len(y))
    hits = np.cumsum(y[order])
    enough = np.flatnonzero(hits >= sample_positives)
    name = qbcb_name(sample_positives, recall_target, confidence)
    if not len(enough):
        return Stop(name, None, sampled=tuple(int(i) for i in order))
    sample = np.sort(order[:enough[0] + 1])
    needed = qbcb_needed(sample_positives, recall_target=recall_target, confidence=confidence)
    if needed is None:
        return Stop(name, None, sampled=tuple(int(i) for i in sample))
    found_in_sample = sample[y[sample] == 1]  # positions in reading order, ascending
    return Stop(name, int(found_in_sample[needed - 1]) + 1, sampled=tuple(int(i) for i in sample))
