"""Run a sweep's independent tasks in-process or on a Dask scheduler; the driver alone writes.

    scheduler=None               in this process, one task after another (the default)
    scheduler="local:N"          a dask.distributed LocalCluster of N worker processes, each
                                 with cores // N torch threads
    scheduler="tcp://host:port"  a running Dask scheduler (e.g. workers started on a Slurm
                                 cluster with dask-jobqueue; see the README)

A task returns plain records; the driver appends each finished task's records to the results
table at once, so what finished is saved whatever happens to the rest. A task that raises is
reported with its label (review and seed) while the others go on; the sweep then raises
``TaskFailures``. A worker killed mid-task has its task re-run by Dask on another worker;
every cache entry a task writes is renamed into place whole, so nothing half-written remains.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from ..core import results
from ..core.config import check_scheduler
from ..core.progress import progress as progress_bar

Job = tuple[str, Callable[..., list[dict]], tuple]  # (label, e.g. "nsaids, seed 0"; function; arguments)


class TaskFailures(RuntimeError):
    """Some tasks raised; the others finished and were saved. The message names each."""


def threads_per_worker(n_workers: int, cores: int | None = None) -> int:
    """Torch threads for each of N local workers so that N × threads = cores (at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // n_workers)


def _with_threads(threads: int | None, fn: Callable, args: tuple) -> list[dict]:
    """Runs on a worker: set its torch threads, then the task."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return fn(*args)


@contextmanager
def dask_client(scheduler: str):
    """A dask.distributed Client for ``local:N`` (a LocalCluster started and closed here) or
    ``tcp://...`` (an existing cluster, left running)."""
    from distributed import Client, LocalCluster

    if scheduler.startswith("tcp://"):
        with Client(scheduler) as client:
            yield client, None
        return
    n = int(scheduler.split(":")[1])
    threads = threads_per_worker(n)
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "false"}
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=env) as cluster, Client(cluster) as client:
        yield client, threads


def run_tasks(jobs: list[Job], results_path: Path, *, scheduler: str | None = None,
              progress: bool = True, desc: str = "tasks") -> int:
    """Run every job, append each one's records to the results table as it finishes, and
    return the number of rows written. One progress bar over tasks, on the terminal."""
    if not jobs:
        return 0
    failures, written = [], 0
    bar = progress_bar(total=len(jobs), desc=desc, enabled=progress, leave=True)

    def finished(label, records=None, error=None):
        nonlocal written
        if error is not None:
            failures.append(f"{label}: {type(error).__name__}: {error}")
            print(f"[sweep] task {label} failed: {type(error).__name__}: {error}", file=sys.__stderr__, flush=True)
        else:
            results.append(results_path, records)
            written += len(records)
        bar.update()

    if check_scheduler(scheduler) is None:
        for label, fn, args in jobs:
            try:
                records = fn(*args)
            except Exception as exc:  # reported with its label; the other tasks go on
                finished(label, error=exc)
            else:
                finished(label, records)
    else:
        from distributed import as_completed

        with dask_client(scheduler) as (client, threads):
            futures = {client.submit(_with_threads, threads, fn, args, pure=False, key=_task_key(label)): label
                       for label, fn, args in jobs}
            for future in as_completed(futures):
                try:
                    records = future.result()
                except Exception as exc:
                    finished(futures[future], error=exc)
                else:
                    finished(futures[future], records)
    bar.close()
    if failures:
        raise TaskFailures(f"{len(failures)} of {len(jobs)} task(s) failed (the others were saved):\n  "
                           + "\n  ".join(failures))
    return written


def _task_key(label: str) -> str:
    import uuid

    return f"{label.replace(', ', '-').replace(' ', '')}-{uuid.uuid4().hex[:8]}"
