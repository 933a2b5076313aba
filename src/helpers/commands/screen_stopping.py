"""slr-screen --check-stopping: where a file screened in reading order stands under each stopping rule.

The labels are read in the file's reading order (``reading_labels``: slr-screen's own ``rank``,
its RIS note, or ASReview's export), checked to follow it without gaps; the recommended rule
(``helpers.compute.stopping.recommended``) is said in one sentence, beside the statistical test
on every record read and the heuristics, and where it says go on, a random sample of the unread
records is written. The rules themselves are ``helpers.compute``'s; this module only reads a
user's file for them. Apart from ranking because it reads an order and writes a sample, never
a ranking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .screen_input import ScreenError, decisions_note, prepare, read_references
from .screen_output import check_output

ORDER_COLUMNS = ("rank", "asreview_rank", "asreview_ranking")  # slr-screen's (CSV, RIS notes), ASReview's export


@dataclass
class StoppingCheck:
    """Where a partly screened file stands under each stopping rule."""

    file: str
    read: int                 # records read so far (labelled, in reading order)
    total: int                # records in the file
    found: int                # included records among those read
    decisions_from: str       # where the decisions were read from, and how many
    recommendation: str       # the recommended rule's verdict, in one sentence
    decisions: list           # the heuristics' verdicts: (rule, "stop" | "go on", detail)
    test_now: str             # the statistical test on every record read so far: its p-value and recall bound
    sample_size: int          # random draws from the unread records the statistical rule needs (0: none)
    sample_path: Path | None  # where those records were written


def reading_labels(raw: pd.DataFrame, prepared: pd.DataFrame, *, path: Path, order_column: str | None) -> np.ndarray:
    """The labels of the records read, in reading order: records labelled before the ranking (no
    order value) first, in file order, then by the order column. The labelled records must be the
    first ones of that order; a gap, an unreadable or repeated order value, or a labelled record
    without one is an error naming the file, column and record."""
    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    column = (by_lower.get(order_column.strip().lower()) if order_column else
              next((by_lower[c] for c in ORDER_COLUMNS if c in by_lower), None))
    if column is None:
        wanted = f"no column {order_column!r} (order_column)" if order_column else \
            f"no reading order (a column {' / '.join(ORDER_COLUMNS)}; name yours with --order-column)"
        raise ScreenError(f"{path}: {wanted}; columns: {list(raw.columns)}")
    text = raw[column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce")
    bad = np.flatnonzero(((text != "") & (numbers.isna() | (numbers != numbers.round()))).to_numpy())
    values = numbers.to_numpy(dtype=float)
    if len(bad):
        raise ScreenError(f"{path}: column {column!r} has order value {raw[column].iloc[bad[0]]!r} at record "
                          f"{bad[0] + 1}, not a whole number")
    labelled = prepared["label"].notna().to_numpy()
    ranked = ~np.isnan(values)
    before = np.flatnonzero(~ranked)
    if (~labelled[before]).any():
        record = before[~labelled[before]][0]
        raise ScreenError(f"{path}: record {record + 1} has no {column!r} and no label: every record without an order "
                          "value must have been labelled before the ranking")
    order = np.flatnonzero(ranked)[np.argsort(values[ranked], kind="stable")]
    repeated = pd.Series(values[order]).duplicated()
    if repeated.any():
        record = order[int(np.flatnonzero(repeated.to_numpy())[0])]
        raise ScreenError(f"{path}: column {column!r} gives {int(values[record])} to more than one record "
                          f"(record {record + 1})")
    read_flags = labelled[order]
    if read_flags.any() and not read_flags[:read_flags.sum()].all():
        gap = order[int(np.argmin(read_flags))]
        later = order[len(read_flags) - 1 - int(np.argmax(read_flags[::-1]))]
        raise ScreenError(f"{path}: record {gap + 1} ({column} {int(values[gap])}) is not labelled but record "
                          f"{later + 1} ({column} {int(values[later])}) is: labels must follow the reading order "
                          "without gaps")
    sequence = np.r_[before, order[:int(read_flags.sum())]]
    return prepared["label"].to_numpy()[sequence].astype(int)


def check_stopping(input_path: str | Path, *, label_column: str | None = None, order_column: str | None = None,
                   recall_target: float = 0.95, confidence: float = 0.95, consecutive: int = 50, seed: int = 0,
                   sample_output: Path | None = None) -> StoppingCheck:
    """Each rule's verdict on a file screened in reading order so far, with the statistical
    rule's p-value and the recall it is confident of; where it says go on, the number of records
    to draw at random from the unread ones (all of them turning out excluded would let it stop)
    and which ones (seeded), written atomically beside the input."""
    from ..compute import stopping, stopping_rules
    from ..compute.stopping_settings import Consecutive, Knee
    from ..core.io import atomic_path

    path = Path(input_path)
    raw = read_references(path)
    prepared = prepare(raw, path=path, label_column=label_column)
    labels = reading_labels(raw, prepared, path=path, order_column=order_column)
    if labels.sum() == 0:
        raise ScreenError(f"{path}: no included record among the {len(labels)} read; no rule can estimate recall yet")
    total = len(raw)
    recommendation = recommended_verdict(labels, total, recall_target=recall_target, confidence=confidence)
    p = stopping_rules.p_missed(labels, total, recall_target=recall_target)
    bound = stopping_rules.recall_bound(labels, total, confidence=confidence)
    test_now = (f"p = {p:.3g} that recall is below {recall_target:.0%} after all {len(labels):,} read; recall ≥ "
                f"{bound:.1%} with {confidence:.0%} confidence (the rule above tests every "
                f"{stopping.RECOMMENDED.check_every} records)")
    run = len(labels) - 1 - int(np.flatnonzero(labels)[-1])
    ratio = stopping_rules.knee_ratio(labels)[-1]
    heuristics = [(Consecutive(consecutive), f"the last {run} read are excluded"),
                  (Knee(), f"slope ratio {ratio:.1f}, needs {stopping_rules.knee_threshold(int(labels.sum()))} "
                           "(Cormack & Grossman)")]
    decisions = [(rule.name, "go on" if rule.stop(labels, total).at is None else "stop", detail)
                 for rule, detail in heuristics]
    sample_size = stopping_rules.random_sample_needed(labels, total, recall_target=recall_target, confidence=confidence)
    sample_path = None
    if sample_size:
        read_rows = set(np.flatnonzero(prepared["label"].notna().to_numpy()))
        unread = np.array([i for i in range(total) if i not in read_rows])
        picked = np.sort(np.random.default_rng(seed).choice(unread, size=min(sample_size, len(unread)), replace=False))
        sample_path = check_output(Path(sample_output) if sample_output else path.with_name(f"{path.stem}.sample.csv"),
                                   input_path=path, option="--sample-output", suffixes=(".csv",))
        with atomic_path(sample_path) as tmp:
            raw.iloc[picked].assign(record=picked + 1).to_csv(tmp, index=False)
    return StoppingCheck(path.name, len(labels), total, int(labels.sum()), decisions_note(prepared), recommendation,
                         decisions, test_now, sample_size, sample_path)


def recommended_verdict(labels: np.ndarray, total: int, *, recall_target: float, confidence: float) -> str:
    """The recommended rule (``helpers.compute.stopping.recommended``) in one plain sentence: stop, or how
    many more records (all excluded) it needs; with the most included records that may still be
    unread at that confidence."""
    from ..compute import stopping, stopping_rules

    rule = stopping.recommended_rule(recall_target=recall_target, confidence=confidence)
    found = int(labels.sum())
    bound = stopping_rules.recall_bound(labels, total, confidence=confidence, bias=rule.bias)
    unread = (f"at most {max(math.floor(found / bound - found + 1e-9), 0):,} included records are still unread "
              f"({confidence:.0%} confidence)" if bound > 0 else "it cannot yet bound the included records still unread")
    if rule.stop(labels, total).at is not None:
        return f"stop: recall ≥ {recall_target:.0%} with {confidence:.0%} confidence ({rule.name}); {unread}"
    to_go = rule.records_to_go(labels, total)
    ahead = ("no point before the last record lets it stop: screen every record" if to_go is None else
             f"about {to_go:,} more records, all excluded, before this rule can stop")
    return f"go on: {ahead} ({rule.name}); {unread}"
