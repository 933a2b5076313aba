"""When may a reviewer stop reading? Stopping rules over a labelling sequence.

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
- ``counting_process``: Sneyd & Stevenson (2021) and Stevenson & Bin-Hezam (2024): the rate at
  which included records are found along the reading order is fitted with a curve (power law,
  exponential or hyperbolic), and its integral over the unread records, through a Poisson
  quantile, bounds how many included records remain;
- ``quant``: Yang, Lewis & Frieder's Quant and QuantCI (tarexp's ``QuantStoppingRule``): recall
  estimated from a model's probability of every record, not from labels;
- ``qbcb``: Lewis, Yang & Frieder's quantile binomial coefficient bound: a random sample drawn
  until it holds ``sample_positives`` included records; stop once the ranking has found enough
  of them. The sample's reading is work too (``Stop.sampled``).

``RECOMMENDED`` is the rule notebook 10 recommends (chosen on its development reviews, confirmed
or vetoed on the held-out ones); ``recommended`` applies it. ``outcome`` and ``oracle`` say what a
stop achieved on a fully labelled sequence.

NumPy and SciPy only; every function is pure.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, ClassVar

import numpy as np
from scipy.stats import binom, hypergeom, nchypergeom_wallenius, poisson


@dataclass(frozen=True)
class Stop:
    """Where a rule stops a reading sequence."""

    rule: str
    at: int | None                     # records read when the rule says stop; None: it does not (yet)
    p_value: float | None = None       # statistical rule: p of "the recall target was missed" there
    recall_bound: float | None = None  # statistical rule: the highest recall it is confident of there
    estimate: float | None = None      # counting process: its bound on the included records still unread
    sampled: tuple[int, ...] = ()      # positions read at random besides the ranked prefix (qbcb): work too


def _labels(labels) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a sequence of 0 (excluded) and 1 (included) in reading order")
    return y.astype(np.int64)


def _check_total(y: np.ndarray, n_total: int) -> None:
    if n_total < len(y):
        raise ValueError(f"n_total={n_total} is smaller than the {len(y)} records read")


def _check_share(name: str, value: float) -> None:
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
    for k, label in enumerate(_labels(labels), start=1):
        run = 0 if label else run + 1
        if run >= n:
            return Stop(consecutive_name(n), k)
    return Stop(consecutive_name(n), None)


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


def knee_threshold(found):
    """The slope ratio the knee method needs with ``found`` included records: 156 − min(found, 150)
    (a sharp knee with many included records found, an extreme one with few)."""
    return 156 - np.minimum(found, 150)


def knee(labels) -> Stop:
    """Stop at the first s where ρ ≥ ``knee_threshold(found(s))``."""
    y = _labels(labels)
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
    y = _labels(labels)
    _check_total(y, n_total)
    _check_share("recall_target", recall_target)
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
    y = _labels(labels)
    _check_total(y, n_total)
    _check_share("confidence", confidence)
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
    y = _labels(labels)
    _check_total(y, n_total)
    if p_missed(y, n_total, recall_target=recall_target) < 1 - confidence:
        return 0
    unread, found = n_total - len(y), int(y.sum())
    remaining = included_under_h0(found, recall_target) - found  # included records still unread under H0
    if unread == 0 or remaining > unread:
        return unread
    draws = np.arange(1, unread + 1)
    ok = np.flatnonzero(hypergeom.pmf(0, unread, remaining, draws) < 1 - confidence)
    return int(draws[ok[0]]) if len(ok) else unread


# ---------------------------------------------------------------- counting processes

@dataclass(frozen=True)
class RateCurve:
    """A rate of finding included records along the reading order, λ(x) for record x = 1, 2, ...,
    and its integral: what a counting process extrapolates over the unread records."""

    family: str
    params: tuple[float, ...]

    def rate(self, x):
        x = np.asarray(x, dtype=float)
        if self.family == "power":
            a, k = self.params
            return a * x ** k
        if self.family == "exponential":
            a, k = self.params
            return a * np.exp(-k * x)
        a, b, k = self.params
        return a / (1 + b * k * x) ** (1 / b)

    def integral(self, start, end):
        """∫ λ from ``start`` to ``end`` (numbers or arrays) in closed form — the hyperbolic's with
        the factor the reference code drops: a / (k (b − 1)), not (a / k)(b − 1)."""
        start, end = np.asarray(start, dtype=float), np.asarray(end, dtype=float)
        if self.family == "power":
            a, k = self.params
            if abs(k + 1) < 1e-12:
                return a * np.log(end / start)
            return a / (k + 1) * (end ** (k + 1) - start ** (k + 1))
        if self.family == "exponential":
            a, k = self.params
            if abs(k) < 1e-12:
                return a * (end - start)
            return a / k * (np.exp(-k * start) - np.exp(-k * end))
        a, b, k = self.params
        if abs(b - 1) < 1e-12:
            return a / k * (np.log1p(k * end) - np.log1p(k * start))
        return a / (k * (b - 1)) * ((1 + b * k * end) ** (1 - 1 / b) - (1 + b * k * start) ** (1 - 1 / b))


CURVE_FAMILIES = ("power", "exponential", "hyperbolic")


def windows(labels, n_windows: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The reading order cut into ``n_windows`` contiguous windows of (nearly) equal size: each
    window's first and last record (counted from 1) and its share of included records — the
    points a rate curve is fitted to."""
    y = _labels(labels)
    parts = [p for p in np.array_split(np.arange(len(y)), n_windows) if len(p)]
    return np.array([[p[0] + 1, p[-1] + 1] for p in parts]), np.array([y[p].mean() for p in parts])


