"""Stopping rules as settings: each rule a frozen dataclass whose fields are its settings.

What notebook 10's grid holds, what the recommended rule is (``stopping.RECOMMENDED``) and what a
tool applies: ``rule.stop(labels, n_total)`` computes the stop with the pure functions of
``stopping_rules`` and ``counting_process``, and ``rule.name`` is the name every table shows.
Apart from those functions so that a rule's settings, validated when it is built, are read in
one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .counting_process import CURVE_FAMILIES, counting_name, counting_process
from .stopping_rules import (Stop, as_labels, check_fraction, consecutive_irrelevant, consecutive_name, knee,
                             p_missed, qbcb, qbcb_name, quant, quant_name, statistical, statistical_name)


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
        check_fraction("recall_target", self.recall_target)
        check_fraction("confidence", self.confidence)
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
        y = as_labels(labels)
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
        check_fraction("check_share", self.check_share)

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
