"""Notebook 05's work on one review, naive vs as built, measured in one run.

    python benchmarks/sweep_speedup.py [--review nsaids] [--seeds 0 1 2] [--eval-cap N]

naive: every variant and seed runs the whole encoder over every citation, nothing cached
(cache_dir=None: no embedding, prefix or adapter cache). as built: the frozen-prefix cache
(Base and all LoRA seeds share layers 0..n-4; the 4-bit prefix is shared by the seeds), from an
empty cache; then the same again with the cache warm. The AWSS values of the three runs are
compared (the cached prefix changes embeddings only at float rounding level).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from helpers.encoder import load_encoder  # noqa: E402
from helpers.experiment import sweep  # noqa: E402


def timed_sweep(review: str, seeds: list[int], cache_dir, eval_cap, results: Path):
    enc = load_encoder(cache_dir=cache_dir)
    start = time.perf_counter()
    table = sweep([review], seeds, enc, results, eval_cap=eval_cap, progress=False)
    return time.perf_counter() - start, table.sort_values(["variant", "seed"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--review", default="nsaids")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-cap", type=int, default=None)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        naive_s, naive = timed_sweep(a.review, a.seeds, None, a.eval_cap, tmp / "naive.csv")
        cold_s, cold = timed_sweep(a.review, a.seeds, tmp / "cache", a.eval_cap, tmp / "cold.csv")
        warm_s, warm = timed_sweep(a.review, a.seeds, tmp / "cache", a.eval_cap, tmp / "warm.csv")
    diff = max(np.abs(naive["awss"].to_numpy() - cold["awss"].to_numpy()).max(),
               np.abs(cold["awss"].to_numpy() - warm["awss"].to_numpy()).max())
    n = int(naive["n_eval"].iloc[0]) + int(naive["n_train"].iloc[0])
    print(f"review {a.review}: {n} citations, seeds {a.seeds}, 4 variants")
    print(f"naive (no caches)           {naive_s:7.1f} s")
    print(f"as built, empty cache       {cold_s:7.1f} s   speed-up {naive_s / cold_s:.2f}x")
    print(f"as built, warm cache        {warm_s:7.1f} s   speed-up {naive_s / warm_s:.0f}x")
    print(f"largest AWSS difference between the three runs: {diff:.2e}")


if __name__ == "__main__":
    main()
