"""When may a reviewer stop reading? The rule this project recommends, and what a stop achieved.

``RECOMMENDED`` is the rule notebook 10 recommends (chosen on its development reviews, confirmed
or vetoed on the held-out ones); ``recommended`` applies it, and ``records_to_go`` says how far it
is from stopping. slr-screen, notebook 11 and the ASReview stopper call these, so the decision
has one owner. ``outcome`` and ``oracle`` say what a stop achieved on a fully labelled sequence.

The rules themselves are in ``stopping_rules`` (pure functions), ``counting_process`` and
``stopping_settings`` (the rules as settings); notebook 10's grid, evaluation and selection in
``stopping_evaluation``. This module is the small one a reviewer's tools read.

NumPy and SciPy only; every function is pure.
"""

from __future__ import annotations

import math

import numpy as np

from .stopping_rules import Stop, as_labels
from .stopping_settings import Statistical


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


# ---------------------------------------------------------------- what a stop achieved

def outcome(labels_in_order, stop: Stop) -> dict:
    """What stopping there gives, on a sequence whose every label is known: recall reached, the
    share of the records not read (work saved; a random sample read beside the ranking counts),
    and whether it stopped before the end. A rule that never stops reads everything."""
    y = as_labels(labels_in_order)
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
    y = as_labels(labels_in_order)
    read = int(np.argmax(np.cumsum(y) >= math.ceil(recall_target * y.sum() - 1e-9))) + 1
    return outcome(y, Stop(oracle_name(recall_target), read))
