"""What the cost benchmarks share: they time one review × seed from an empty cache and scale it
to a whole plan, so each starts the same way (the same options, the same refusal to run on a
warm cache, which would time reads instead of work) and times the study's shared parts the same
way."""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable


def arguments(description: str, *, review: str, seed: int, seeds: int,
              extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The options every cost benchmark takes (the review and seed timed, the seeds of the
    estimate), and any ``extra`` ones; stops unless $SLR_CACHE_DIR names the (empty) cache."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--review", default=review)
    p.add_argument("--seed", type=int, default=seed)
    p.add_argument("--seeds", type=int, default=seeds, help="seeds of the estimate")
    if extra is not None:
        extra(p)
    a = p.parse_args()
    if "SLR_CACHE_DIR" not in os.environ:
        raise SystemExit("set SLR_CACHE_DIR to an empty folder: this measures the cost from an empty cache")
    return a


def timed(parts: list[tuple[str, Callable[[], object]]]) -> dict[str, float]:
    """Seconds of each part, run in the order given (later parts may reuse what earlier ones cached)."""
    seconds = {}
    for label, part in parts:
        start = time.perf_counter()
        part()
        seconds[label] = time.perf_counter() - start
    return seconds


def study_parts(trial) -> list[tuple[str, Callable[[], object]]]:
    """The study's shared work on one trial, in the order a sweep meets it: the Base embeddings of
    every citation, phase 1, the LoRA embeddings."""
    return [("Base embeddings", lambda: trial.base_embeddings), ("phase 1", lambda: trial.phase1),
            ("LoRA embeddings", lambda: trial.lora_embeddings)]


def plan_size(S, seeds: int) -> tuple[list[str], int, int]:
    """What an estimate scales to: the reviews with text, their citations in all, and the
    review × seed runs over ``seeds`` seeds."""
    from helpers.core.data import load_review, split_available

    chosen, _ = split_available(S.reviews, S.data_dir)
    return chosen, sum(len(load_review(r, S.data_dir)) for r in chosen), len(chosen) * seeds
