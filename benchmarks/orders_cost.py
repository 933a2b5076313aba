"""What notebook 10's reading orders cost from an empty cache, on one review × seed, and an
estimate for every review with text × 5 seeds.

    SLR_CACHE_DIR=$(mktemp -d) python benchmarks/orders_cost.py [--review opioids] [--seed 3]

Each part is timed in the order the notebook meets it: the Base embeddings of every citation
(once per review: they do not depend on the seed), phase 1 (the study's adapter: 16 texts, so
its time does not grow with the review), the LoRA embeddings of every citation, then each
method's ranking. The estimate scales the per-citation parts by the number of citations and
keeps phase 1 per review × seed; it is printed as an estimate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from helpers import beyond
from helpers.config import settings
from helpers.data import load_review, split_available
from helpers.orders import order_of
from helpers.peers import ASREVIEW_AL, ASREVIEW_ONESHOT
from helpers.trial import Trial
from helpers.variants import Base, Lora


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--review", default="opioids")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--seeds", type=int, default=5, help="seeds of the estimate")
    a = p.parse_args()
    if "SLR_CACHE_DIR" not in os.environ:
        raise SystemExit("set SLR_CACHE_DIR to an empty folder: this measures the cost from an empty cache")
    S = settings("full")
    config = S.sweep()
    recipes = beyond.chosen_recipes(S, S.results_path)
    methods = {"asreview-al": ASREVIEW_AL, "chosen active learning": beyond.candidate(recipes["chosen_al"]),
               "base": Base(), "lora": Lora(), "asreview-oneshot": ASREVIEW_ONESHOT,
               "chosen one-shot": beyond.candidate(recipes["chosen"])}
    trial = Trial(config, a.review, a.seed)
    n = len(trial.data.table)
    seconds: dict[str, float] = {}
    folder = tempfile.mkdtemp()
    for label, part in [("Base embeddings", lambda: trial.base_embeddings), ("phase 1", lambda: trial.phase1),
                        ("LoRA embeddings", lambda: trial.lora_embeddings)]:
        start = time.perf_counter()
        part()
        seconds[label] = time.perf_counter() - start
    for label, variant in methods.items():
        start = time.perf_counter()
        order_of(trial, variant, folder=folder)
        seconds[f"order: {label}"] = time.perf_counter() - start
    chosen, _ = split_available(S.reviews, S.data_dir)
    total = sum(len(load_review(r, S.data_dir)) for r in chosen)
    runs = len(chosen) * a.seeds
    print(f"{a.review} seed {a.seed}: {n} citations, from an empty cache")
    for label, s in seconds.items():
        print(f"  {label:36s} {s:8.1f} s")
    per_citation = {k: s / n for k, s in seconds.items() if k != "phase 1"}
    estimate = (per_citation["Base embeddings"] * total + seconds["phase 1"] * runs
                + sum(v for k, v in per_citation.items() if k != "Base embeddings") * total * a.seeds)
    print(f"estimate for {len(chosen)} reviews ({total} citations) × {a.seeds} seeds from an empty cache: "
          f"{estimate / 3600:.2f} h (scaled from this one review × seed; an estimate)")


if __name__ == "__main__":
    main()