def fit_rate(labels, family: str = "power", *, n_windows: int = 10) -> tuple[RateCurve, float] | None:
    """Least-squares fit of a ``family`` rate curve to the windows' rates, as the reference codes
    fit them, but with each window's rate compared with the curve's mean over that window (its
    integral over the window's records, divided by their number) rather than its value at the
    middle — which biases a steep curve (tested: the fit recovers the rate of the process a
    sequence was drawn from). Returned with the fit's error: the sum of squared residuals over the
    range of the rates (Stevenson & Bin-Hezam's gate). None where the fit fails or the rates are
    all equal."""
    from scipy.optimize import curve_fit

    if family not in CURVE_FAMILIES:
        raise ValueError(f"family must be one of {CURVE_FAMILIES}, got {family!r}")
    bounds, rate = windows(labels, n_windows)
    spread = rate.max() - rate.min()
    if len(rate) < 3 or spread <= 0:
        return None
    start, end = bounds[:, 0] - 0.5, bounds[:, 1] + 0.5

    def mean_rate(_, *params):
        return RateCurve(family, params).integral(start, end) / (end - start)

    guess, limits = {"power": ([rate.max(), -0.5], (-np.inf, np.inf)),
                     "exponential": ([rate.max(), 1e-3], (-np.inf, np.inf)),
                     "hyperbolic": ([rate.max(), 0.5, 1e-3], ([0, 1e-6, 0], [np.inf, 1, np.inf]))}[family]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params, _ = curve_fit(mean_rate, np.arange(len(rate)), rate, p0=guess, bounds=limits, maxfev=5000)
        except (RuntimeError, ValueError, FloatingPointError, ZeroDivisionError):
            return None
    fitted = RateCurve(family, tuple(float(v) for v in params))
    residuals = rate - mean_rate(None, *fitted.params)
    if not np.isfinite(residuals).all():
        return None
    return fitted, float((residuals ** 2).sum() / spread)


def counting_name(family: str, recall_target: float, confidence: float) -> str:
    return f"counting process, {family} ({recall_target:.0%} recall, {confidence:.0%} confidence)"


def counting_process(labels, n_total: int, *, family: str = "power", recall_target: float = 0.95,
                     confidence: float = 0.95, check_share: float = 0.025, n_windows: int = 10,
                     min_included: int = 20, max_fit_error: float = 0.1) -> Stop:
    """Sneyd & Stevenson's inhomogeneous Poisson process, on Stevenson & Bin-Hezam's schedule: at
    every ``check_share`` of the pool, the rate curve is fitted to the records read; if it fits
    (error below ``max_fit_error``) and at least m included records were found — m starts at
    ``min_included`` and shrinks with the share read, m ← ⌊m − share·m⌋ — the included records
    still unread are bounded by the ``confidence`` quantile of a Poisson count whose mean is the
    curve's integral over them, and the rule stops once found ≥ ``recall_target`` × (found +
    that bound). Checks at fewer than 10 records read are skipped (too few to fit a curve to),
    and m shrinks only at the checks made."""
    y = _labels(labels)
    _check_total(y, n_total)
    _check_share("recall_target", recall_target)
    _check_share("confidence", confidence)
    name = counting_name(family, recall_target, confidence)
    needed = min_included
    schedule = sorted({int(round(share * n_total)) for share in np.arange(check_share, 1 + 1e-9, check_share)})
    for n in schedule:
        if n > len(y):
            break
        if n < 10:
            continue
        found = int(y[:n].sum())
        if found >= needed:
            fit = fit_rate(y[:n], family, n_windows=n_windows)
            if fit is not None and fit[1] < max_fit_error:
                mean = float(fit[0].integral(n + 0.5, n_total + 0.5)) if n < n_total else 0.0
                if np.isfinite(mean) and mean >= 0:
                    bound = min(poisson.ppf(confidence, mean), n_total - n)
                    if recall_target * (found + bound) <= found:
                        return Stop(name, n, estimate=float(bound))
        needed = int(needed - n / n_total * needed)
    return Stop(name, None)


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
    _check_share("recall_target", recall_target)
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
    y = _labels(labels_in_order)
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


