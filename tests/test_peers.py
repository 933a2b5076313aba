import numpy as np
import pytest

from conftest import write_review
from helpers.core.config import SweepConfig, TrainingArgs
from helpers.methods.asreview_peers import asreview_model, order_scores, simulate_order
from helpers.methods.lexical import screened
from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT, SETFIT, TFIDF_LR
from helpers.methods.trial import Trial
from helpers.methods.variants import Base

BASE = Base()


@pytest.fixture
def trial(tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    write_review(tmp_path / "data", "nsaids", n=80, n_pos=16, seed=2)
    config = SweepConfig(encoder=str(tiny_bert_dir), training=TrainingArgs(n_positive=8, n_negative=8, epochs=1),
                         data_dir=str(tmp_path / "data"))
    return Trial(config, "nsaids", 0)


@pytest.mark.parametrize("variant", [TFIDF_LR, ASREVIEW_ONESHOT, ASREVIEW_AL])
def test_each_peer_returns_a_record_with_the_shared_keys_on_the_same_split(trial, variant):
    record = trial.record(variant)
    base = trial.record(BASE)
    for column in ("review", "seed", "data_checksum", "n_per_class", "eval_cap", "n_eval", "n_eval_included"):
        assert record[column] == base[column], column
    assert record["variant"] == variant.name and record["key"] != base["key"]
    assert record["encoder"] == ""  # its numbers do not depend on the encoder
    assert -1 <= record["awss"] <= 1 and -1 <= record["wss"] <= 1 and record["seconds"] > 0


def test_setfit_peer_trains_the_same_encoder_offline(trial):
    record = trial.record(SETFIT)
    assert record["encoder"] == trial.encoder.name and record["n_eval"] == 64
    assert record["train_seconds"] > 0 and -1 <= record["awss"] <= 1


def test_screened_records_are_the_sixteen_then_the_evaluation_set(trial):
    records = screened(trial)
    assert len(records) == 80 and records["label"][:16].tolist() == [1] * 8 + [0] * 8
    assert records["title"][16:].tolist() == trial.data.eval["title"].tolist()


def test_oneshot_top_record_is_the_first_record_the_simulation_queries(trial):
    records = screened(trial)
    cycle = asreview_model("elas_u4", 0)
    x = cycle.transform(records[["title", "abstract"]])
    cycle.fit(x[:16], records["label"].to_numpy()[:16])
    oneshot_top = 16 + int(np.argmax(cycle.classifier.decision_function(x[16:])))
    order = simulate_order(records[["title", "abstract"]], records["label"], np.arange(16),
                           cycle=asreview_model("elas_u4", 0))
    assert order[16] == oneshot_top


def test_active_learning_puts_the_priors_first_and_reads_each_record_once(trial):
    records = screened(trial)
    priors = np.arange(16)
    order = simulate_order(records[["title", "abstract"]], records["label"], priors, cycle=asreview_model("elas_u4", 0))
    assert set(order[:16]) == set(priors)
    assert len(order) == len(set(order))  # never reads a record twice
    included = set(np.flatnonzero(records["label"].to_numpy() == 1))
    assert included <= set(order)  # run until every included record is found
    scores = order_scores(order, len(records))
    assert np.argmax(scores) == order[0] and (np.diff(scores[order]) < 0).all()
