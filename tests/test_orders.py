"""Reading orders: the 16 first, then the ranking; stored per review × seed × method and reused."""

import numpy as np
import pytest

from conftest import write_review
from helpers.core.config import SweepConfig, TrainingArgs
from helpers.methods.orders import orders, reading_order
from helpers.methods.peers import ASREVIEW_AL, TFIDF_LR


def test_the_training_records_come_first_then_the_ranking_ties_in_table_order():
    order = reading_order([7, 2], [0, 1, 3, 4], [0.2, 0.9, 0.9, 0.1])
    assert order.tolist() == [7, 2, 1, 3, 0, 4]


def test_orders_are_stored_as_they_land_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    write_review(tmp_path / "data", "nsaids", n=60, n_pos=14, seed=1)
    config = SweepConfig(training=TrainingArgs(n_positive=8, n_negative=8, epochs=1), data_dir=str(tmp_path / "data"))
    runs = orders(config, ["nsaids"], [0, 1], (TFIDF_LR, ASREVIEW_AL), folder=tmp_path / "art", progress=False)
    assert len(runs) == 4 and (runs["n_total"] == 60).all()
    for labels in runs["labels"]:
        assert labels.sum() == 14 and labels[:16].tolist() == [1] * 8 + [0] * 8  # the 16 are read first
    assert len(list((tmp_path / "art" / "orders").rglob("*.npz"))) == 4
    monkeypatch.setattr(type(TFIDF_LR), "score", lambda *a: pytest.fail("recomputed"))
    again = orders(config, ["nsaids"], [0, 1], (TFIDF_LR,), folder=tmp_path / "art", progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(again["labels"], runs["labels"][runs.variant == "tfidf+lr"]))
