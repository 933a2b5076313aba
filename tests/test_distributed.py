"""In-process and Dask runs give the same rows; the driver alone writes; failures are named."""

import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import synthetic_texts, write_review
from helpers.core import results
from helpers.core.config import SweepConfig, TrainingArgs, check_scheduler
from helpers.models.contrastive import train_lora
from helpers.methods.distributed import run_tasks, threads_per_worker
from helpers.models.encoder import load_encoder
from helpers.methods.experiment import sweep
from helpers.methods.variants import Base, Lora

BASE, LORA = Base(), Lora()

METRICS = ["key", "review", "seed", "variant", "awss", "wss", "threshold", "tpr", "tnr"]


@pytest.fixture
def grid(tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    for k, slug in enumerate(("nsaids", "adhd")):
        write_review(tmp_path / "data", slug, n=50, n_pos=12, seed=k)
    return SweepConfig(encoder=str(tiny_bert_dir), training=TrainingArgs(n_positive=8, n_negative=8, epochs=1),
                       data_dir=str(tmp_path / "data"))


def test_scheduler_strings_are_checked_and_threads_split_the_cores():
    assert check_scheduler(None) is None and check_scheduler("local:2") == "local:2"
    assert check_scheduler("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"
    for bad in ("local", "local:0", "dask:2", "local:x"):
        with pytest.raises(ValueError, match="local:N"):
            check_scheduler(bad)
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(3, cores=16) == 5 and threads_per_worker(4, 2) == 1


@pytest.mark.slow
def test_a_local_cluster_gives_the_same_rows_as_in_process(grid, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(threads_per_worker(2))  # the workers' thread count: the same arithmetic
    try:
        here = sweep(grid, ["nsaids", "adhd"], [0, 1], (BASE, LORA), tmp_path / "here.csv", progress=False)
    finally:
        torch.set_num_threads(threads)
    os.environ["SLR_CACHE_DIR"] = str(tmp_path / "cache-cluster")  # the workers compute everything anew
    there = sweep(grid, ["nsaids", "adhd"], [0, 1], (BASE, LORA), tmp_path / "there.csv", scheduler="local:2",
                  progress=False)
    a, b = (t.sort_values("key")[METRICS].reset_index(drop=True) for t in (here, there))
    assert len(a) == 8
    assert a.equals(b)


def _flaky(marker: str, value: int) -> list[dict]:
    """Kills its worker process the first time it runs (a worker lost mid-task)."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os._exit(1)
    return [{"key": f"k{value}", "review": "r", "variant": "v", "awss": value / 10}]


def _fails(value: int) -> list[dict]:
    if value == 1:
        raise RuntimeError("boom")
    return [{"key": f"k{value}", "review": "r", "variant": "v", "awss": value / 10}]


@pytest.mark.slow
def test_a_killed_worker_has_its_task_rerun_and_a_failing_task_is_named(tmp_path):
    import cloudpickle

    import test_distributed

    cloudpickle.register_pickle_by_value(test_distributed)
    path = tmp_path / "results.csv"
    marker = tmp_path / "marker"
    written = run_tasks([("retried", _flaky, (str(marker), 3))], path, scheduler="local:2", progress=False)
    assert written == 1 and results.read(path)["key"].tolist() == ["k3"]
    from helpers.methods.distributed import TaskFailures

    with pytest.raises(TaskFailures, match="(?s)1 of 3 task.*second: RuntimeError: boom"):
        run_tasks([("first", _fails, (0,)), ("second", _fails, (1,)), ("third", _fails, (2,))], path,
                  scheduler="local:2", progress=False)
    assert sorted(results.read(path)["key"]) == ["k0", "k2", "k3"]
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def _train_same_adapter(folder: str, cache: str) -> None:
    enc = load_encoder(folder, cache_dir=cache)
    labels = np.r_[np.ones(8, int), np.zeros(8, int)]
    train_lora(enc, synthetic_texts(16, seed=5), labels, seed=0, args=TrainingArgs(n_positive=8, n_negative=8, epochs=1),
               progress=False)


def test_concurrent_writers_of_the_same_adapter_never_corrupt_it(tiny_bert_dir, tmp_path):
    # spawn, not fork: a child forked after torch started its OpenMP threads can hang forever
    ctx = mp.get_context("spawn")
    for round_ in range(2):
        cache = str(tmp_path / f"cache{round_}")
        procs = [ctx.Process(target=_train_same_adapter, args=(str(tiny_bert_dir), cache)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        assert all(p.exitcode == 0 for p in procs)
        (folder,) = [p for p in (Path(cache) / "adapters").iterdir()]
        assert not folder.name.startswith(".") and (folder / "adapter_model.safetensors").is_file()
        _train_same_adapter(str(tiny_bert_dir), cache)  # loads it: not damaged
