"""Recompute a small, fixed part of the study from scratch and compare it with the committed
results table: the check a reader runs before trusting the stored rows.

    python -m helpers.commands.verify            # (make verify) minutes on a laptop

Two small reviews × two seeds, Base and LoRA, with an empty cache in a temporary folder (so
phase 1 and every embedding are computed anew), in the full mode's settings. Prints each
row's stored and recomputed AWSS@95 and the largest |Δ|; on the kind of machine that wrote the
table, zero is expected (every random draw is seeded). Exit code 1 if a row is missing or
differs by more than ``--tolerance``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REVIEWS = ("nsaids", "antihistamines")  # two of the smallest reviews (393 and 310 citations)
SEEDS = (0, 1)


def main(argv: list[str] | None = None) -> int:
    from ..core.cli import offline

    offline()
    p = argparse.ArgumentParser(prog="python -m helpers.commands.verify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tolerance", type=float, default=1e-9)
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="slr-verify-") as cache:
        os.environ["SLR_CACHE_DIR"] = cache  # read by load_encoder: nothing cached comes in
        import pandas as pd

        from ..core import results
        from ..core.config import settings
        from ..methods.trial import Trial
        from ..methods.variants import Base, Lora

        s = settings("full", data_dir=a.data_dir)
        config = s.sweep()
        stored = results.read(s.results_path)
        rows, start = [], time.perf_counter()
        for review in REVIEWS:
            for seed in SEEDS:
                trial = Trial(config, review, seed)
                for variant in (Base(), Lora()):
                    record = trial.record(variant)
                    old = results.select(stored, [trial.key(variant)])
                    rows.append({"review": review, "seed": seed, "variant": variant.name,
                                 "stored": old["awss"].iloc[0] if len(old) else float("nan"),
                                 "recomputed": record["awss"]})
    table = pd.DataFrame(rows)
    table["abs_diff"] = (table["recomputed"] - table["stored"]).abs()
    print(table.to_string(index=False, float_format=lambda x: f"{x:.6f}"))
    missing = int(table["stored"].isna().sum())
    largest = table["abs_diff"].max()
    print(f"\n{len(table)} rows recomputed from scratch in {time.perf_counter() - start:.0f} s; "
          f"largest |Δ AWSS@95| against {s.results_path.name}: {largest:.2e}"
          + (f"; {missing} row(s) not in the table" if missing else ""))
    return 1 if missing or largest > a.tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
