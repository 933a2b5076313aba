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

import tempfile

from empty_cache import arguments, plan_size, study_parts, timed
from helpers.methods import beyond
from helpers.core.config import settings
from helpers.methods.orders import order_of
from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT
from helpers.methods.trial import Trial
from helpers.methods.variants import Base, Lora


def main() -> None:
    a = arguments(__doc__.splitlines()[0], review="opioids", seed=3, seeds=5)
    S = settings("full")
    config = S.sweep()
    recipes = beyond.chosen_recipes(S, S.results_path)
    methods = {"asreview-al": ASREVIEW_AL, "chosen active learning": beyond.candidate(recipes["chosen_al"]),
               "base": Base(), "lora": Lora(), "asreview-oneshot": ASREVIEW_ONESHOT,
               "chosen one-shot": beyond.candidate(recipes["chosen"])}
    trial = Trial(config, a.review, a.seed)
    n = len(trial.data.table)
    folder = tempfile.mkdtemp()
    seconds = timed(study_parts(trial))
    seconds |= timed([(f"order: {label}", lambda variant=variant: order_of(trial, variant, folder=folder))
                      for label, variant in methods.items()])
    chosen, total, runs = plan_size(S, a.seeds)
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
