"""Spread and paired comparisons over reviews and seeds (NumPy/SciPy only).

Two questions, two tools:
- how well does a method do on average over reviews? The mean over reviews of each review's
  mean over seeds, with a bootstrap 95 % confidence interval that resamples reviews (the unit
  a reader generalises over);
- does method A beat method B? A paired comparison over the (review, seed) pairs both were
  run on — same split, same evaluation set — with the Wilcoxon signed-rank test and the
  median difference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps


def mean_with_ci(per_review: np.ndarray, *, seed: int = 0, n_resamples: int = 10_000,
                 level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of per-review values and its bootstrap percentile CI."""
    values = np.asarray(per_review, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()), float("nan"), float("nan")
    res = sps.bootstrap((values,), np.mean, n_resamples=n_resamples, confidence_level=level,
                        method="percentile", rng=np.random.default_rng(seed))
    return float(values.mean()), float(res.confidence_interval.low), float(res.confidence_interval.high)


def with_ci(mean: float, low: float, high: float, *, spec: str = ".3g") -> str:
    """One table cell: the mean with its interval beside it ("0.41 (0.28–0.55)"); "–" where there
    is no mean, the mean alone where there is no interval."""
    if not np.isfinite(mean):
        return "–"
    return f"{mean:{spec}} ({low:{spec}}–{high:{spec}})" if np.isfinite(low) else f"{mean:{spec}}"


def method_means(rows: pd.DataFrame, *, metric: str = "awss", seed: int = 0) -> pd.DataFrame:
    """Per variant: mean over reviews (of means over seeds) with its bootstrap 95 % CI, the
    number of reviews and of (review, seed) rows."""
    out = []
    for variant, group in rows.groupby("variant", sort=False):
        per_review = group.groupby("review")[metric].mean()
        mean, low, high = mean_with_ci(per_review.to_numpy(), seed=seed)
        out.append({"variant": variant, "mean": mean, "ci_low": low, "ci_high": high,
                    "reviews": len(per_review), "rows": len(group)})
    return pd.DataFrame(out)


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Paired comparison of two methods on the same units: Wilcoxon signed-rank p-value
    (two-sided; zero differences dropped, as scipy's default), the median and mean difference
    a − b, and how often a wins, ties and loses."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal length, got {a.shape} and {b.shape}")
    diff = a - b
    p = float(sps.wilcoxon(a, b).pvalue) if np.any(diff != 0) and len(diff) > 1 else float("nan")
    return {"n_pairs": len(diff), "median_diff": float(np.median(diff)), "mean_diff": float(diff.mean()),
            "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum()), "losses": int((diff < 0).sum()),
            "p_wilcoxon": p}


def paired_against(rows: pd.DataFrame, reference: str, others: list[str], *, metric: str = "awss") -> pd.DataFrame:
    """``reference`` against each other variant over the (review, seed) pairs both have."""
    wide = rows.pivot_table(index=["review", "seed"], columns="variant", values=metric)
    out = []
    for other in others:
        both = wide[[reference, other]].dropna()
        out.append({"comparison": f"{reference} − {other}", **paired(both[reference], both[other])})
    return pd.DataFrame(out)


def comparison(tests: pd.DataFrame, name: str):
    """One row of :func:`paired_against`'s table, e.g. ``comparison(tests, "lora − base").wins``.
    Read this way the counts stay integers; a row taken with ``.loc`` after
    ``set_index("comparison")`` has only numeric columns left and turns them all into floats."""
    found = tests[tests["comparison"] == name]
    if len(found) != 1:
        raise KeyError(f"no comparison {name!r} in this table; it has {list(tests['comparison'])}")
    return next(found.itertuples(index=False))


def verdict(row, *, alpha: float = 0.05) -> str:
    """The report's one reading of a paired comparison ``a − b``: "beats" or "loses to" only
    where the median difference points that way and Wilcoxon's p is below ``alpha``; otherwise
    "does not differ clearly from", so prose never calls a noisy difference a win."""
    if row.p_wilcoxon < alpha and row.median_diff != 0:
        return "beats" if row.median_diff > 0 else "loses to"
    return "does not differ clearly from"


def best_by_mean(rows: pd.DataFrame, variants: list[str], *, metric: str = "awss") -> pd.DataFrame:
    """The selection rule of notebook 08: variants ranked by the mean over reviews of their mean
    over seeds (best first), with that mean and the number of rows behind it."""
    kept = rows[rows.variant.isin(variants)]
    per_review = kept.groupby(["variant", "review"])[metric].mean().groupby("variant").mean()
    counts = kept.groupby("variant").size()
    return (pd.DataFrame({"mean": per_review, "rows": counts}).sort_values("mean", ascending=False)
            .rename_axis("variant").reset_index())


def paired_rows(a: pd.DataFrame, b: pd.DataFrame, *, metric: str = "awss") -> dict:
    """``paired`` over the (review, seed) pairs two sets of rows share, e.g. one variant with and
    without a setting; pairs present in only one set are left out."""
    both = a.merge(b, on=["review", "seed"], suffixes=("_a", "_b"))
    return paired(both[f"{metric}_a"], both[f"{metric}_b"])
