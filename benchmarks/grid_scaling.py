"""The same small grid in-process and on a Dask LocalCluster, measured in one run.

    python benchmarks/grid_scaling.py [--reviews nsaids estrogens ...] [--seeds 0 1] [--eval-cap 200]

Each run starts from an empty cache of its own (so both compute the same work), in-process
with all torch threads of this machine, then ``local:N`` with N workers of cores // N threads.
The rows of both runs are compared (identical up to the thread count's float rounding). The
scheduler overhead per task is measured on no-op tasks through the same runner. The last line
projects the full grid (every review with text × the full mode's seeds, the study's four
variants) from the measured mean task time — labelled as a projection.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from helpers.core.data import available_reviews
from helpers.methods.distributed import run_tasks, threads_per_worker
from helpers.core.config import SweepConfig
from helpers.methods.experiment import sweep
from helpers.methods.variants import Base, Lora


def _noop(i: int) -> list[dict]:
    return [{"key": f"noop{i}", "review": "none", "variant": "noop", "awss": 0.0}]


def timed_sweep(config, reviews, seeds, scheduler, folder: Path) -> tuple[float, pd.DataFrame]:
    os.environ["SLR_CACHE_DIR"] = str(folder / "cache")
    start = time.perf_counter()
    rows = sweep(config, reviews, seeds, (Base(), Lora()), folder / "results.csv", scheduler=scheduler, progress=False)
    return time.perf_counter() - start, rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--reviews", nargs="+", default=["nsaids", "urinary_incontinence", "antihistamines", "estrogens"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--eval-cap", type=int, default=200)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    config = SweepConfig(eval_cap=a.eval_cap)
    n_tasks = len(a.reviews) * len(a.seeds)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local_s, local_rows = timed_sweep(config, a.reviews, a.seeds, None, tmp / "in-process")
        dask_s, dask_rows = timed_sweep(config, a.reviews, a.seeds, f"local:{a.workers}", tmp / "dask")
        noop_tasks = 40
        start = time.perf_counter()
        run_tasks([(f"noop {i}", _noop, (i,)) for i in range(noop_tasks)], tmp / "noop.csv",
                  scheduler=f"local:{a.workers}", progress=False)
        noop_s = time.perf_counter() - start
    a_rows, b_rows = (r.sort_values("key").reset_index(drop=True) for r in (local_rows, dask_rows))
    diff = float(np.abs(a_rows["awss"] - b_rows["awss"]).max())
    task_s = local_rows.groupby(["review", "seed"])["seconds"].sum()
    print(f"grid: {len(a.reviews)} reviews × {len(a.seeds)} seeds = {n_tasks} tasks (Base + LoRA), eval cap {a.eval_cap}; "
          f"{os.cpu_count()} cores")
    print(f"in-process ({torch.get_num_threads()} torch threads)        {local_s:7.1f} s")
    print(f"local:{a.workers} ({threads_per_worker(a.workers)} thread(s) per worker)    {dask_s:7.1f} s   "
          f"ratio in-process / local:{a.workers} = {local_s / dask_s:.2f}")
    print(f"scheduler overhead: {noop_tasks} no-op tasks in {noop_s:.1f} s on local:{a.workers} "
          f"(cluster start included) = {noop_s / noop_tasks * 1000:.0f} ms per task")
    print(f"largest |Δ AWSS| between the two runs: {diff:.2e}")
    full_rows = stored_study_rows()
    if len(full_rows):
        per_task = full_rows.groupby(["review", "seed"])["seconds"].sum()
        source = f"notebook 05's stored rows: {len(per_task)} review × seed tasks, all citations, 4 variants"
    else:
        per_task, source = task_s, "this small grid (no full-mode rows stored)"
    n_full = len(available_reviews()) * 5
    total = n_full * per_task.mean()
    print(f"PROJECTION (not measured): {n_full} review × seed tasks at their mean {per_task.mean():.0f} s ({source}) "
          f"take {total / 3600:.1f} h on 1 worker; "
          + ", ".join(f"{total / n / 3600:.2f} h on {n}" for n in (4, 16, 64)) + " workers, if tasks scale perfectly")


def stored_study_rows() -> pd.DataFrame:
    """Full-mode rows of the study's four variants in the committed results table."""
    from helpers.core import results
    from helpers.core.config import settings

    table = results.read(settings("full").results_path)
    if "eval_cap" not in table:
        return table.iloc[0:0]
    return table[table["variant"].isin(["base", "lora", "lora+int4", "lora+wanda50"]) & table["eval_cap"].isna()
                 & table["key"].notna()]


if __name__ == "__main__":
    main()