# ---------------------------------------------------------------- what a stop achieved

def outcome(labels_in_order, stop: Stop) -> dict:
    """What stopping there gives, on a sequence whose every label is known: recall reached, the
    share of the records not read (work saved; a random sample read beside the ranking counts),
    and whether it stopped before the end. A rule that never stops reads everything."""
    y = _labels(labels_in_order)
    read = np.zeros(len(y), dtype=bool)
    read[:len(y) if stop.at is None else stop.at] = True
    read[list(stop.sampled)] = True
    return {"rule": stop.rule, "stopped": stop.at is not None and stop.at < len(y), "read": int(read.sum()),
            "recall": y[read].sum() / y.sum(), "work_saved": 1 - read.sum() / len(y)}


def oracle_name(recall_target: float) -> str:
    return f"oracle: stops at {recall_target:.0%} recall"


def oracle(labels_in_order, *, recall_target: float = 0.95) -> dict:
    """The point a WSS@95-style metric assumes the reviewer stops at: the record where the target
    recall is first reached. Its work saved is 1 − read/N there (Cohen's WSS@95 subtracts a further
    0.05)."""
    y = _labels(labels_in_order)
    read = int(np.argmax(np.cumsum(y) >= math.ceil(recall_target * y.sum() - 1e-9))) + 1
    return outcome(y, Stop(oracle_name(recall_target), read))

# ---------------------------------------------------------------- rules as settings

@dataclass(frozen=True)
class Rule:
    """A stopping rule with its settings, applied to one reading sequence. ``needs`` says what a
    reviewer must have besides the labels in reading order and the pool size: nothing
    (``labels``), a model's probability of every record (``scores``), or a random sample of the
    pool read beside the ranking (``sample``)."""

    needs: ClassVar[str] = "labels"
    family: ClassVar[str]

    @property
    def name(self) -> str:
        raise NotImplementedError

    def stop(self, labels, n_total: int, *, scores=None, seed: int = 0) -> Stop:
        raise NotImplementedError


@dataclass(frozen=True)
class Consecutive(Rule):
    family: ClassVar[str] = "N excluded in a row"
    n: int = 50  # excluded records in a row before stopping

    @property
    def name(self) -> str:
        return consecutive_name(self.n)

    def stop(self, labels, n_total, *, scores=None, seed=0):
        return consecutive_irrelevant(labels, self.n)


@dataclass(frozen=True)
class Knee(Rule):
    family: ClassVar[str] = "knee"
    name: ClassVar[str] = "knee"

    def stop(self, labels, n_total, *, scores=None, seed=0):
        return knee(labels)


