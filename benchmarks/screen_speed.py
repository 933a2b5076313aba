"""How long `slr-screen` takes: to start and rank a small file with the methods that need no
encoder (target ≤ 3 s), and on a 5,000-record file, from empty caches and then warm.

    python benchmarks/screen_speed.py [--records 5000] [--methods base lora asreview tfidf asreview+base]

The file is made from the shared reviews (records of several reviews, in order, until the
count is reached) with the seeded 8 + 8 labels of the first review shown and every other label
blank — what a user's export looks like. Each method runs the command a user would run, in a
fresh process: first with an empty cache folder of its own (cold), then again on that folder
(warm). The targets of the own-review issue: cold ≤ 4 min with the embedded encoder, warm ≤ 15 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from helpers.core.data import available_reviews, load_review
from helpers.commands.screen_rank import demo_file


def five_thousand(folder: Path, n_records: int) -> Path:
    """The first review's seeded 8 + 8 demo file, extended with other reviews' records (unlabelled)."""
    reviews = available_reviews()
    if not reviews:
        raise SystemExit("no review with text here: set SLR_DATA_DIR or put ../shared beside the checkout")
    first, _ = demo_file(reviews[0], folder)
    parts = [pd.read_csv(first, keep_default_na=False)]
    for review in reviews[1:]:
        if sum(map(len, parts)) >= n_records:
            break
        parts.append(load_review(review)[["record_id", "title", "abstract"]].assign(
            record_id=lambda t, r=review: r + "-" + t["record_id"].astype(str), included=""))
    table = pd.concat(parts, ignore_index=True).head(n_records)
    path = folder / f"refs_{len(table)}.csv"
    table.to_csv(path, index=False)
    return path


def small_file(folder: Path) -> Path:
    """The first review's demo file cut to its 8 + 8 labelled records and 4 to rank."""
    first, _ = demo_file(available_reviews()[0], folder)
    table = pd.read_csv(first, keep_default_na=False)
    labelled = table[table["included"] != ""]
    path = folder / "refs_small.csv"
    pd.concat([labelled, table[table["included"] == ""].head(4)]).to_csv(path, index=False)
    return path


def timed_screen(path: Path, method: str, cache: Path) -> float:
    env = {**os.environ, "SLR_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "helpers.commands.screen", str(path), "--method", method,
                    "--output", str(path.with_name(f"ranked_{method}.csv"))], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--methods", nargs="+", default=["base", "lora", "asreview", "tfidf", "asreview+base"])
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = small_file(folder)
        print(f"{small.name}: 20 records, 8 + 8 labelled; the command from start to written file (target 3 s)")
        for method in ("tfidf", "asreview"):
            took = min(timed_screen(small, method, folder / "cache-small") for _ in range(3))
            print(f"{method:>9}: {took:4.1f} s (best of 3)   {took / 3:.2f} of the target", flush=True)
        path = five_thousand(folder, a.records)
        print(f"{path.name}: {a.records} records, 8 + 8 labelled; {os.cpu_count()} cores")
        for method in a.methods:
            cache = folder / f"cache-{method}"
            cold = timed_screen(path, method, cache)
            warm = timed_screen(path, method, cache)
            print(f"{method:>9}: cold {cold:6.1f} s   warm {warm:5.1f} s   (cold/warm {cold / warm:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
