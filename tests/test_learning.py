"""Learning curves: which reviews run at each k (the others named), nested splits paired along k,
rows keyed by k and reused, reading orders stored from the same scores, the realised work saved
of the recommended rule, and the paired reading at each k."""

import numpy as np
import pandas as pd
import pytest

from conftest import write_review
from helpers.analysis import learning
from helpers.compute import stopping
from helpers.core import results
from helpers.core.config import SweepConfig, TrainingArgs
from helpers.methods.peers import ASREVIEW_ONESHOT, TFIDF_LR


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    write_review(tmp_path / "data", "nsaids", n=160, n_pos=30, seed=1)
    write_review(tmp_path / "data", "antihistamines", n=120, n_pos=12, seed=2)
    return tmp_path


def test_a_review_without_enough_included_records_is_skipped_at_that_k_and_named(data):
    plan = learning.plan(["nsaids", "antihistamines"], (2, 8, 16), data_dir=str(data / "data"))
    assert plan.reviews == {2: ("nsaids", "antihistamines"), 8: ("nsaids",), 16: ("nsaids",)}
    assert plan.skipped[["k", "review", "included"]].values.tolist() == [[8, "antihistamines", 12],
                                                                        [16, "antihistamines", 12]]
    assert plan.skipped["reason"].iloc[0] == "12 included: fewer than 8 + 5 to evaluate on"
    assert learning._too_few(np.r_[np.ones(40), np.zeros(6)], 8, 5) == "6 excluded: fewer than 8 + 1"


def test_the_sweep_keys_rows_by_k_stores_orders_and_a_rerun_computes_nothing(data, monkeypatch):
    config = SweepConfig(training=TrainingArgs(n_positive=8, n_negative=8, epochs=1), data_dir=str(data / "data"))
    plan = learning.plan(["nsaids", "antihistamines"], (2, 4, 16), data_dir=str(data / "data"))
    path = data / "results.csv"
    rows = learning.sweep(config, plan, [0, 1], (TFIDF_LR, ASREVIEW_ONESHOT), path, orders_folder=data / "art",
                          progress=False)
    assert len(rows) == (2 + 2 + 1) * 2 * 2 and set(rows["k"]) == {2, 4, 16}
    assert (rows["n_train"] == 2 * rows["k"]).all() and rows["key"].is_unique
    assert len(list((data / "art" / "orders").rglob("*.npz"))) == len(rows)  # stored as the rows landed
    realised = learning.realised(config, plan, [0, 1], (TFIDF_LR, ASREVIEW_ONESHOT), folder=data / "art", progress=False)
    assert len(realised) == len(rows)
    monkeypatch.setattr(type(TFIDF_LR), "score", lambda *a: pytest.fail("recomputed"))
    again = learning.sweep(config, plan, [0, 1], (TFIDF_LR,), path, orders_folder=data / "art", progress=False)
    assert len(results.read(path)) == len(rows) and len(again) == len(rows) // 2
    one = realised[(realised.k == 4) & (realised.review == "nsaids") & (realised.seed == 1)
                   & (realised.variant == "tfidf+lr")].iloc[0]
    from helpers.methods.orders import orders  # the same rule on the same stored order, by hand:

    run = orders(learning.at_k(config, 4), ["nsaids"], [1], (TFIDF_LR,), folder=data / "art", progress=False).iloc[0]
    pool = run.labels[8:]
    assert one.work_saved == stopping.outcome(pool, stopping.recommended(pool, len(pool)))["work_saved"]


def test_paired_by_k_reads_each_comparison_and_finds_the_first_win():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"k": k, "review": f"r{i}", "seed": s, "variant": v,
                          "awss": rng.normal(0.4 + (0.2 if v == "lora" and k >= 16 else 0), 0.02)}
                         for k in (4, 16) for i in range(6) for s in range(3) for v in ("lora", "base", "tfidf+lr")])
    best = learning.best_peer_by_k(rows, ["tfidf+lr"])
    tests = learning.paired_by_k(rows, others={"Base": "base", "best one-shot peer": best})
    assert set(tests["comparison"]) == {"lora − base", "lora − tfidf+lr"} and (tests["n_pairs"] == 18).all()
    assert learning.first_win(tests, "Base") == 16 and learning.first_win(tests, "best one-shot peer") == 16
    means = learning.means(rows)
    assert means.set_index(["k", "variant"]).loc[(16, "lora"), "reviews"] == 6
