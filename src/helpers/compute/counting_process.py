"""Counting processes: a stopping rule that bounds the included records still unread.

Sneyd & Stevenson (2021) and Stevenson & Bin-Hezam (2024): the rate at which included records
are found along the reading order is fitted with a curve (power law, exponential or hyperbolic),
and its integral over the unread records, through a Poisson quantile, bounds how many included
records remain. Apart from the other rules (``stopping_rules``) because it is the one that fits
a curve: its rate curves and their least-squares fit are a job of their own.

NumPy and SciPy only; every function is pure.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import poisson

from .stopping_rules import Stop, as_labels, check_fraction, check_total


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
    y = as_labels(labels)
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
    y = as_labels(labels)
    check_total(y, n_total)
    check_fraction("recall_target", recall_target)
    check_fraction("confidence", confidence)
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
