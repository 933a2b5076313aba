"""What notebook 11's learning curves cost from an empty cache: one review × seed at several k
(labelled citations per class), and an estimate for the whole plan (every review with text at
every k it has enough included records for × the seeds asked).

    SLR_CACHE_DIR=$(mktemp -d) python benchmarks/labels_cost.py [--review calcium_channel_blockers] [--seeds 3]

Timed in the order a sweep task meets them: the Base embeddings of every citation (once per
review, shared by every k and seed), then at each k phase 1 (80 pairs whatever k, as the study's
recipe), the LoRA embeddings of the evaluation set (the frozen layers below the adapter come from
the prefix cache after the first k) and each peer's scoring. The estimate scales each part by
the citations it touches and keeps phase 1 per k × review × seed; it is printed as an estimate.
k = 8 is not counted: its rows are notebooks 05, 07 and 10's.
"""

from __future__ import annotations

from empty_cache import arguments, timed
from helpers.analysis import learning
from helpers.core.config import settings
from helpers.core.data import load_review, split_available
from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT, TFIDF_LR
from helpers.methods.trial import Trial


def main() -> None:
    a = arguments(__doc__.splitlines()[0], review="calcium_channel_blockers", seed=0, seeds=3,
                  extra=lambda p: p.add_argument("--ks", type=int, nargs="+", default=[2, 16, 64]))
    S = settings("full")
    config = S.sweep()
    n = len(load_review(a.review, S.data_dir))
    print(f"{a.review} seed {a.seed}: {n} citations, from an empty cache")
    base = timed([("Base embeddings", lambda: Trial(config, a.review, a.seed).base_embeddings)])["Base embeddings"]
    print(f"  {'Base embeddings (once per review)':44s} {base:8.1f} s")
    per_k = {}
    for k in a.ks:
        trial = Trial(learning.at_k(config, k), a.review, a.seed)
        parts = timed([("phase 1", lambda: trial.phase1), ("LoRA embeddings", lambda: trial.lora_embeddings),
                       ("TF-IDF + LR", lambda: TFIDF_LR.score(trial)),
                       ("ASReview one-shot", lambda: ASREVIEW_ONESHOT.score(trial)),
                       ("ASReview active learning", lambda: ASREVIEW_AL.score(trial))])
        for label, s in parts.items():
            print(f"  k = {k:<3d} {label:38s} {s:8.1f} s")
        per_k[k] = parts
    chosen, _ = split_available(S.reviews, S.data_dir)
    the_plan = learning.plan(chosen, [k for k in learning.K_VALUES if k != 8], data_dir=S.data_dir)
    sizes = {r: len(load_review(r, S.data_dir)) for r in chosen}
    phase1 = max(p["phase 1"] for p in per_k.values())
    per_citation = max(sum(v for key, v in p.items() if key != "phase 1") for p in per_k.values()) / n
    tasks = sum(len(reviews) for reviews in the_plan.reviews.values()) * a.seeds
    citations = sum(sizes[r] for reviews in the_plan.reviews.values() for r in reviews) * a.seeds
    estimate = base / n * sum(sizes.values()) + phase1 * tasks + per_citation * citations
    print(f"plan: {tasks} review × seed × k tasks ({', '.join(f'k={k}: {len(r)} reviews' for k, r in the_plan.reviews.items())})"
          f", {citations:,} citations scored")
    print(f"estimate from an empty cache: {estimate / 3600:.2f} h (the slowest k's parts, scaled; an estimate)")


if __name__ == "__main__":
    main()
