"""The composition of skills (the study's hybrid, or a peft merge): one adapter combined from
several reviews' phase-1 adapters, scored on a review with that review's own phase-1 head. The
ways of combining are in ``helpers.models.compose``; this is the variant and what it counts."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..core.config import SweepConfig, knob, require
from .heads import Head, LogisticHead
from .variant import Variant
from .variants import scored_with_phase1_head

if TYPE_CHECKING:
    from ..models.compose import Hybrid, PeftMerge
    from ..models.flops import Flops, RowWork
    from .trial import Scored, Trial


def composed_from(reviews, config: SweepConfig) -> list[list[str]]:
    """The reviews whose phase-1 adapters a composition combines, each with the checksum of the
    data its adapter was trained on: part of the key, so other data is another row."""
    from ..core.data import review_checksum

    return [[r, review_checksum(r, config.data_dir)] for r in reviews]


def composed_flops(work: RowWork, composition, *, phase1: bool) -> Flops:
    """Phase 1 on every composed review (the row names them), phase 1 on the row's own review
    where ``phase1``, then the composed adapter's forward (at the composition's rank, where it
    sets one)."""
    from ..models.flops import Flops

    args = work.training()
    train = sum(work.phase1(args, review=review) for review, _ in work.settings["composed_from"])
    if phase1:
        train += work.phase1(args)
    composed = work.counts.adapted(replace(args, rank=getattr(composition, "rank", args.rank)))
    return Flops(train, work.embedded(composed), "counted")


def compose_for(trial: Trial, composition, reviews) -> object:
    """The encoder carrying ``composition`` of these reviews' phase-1 adapters for the trial's seed
    (each from the disk cache where notebook 05 trained it)."""
    adapters = [trial.adapted if r == trial.review else trial.other(r).adapted for r in reviews]
    return composition.apply(adapters, seed=trial.seed)


@dataclass(frozen=True)
class ComposedSkills(Variant):
    """One adapter composed from several reviews' phase-1 adapters (the study's hybrid, or a peft
    merge), scored on a review with that review's own phase-1 head, as the study does."""

    trains: ClassVar[bool] = True
    composition: Hybrid | PeftMerge = knob(None, "how the adapters are combined (helpers.models.compose)")
    reviews: tuple[str, ...] = knob((), "the reviews whose skills are composed")
    head: Head = knob(LogisticHead(), "the head fitted after the scored review's own phase 1")

    def __post_init__(self):
        require(self.composition is not None and self.reviews and len(set(self.reviews)) == len(self.reviews),
                f"ComposedSkills needs a composition and distinct reviews, got {self.composition!r}, {self.reviews!r}")

    @property
    def name(self) -> str:
        return self.composition.name

    @property
    def label(self) -> str:
        return self.composition.label

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {**super().reads(config, review), "composed_from": composed_from(self.reviews, config)}

    def encoder(self, trial: Trial):
        return compose_for(trial, self.composition, self.reviews)

    def flops(self, work: RowWork) -> Flops:
        return composed_flops(work, self.composition, phase1=False)

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        composed = self.encoder(trial)
        return scored_with_phase1_head(composed, trial, self.head, compress_seconds=time.perf_counter() - start)
