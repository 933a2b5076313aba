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
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from helpers.models.encoder import load_encoder
from helpers.core.config import SweepConfig
from helpers.methods.trial import Trial
from helpers.methods.variants import STUDY_VARIANTS


def timed(review: str, seeds: list[int], config: SweepConfig, cache_dir: Path | None) -> tuple[float, pd.DataFrame]:
    """Every variant and seed of one review; ``cache_dir=None``: no embedding, prefix or adapter cache."""
    base = load_encoder(config.encoder, cache_dir=cache_dir)
    enc = replace(base, prefix_layers=base.model.config.num_hidden_layers - 3) if cache_dir else base
    start = time.perf_counter()
    rows = [Trial(config, review, seed, encoder=enc).record(v) for seed in seeds for v in STUDY_VARIANTS]
    return time.perf_counter() - start, pd.DataFrame(rows).sort_values(["variant", "seed"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--review", default="nsaids")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--eval-cap", type=int, default=None)
    a = p.parse_args()
    config = SweepConfig(eval_cap=a.eval_cap)
    with tempfile.TemporaryDirectory() as tmp:
        naive_s, naive = timed(a.review, a.seeds, config, None)
        cold_s, cold = timed(a.review, a.seeds, config, Path(tmp) / "cache")
        warm_s, warm = timed(a.review, a.seeds, config, Path(tmp) / "cache")
    diff = max(np.abs(naive["awss"].to_numpy() - cold["awss"].to_numpy()).max(),
               np.abs(cold["awss"].to_numpy() - warm["awss"].to_numpy()).max())
    n = int(naive["n_eval"].iloc[0]) + int(naive["n_train"].iloc[0])
    print(f"review {a.review}: {n} citations, seeds {a.seeds}, {len(STUDY_VARIANTS)} variants, "
          f"torch threads {torch.get_num_threads()}")
    print(f"naive (no caches)           {naive_s:7.1f} s")
    print(f"as built, empty cache       {cold_s:7.1f} s   speed-up {naive_s / cold_s:.2f}x")
    print(f"as built, warm cache        {warm_s:7.1f} s   speed-up {naive_s / warm_s:.0f}x")
    print(f"largest AWSS difference between the three runs: {diff:.2e}")


if __name__ == "__main__":
    main()
