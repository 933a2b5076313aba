"""Every method on the FLOP axis: the sparse counts against a hand count on a tiny corpus, active
learning's every retraining and ranking entered, a replay that must reproduce its row, and
setfit's replayed loop against FlopCounterMode on the real training of a tiny encoder."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from conftest import synthetic_texts
from helpers.compute.sparse_flops import (CountingModel, NotCounted, WorkLog, logistic_fit_flops, scoring_flops,
                                          svm_fit_flops, tfidf_flops, work_flops)
from helpers.methods.lexical import screened
from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT, TFIDF_LR
from test_peers import trial  # noqa: F401  (the same small review and split)

# three texts, unigrams: "apple banana" | "apple cherry cherry" | "banana" -> 2 + 2 + 1 = 5 stored values, 3 terms
CORPUS = ["apple banana", "apple cherry cherry", "banana"]


@pytest.fixture(scope="module")
def x():
    return TfidfVectorizer(sublinear_tf=True).fit_transform(CORPUS)


def test_counts_equal_a_hand_count_on_a_tiny_corpus(x):
    assert (x.nnz, x.shape) == (5, (3, 3))
    # vectorising: 6 a value (log, add, idf multiply, square-add, divide) + a root a text + 4 a term's idf
    assert tfidf_flops(x) == 6 * 5 + 3 + 4 * 3 == 45
    # scoring: 2 a value + the intercept a text; a probability adds the logistic (4 a text)
    assert scoring_flops(x, probability=False) == 2 * 5 + 3 == 13
    assert scoring_flops(x, probability=True) == 13 + 4 * 3 == 25
    # liblinear, 3 passes: the diagonal once (2 a value) and 4 a value a pass, the intercept a value per text
    assert svm_fit_flops(x, 3) == (2 + 4 * 3) * (5 + 3) == 112
    # L-BFGS, 2 iterations: each a loss and gradient (4·5 + 10·3 + 4·(3 + 1) = 66) and the update over
    # m = 0 then 1 remembered steps ((4·0 + 2)·4 = 8, (4·1 + 2)·4 = 24)
    assert logistic_fit_flops(x, 2) == 2 * 66 + 8 + 24 == 164


def test_a_dense_matrix_counts_every_value():
    assert scoring_flops(np.ones((4, 3)), probability=False) == 2 * 12 + 4


def test_the_log_counts_what_the_solvers_ran(x):
    log = WorkLog()
    y = np.array([1, 0, 1])
    log.vectorised(x)
    svm = CountingModel(LinearSVC(dual=True, random_state=0), log).fit(x, y)
    assert svm.decision_function(x).shape == (3,)
    with pytest.raises(AttributeError):
        svm.predict_proba(x)  # an SVM has no probabilities: ASReview falls back, and nothing is entered
    lr = CountingModel(LogisticRegression(random_state=0), log).fit(x, y)
    lr.predict_proba(x)
    table = log.table()
    assert table["part"].tolist() == ["vectorise", "fit", "score", "fit", "score"]
    iterations = table["iterations"].tolist()
    assert iterations[1] == int(svm.n_iter_) and iterations[3] == int(lr.n_iter_[0]) and min(iterations[1::2]) >= 1
    assert work_flops(table) == {"vectorise": 45.0,
                                 "fit": svm_fit_flops(x, iterations[1]) + logistic_fit_flops(x, iterations[3]),
                                 "score": 13.0 + 25.0}


def test_a_solver_without_a_count_is_refused_by_name(x):
    from sklearn.naive_bayes import MultinomialNB

    with pytest.raises(NotCounted, match="MultinomialNB"):
        CountingModel(MultinomialNB(), WorkLog()).fit(x, np.array([1, 0, 1]))
    with pytest.raises(NotCounted, match="primal"):
        CountingModel(LinearSVC(dual=False), WorkLog()).fit(x, np.array([1, 0, 1]))


def test_active_learning_enters_every_retraining_and_every_ranking_of_the_pool(trial):
    from helpers.methods.asreview_peers import asreview_model

    replay = ASREVIEW_AL.replay(trial)
    assert replay["awss"] == trial.record(ASREVIEW_AL)["awss"]  # the replay is the row's run
    work = replay["work"]
    fits, scores = work[work["part"] == "fit"], work[work["part"] == "score"]
    records = screened(trial)
    x = asreview_model("elas_u4", 0).transform(records[["title", "abstract"]])
    nnz = np.diff(x.indptr)
    # the order the simulation read: each step refits on everything labelled so far and ranks the rest
    order = np.argsort(-replay_order_scores(trial))
    steps = len(fits)
    assert steps == len(scores) >= 1 and work["part"].iloc[0] == "vectorise"
    labelled = [16 + t for t in range(steps)]
    assert fits["rows"].tolist() == labelled
    assert fits["values"].tolist() == [int(nnz[order[:n]].sum()) for n in labelled]
    assert scores["rows"].tolist() == [len(records) - n for n in labelled]
    assert scores["values"].tolist() == [int(nnz.sum() - nnz[order[:n]].sum()) for n in labelled]
    included = np.flatnonzero(records["label"].to_numpy() == 1)
    assert set(included) <= set(order[:16 + steps])  # it ran until every included record was found


def replay_order_scores(trial) -> np.ndarray:
    """Scores over all screened records (priors first) in the order active learning read them."""
    from helpers.methods.asreview_peers import asreview_model, order_scores, simulate_order

    records = screened(trial)
    order = simulate_order(records[["title", "abstract"]], records["label"], np.arange(16),
                           cycle=asreview_model("elas_u4", 0))
    return order_scores(order, len(records))


def test_each_lexical_peer_counts_its_flops_from_a_replay_that_reproduces_its_row(trial, tmp_path):
    from helpers.analysis.cost import stored_replays
    from helpers.models.flops import FlopCounts, RowWork

    replays = stored_replays(trial.config, trial.encoder, folder=tmp_path / "artefacts")
    for variant in (TFIDF_LR, ASREVIEW_ONESHOT, ASREVIEW_AL):
        row = pd.Series(trial.record(variant))
        work = RowWork(row["review"], int(row["seed"]), json.loads(row["settings"]), FlopCounts(trial.encoder),
                       lambda r, s: None, lambda v: replays(v, row))
        flops = variant.flops(work)
        assert flops.counted == "counted (sparse)" and flops.train > 0 and flops.inference > 0
        assert (flops.sparse_train, flops.sparse_inference) == (flops.train, flops.inference)
        again = variant.flops(work)  # read back from the stored replay
        assert again == flops
        tampered = row.copy()
        tampered["awss"] = row["awss"] + 1e-9  # beyond the 16 digits the table keeps
        with pytest.raises(ValueError, match="another run"):
            replays(variant, tampered)


@pytest.mark.parametrize("num_iterations", [1])
def test_setfit_replayed_equals_counting_its_real_run(tiny_sentence_encoder_dir, num_iterations):
    """The shapes of a replay without the encoder's work equal the real run's, and the real run's
    FlopCounterMode count equals those shapes at the encoder's counted per-length costs."""
    from helpers.methods.setfit_peer import setfit_scores
    from helpers.models.encoder import load_encoder
    from helpers.models.flops import FlopCounts, ForwardLog, count_flops, forward_flops

    texts = synthetic_texts(24, seed=5)
    train = pd.DataFrame({"text": texts[:8], "label": [1, 0] * 4})
    path, evaluation = str(tiny_sentence_encoder_dir), texts[8:]
    real, replayed = ForwardLog(), ForwardLog()
    counted = count_flops(lambda: setfit_scores(path, train, evaluation, seed=0, max_length=64,
                                                num_iterations=num_iterations, log=real))
    setfit_scores(path, train, evaluation, seed=0, max_length=64, num_iterations=num_iterations, log=replayed,
                  compute=False)
    assert replayed.calls == real.calls
    assert {phase for phase, *_ in real.calls} == {"train", "inference"} and any(g for *_, g in real.calls)
    counts = FlopCounts(load_encoder(path, cache_dir=None, max_length=64))
    by_phase = forward_flops(replayed.table(), counts.base(), counts.fine_tuning())
    assert sum(by_phase.values()) == pytest.approx(counted, rel=1e-9)
