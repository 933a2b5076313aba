"""What notebook 05's distilled students add to its full run, measured on one review × seed from
an empty cache, and an estimate for every review with text × 5 seeds (issue 30 bounds it at 3 h).

    SLR_CACHE_DIR=$(mktemp -d) python benchmarks/distill_cost.py [--review opioids] [--seed 3]

Each part is timed in the order notebook 05 meets it. First what the study's variants already pay
for (the Base and LoRA embeddings of every citation, phase 1), which the students reuse: the
teachers' vectors come from that cache. Then what the students add: the student of LoRA
(distilled for every review × seed, then its embeddings), the layers dropped only (embeddings
once per review: the same student for every seed) and the student of Base (distilled and
embedded once per review). The estimate scales the embeddings by the number of citations and
keeps a distillation's fixed steps per run; it is printed as an estimate.
"""

from __future__ import annotations

import time

from empty_cache import arguments, plan_size, study_parts, timed
from helpers.core.config import settings
from helpers.methods.trial import Trial
from helpers.methods.distilled import distilled_variants


def main() -> None:
    a = arguments(__doc__.splitlines()[0], review="opioids", seed=3, seeds=5)
    S = settings("full")
    trial = Trial(S.sweep(), a.review, a.seed)
    n = len(trial.data.table)
    paid = timed(study_parts(trial))
    # variant: (distillation seconds, embedding seconds, whether it rests on the seed's phase 1)
    added: dict[str, tuple[float, float, bool]] = {}
    for variant in distilled_variants(S.distillation):
        start = time.perf_counter()
        variant.student(trial)  # distils (or loads) the student: timed apart from its embeddings
        distilled = time.perf_counter() - start
        scored = variant.score(trial)  # the student is cached now: this is its embeddings and head
        added[variant.name] = (distilled, scored.timings["embed_seconds"], variant.trains)
    chosen, total, runs = plan_size(S, a.seeds)
    print(f"{a.review} seed {a.seed}: {n} citations, from an empty cache; distillation {S.distillation}")
    for label, s in paid.items():
        print(f"  already paid by the study's variants: {label:18s} {s:8.1f} s")
    for name, (d, e, _) in added.items():
        print(f"  added: {name:20s} distillation {d:6.1f} s, embeddings {e:6.1f} s")
    # a student of the seed's phase-1 encoder is distilled and embedded per review × seed; the others
    # (of Base, the layers dropped) once per review: the same student for every seed
    estimate = sum(d * (runs if per_seed else len(chosen)) + e / n * total * (a.seeds if per_seed else 1)
                   for d, e, per_seed in added.values())
    print(f"estimate of what the students add to notebook 05 for {len(chosen)} reviews ({total} citations) × "
          f"{a.seeds} seeds: {estimate / 3600:.2f} h (bound: 3 h; scaled from this one review × seed; an estimate)")


if __name__ == "__main__":
    main()
