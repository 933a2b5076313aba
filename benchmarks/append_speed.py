"""Rows per second appended to the results table by concurrent writers: the in-place append of
``helpers.core.results.append`` against the read-merge-rewrite it replaced, in one run on this machine.

    python benchmarks/append_speed.py [--writers 4] [--rows 500] [--table 5000]

Each writer is a process appending its rows one at a time (as sweep tasks land) into a copy of
a table of ``--table`` rows shaped like the committed one.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from helpers.core import results
from helpers.core.io import atomic_path, file_lock


def rewrite_append(path: Path, records: list[dict]) -> None:
    """The append before this change: read the whole table, merge, write it all back."""
    with file_lock(path):
        old = results.read(path)
        new = pd.DataFrame(records)
        columns = list(dict.fromkeys([*old.columns, *new.columns]))
        table = pd.concat([f.dropna(axis=1, how="all") for f in (old, new) if len(f)], ignore_index=True).reindex(columns=columns)
        table = table.drop_duplicates("key", keep="last")
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)


def row(template: dict, writer: int, i: int) -> dict:
    return {**template, "key": f"bench-{writer}-{i}", "seed": i, "awss": i / 1000}


def write_rows(path: str, writer: int, n: int, template: dict, how: str) -> None:
    append = results.append if how == "in place" else rewrite_append
    for i in range(n):
        append(Path(path), [row(template, writer, i)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--table", type=int, default=5000)
    a = p.parse_args()
    committed = results.read(Path(__file__).resolve().parents[1] / "results" / "results.csv")
    seed = pd.concat([committed] * (a.table // len(committed) + 1), ignore_index=True).head(a.table)
    seed["key"] = [f"seed-{i}" for i in range(len(seed))]
    template = committed.iloc[0].to_dict()
    ctx = mp.get_context("spawn")
    rates = {}
    for how in ("rewrite (before)", "in place"):
        folder = Path(tempfile.mkdtemp())
        path = folder / "results.csv"
        seed.to_csv(path, index=False)
        start = time.perf_counter()
        procs = [ctx.Process(target=write_rows, args=(str(path), w, a.rows, template, how)) for w in range(a.writers)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        seconds = time.perf_counter() - start
        table = results.read(path)
        assert len(table) == a.table + a.writers * a.rows, (how, len(table))
        rates[how] = a.writers * a.rows / seconds
        print(f"{how:18s} {a.writers} writers × {a.rows} rows into {a.table:,} rows: {seconds:7.1f} s, "
              f"{rates[how]:8.1f} rows/s; table complete ({len(table):,} rows)")
        shutil.rmtree(folder)
    print(f"ratio in place / rewrite: {rates['in place'] / rates['rewrite (before)']:.1f}×")


if __name__ == "__main__":
    main()
