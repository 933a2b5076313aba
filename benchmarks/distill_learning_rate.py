"""The development check behind ``DistillArgs.learning_rate``: on notebook 08's development reviews
(evaluation cap 400), seeds 0 and 1, 30 steps × 16 pairs (the bound before its cost was measured), the
AWSS@95 of each learning rate, the undistilled student and the teacher, with paired tests.

    python benchmarks/distill_learning_rate.py   # rows land in (and are reused from) results/results.csv
"""
import time
import pandas as pd
from helpers.methods import beyond
from helpers.core.config import DistillArgs, settings
from helpers.methods.experiment import sweep
from helpers.methods.distilled import Distilled
from helpers.methods.variants import Lora
from helpers.compute.stats import paired_rows
S = settings("full"); p = beyond.protocol(S)
reviews, seeds = list(p.dev_reviews), [0, 1]
out = {}
for label, variants in [("teacher", (Lora(),)), ("student3", (Distilled(teacher="none"),)),
                        ("lr 2e-5", (Distilled(distillation=DistillArgs(steps=30, pairs=16, learning_rate=2e-5)),)),
                        ("lr 1e-4", (Distilled(distillation=DistillArgs(steps=30, pairs=16, learning_rate=1e-4)),))]:
    start = time.perf_counter()
    rows = sweep(p.dev_config, reviews, seeds, variants, S.results_path, progress=False)
    out[label] = rows.sort_values(["review", "seed"]).reset_index(drop=True)
    print(f"{label}: mean AWSS@95 {rows.awss.mean():.3f} over {len(rows)} rows ({time.perf_counter() - start:.0f} s)", flush=True)
for a, b in [("lr 1e-4", "lr 2e-5"), ("lr 2e-5", "student3"), ("lr 1e-4", "student3"), ("lr 1e-4", "teacher")]:
    print(a, "vs", b, paired_rows(out[a], out[b]))
print(pd.DataFrame({k: v.awss.values for k, v in out.items()}, index=out["teacher"].review + "/" + out["teacher"].seed.astype(str)).round(3))