@dataclass(frozen=True)
class Statistical(Rule):
    family: ClassVar[str] = "statistical (urn)"
    recall_target: float = 0.95  # recall the reviewer must reach
    confidence: float = 0.95     # with this confidence
    bias: float = 1.0            # odds of an included record being read before an unread one (1: a fair urn)
    check_every: int = 10        # records between checks: it checks at each multiple of this

    def __post_init__(self):
        _check_share("recall_target", self.recall_target)
        _check_share("confidence", self.confidence)
        if not self.bias >= 1 or self.check_every < 1:
            raise ValueError(f"Statistical needs bias >= 1 and check_every >= 1, got {self}")

    @property
    def name(self) -> str:
        return statistical_name(self.recall_target, self.confidence, self.bias)

    def stop(self, labels, n_total, *, scores=None, seed=0, checked: int = 0):
        """``checked``: see ``statistical``."""
        return statistical(labels, n_total, recall_target=self.recall_target, confidence=self.confidence,
                           check_every=self.check_every, bias=self.bias, checked=checked)

    def records_to_go(self, labels, n_total: int) -> int | None:
        """How many more records, all of them excluded, before this rule says stop: the first check
        past the records read at which ``p_missed`` of the labels followed by that many excluded
        records falls below 1 − confidence (more excluded records in a row only lower it, so it is
        found by bisection); 0 where it says stop already, None where no check before the end does."""
        y = _labels(labels)
        if self.stop(y, n_total).at is not None:
            return 0
        ahead = list(range((len(y) // self.check_every + 1) * self.check_every, n_total + 1, self.check_every))
        says_stop = lambda s: p_missed(np.r_[y, np.zeros(s - len(y), int)], n_total, recall_target=self.recall_target,  # noqa: E731
                                       bias=self.bias) < 1 - self.confidence
        if not ahead or not says_stop(ahead[-1]):
            return None
        low, high = -1, len(ahead) - 1  # says_stop(ahead[high]) holds; ahead[low] (if any) does not
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if says_stop(ahead[mid]) else (mid, high)
        return ahead[high] - len(y)


@dataclass(frozen=True)
class CountingProcess(Rule):
    family: ClassVar[str] = "counting process"
    curve: str = "power"          # the rate curve: power, exponential or hyperbolic
    recall_target: float = 0.95
    confidence: float = 0.95      # the Poisson quantile that bounds the included records unread
    check_share: float = 0.025    # checked at every this share of the pool
    min_included: int = 20        # included records needed at the first check (shrinking with the share read)

    def __post_init__(self):
        if self.curve not in CURVE_FAMILIES:
            raise ValueError(f"CountingProcess.curve must be one of {CURVE_FAMILIES}, got {self.curve!r}")
        _check_share("check_share", self.check_share)

    @property
    def name(self) -> str:
        return counting_name(self.curve, self.recall_target, self.confidence)

    def stop(self, labels, n_total, *, scores=None, seed=0):
        return counting_process(labels, n_total, family=self.curve, recall_target=self.recall_target,
                                confidence=self.confidence, check_share=self.check_share,
                                min_included=self.min_included)


@dataclass(frozen=True)
class Quant(Rule):
    needs: ClassVar[str] = "scores"
    family: ClassVar[str] = "Quant"
    recall_target: float = 0.95
    nstd: float = 0.0        # standard deviations below the estimate (0: Quant; > 0: QuantCI)
    check_every: int = 10

    @property
    def name(self) -> str:
        return quant_name(self.recall_target, self.nstd)

    def stop(self, labels, n_total, *, scores=None, seed=0):
        if scores is None:
            raise ValueError(f"{self.name} needs a model's probability of every record (scores)")
        return quant(scores, recall_target=self.recall_target, nstd=self.nstd, check_every=self.check_every)


@dataclass(frozen=True)
class Qbcb(Rule):
    needs: ClassVar[str] = "sample"
    family: ClassVar[str] = "QBCB (random sample)"
    sample_positives: int = 59    # included records the random sample is read until
    recall_target: float = 0.95
    confidence: float = 0.95

    @property
    def name(self) -> str:
        return qbcb_name(self.sample_positives, self.recall_target, self.confidence)

    def stop(self, labels, n_total, *, scores=None, seed=0):
        return qbcb(labels, sample_positives=self.sample_positives, recall_target=self.recall_target,
                    confidence=self.confidence, seed=seed)


# The rule a reviewer is told to follow: ``recommend`` on notebook 10's committed evaluation (a
# test checks the two agree). The development reviews chose a biased urn; the held-out reviews
# vetoed it (results/10_rules_held_out.csv), so it is the fair urn of Callaghan & Müller-Hansen.
RECOMMENDED = Statistical()


def recommended_rule(*, recall_target: float = 0.95, confidence: float = 0.95) -> Statistical:
    """``RECOMMENDED`` at the reviewer's recall target and confidence: the one place they are set."""
    from dataclasses import replace

    return replace(RECOMMENDED, recall_target=recall_target, confidence=confidence)


def recommended(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95,
                checked: int = 0) -> Stop:
    """The rule the evidence supports (``RECOMMENDED``: notebook 10's choice on its development
    reviews where the held-out reviews confirm it, else the fair urn): where it first says stop on
    these labels in reading order, read from ``n_total`` records (read or not) — so it fits any
    tool's labelling log. None where it does not (yet). ``checked``: records up to which the
    caller already asked and was told go on (its checks there are not repeated)."""
    return recommended_rule(recall_target=recall_target, confidence=confidence).stop(labels, n_total, checked=checked)


def records_to_go(labels, n_total: int, *, recall_target: float = 0.95, confidence: float = 0.95) -> int | None:
    """How many more records, all of them excluded, the recommended rule needs before it says stop
    (0: it says stop now; None: not even reading every record would let it)."""
    return recommended_rule(recall_target=recall_target, confidence=confidence).records_to_go(labels, n_total)


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
