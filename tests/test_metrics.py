import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers.compute.metrics import work_saved


def brute_force(labels, scores, recall=0.95):
    """Reference: try every distinct score as threshold, keep the highest meeting recall."""
    y, s = np.asarray(labels), np.asarray(scores, float)
    n_pos, n_neg = y.sum(), (1 - y).sum()
    for t in sorted(set(s), reverse=True):
        kept = s >= t
        tp = (kept & (y == 1)).sum()
        if tp / n_pos >= recall - 1e-12:
            tn = (~kept & (y == 0)).sum()
            fn = n_pos - tp
            tpr, tnr = tp / n_pos, tn / n_neg
            return t, tnr - (1 - tpr), (tn + fn) / len(y) - (1 - tpr), tpr, tnr
    raise AssertionError("unreachable: the lowest threshold keeps everything")


def test_worked_example_of_method():
    # 800 excluded / 200 included; 160 excluded outrank everything, then 190 included.
    labels = np.r_[np.ones(200, int), np.zeros(800, int)]
    scores = np.r_[np.full(190, 0.9), np.full(10, 0.1), np.full(160, 0.95), np.full(640, 0.2)]
    r = work_saved(labels, scores)
    assert r.tpr == pytest.approx(0.95) and r.tnr == pytest.approx(0.80)
    assert r.awss == pytest.approx(0.75)
    # Cohen's WSS: (640 + 10) / 1000 - 0.05
    assert r.wss == pytest.approx(0.60)
    assert r.threshold == pytest.approx(0.9)


def test_ties_fall_on_one_side():
    # One included doc ties with 3 excluded ones at the threshold: all four are kept.
    labels = np.array([1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1])
    r = work_saved(labels, scores, recall=1.0)
    assert r.threshold == 0.5 and r.tpr == 1.0 and r.tnr == pytest.approx(0.25)
    # Permuting rows does not change the result (no order dependence inside ties).
    perm = np.random.default_rng(0).permutation(6)
    assert work_saved(labels[perm], scores[perm], recall=1.0) == r


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_matches_brute_force(data):
    n = data.draw(st.integers(2, 60))
    labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if labels.min() == labels.max():
        labels[0] = 1 - labels[0]
    # few distinct values -> many ties
    scores = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))) / 6
    recall = data.draw(st.sampled_from([0.5, 0.8, 0.95, 1.0]))
    t, awss, wss, tpr, tnr = brute_force(labels, scores, recall)
    r = work_saved(labels, scores, recall)
    assert (r.threshold, r.tpr, r.tnr) == pytest.approx((t, tpr, tnr))
    assert r.awss == pytest.approx(awss) and r.wss == pytest.approx(wss)
    assert -1 <= r.awss <= 1


def test_perfect_and_random_rankings():
    labels = np.r_[np.ones(20, int), np.zeros(80, int)]
    perfect = work_saved(labels, -np.arange(100.0))  # stops once 19 of 20 are found
    assert perfect.tpr == 0.95 and perfect.tnr == 1.0
    assert perfect.awss == pytest.approx(0.95) and perfect.wss == pytest.approx(81 / 100 - 0.05)
    flat = work_saved(labels, np.zeros(100))  # all-equal scores: everything is read
    assert (flat.awss, flat.wss, flat.tpr, flat.tnr) == (0.0, 0.0, 1.0, 0.0)


def test_single_included_document_is_defined():
    r = work_saved([0, 0, 1, 0], [0.1, 0.2, 0.3, 0.4])
    assert r.tpr == 1.0 and r.tnr == pytest.approx(2 / 3) and r.awss == pytest.approx(2 / 3)


@pytest.mark.parametrize("labels,scores,msg", [
    ([0, 0, 0], [0.1, 0.2, 0.3], "both classes"),
    ([1, 1], [0.1, 0.2], "both classes"),
    ([0, 2], [0.1, 0.2], "0 \\(excluded\\) or 1"),
    ([0, 1], [0.1, float("nan")], "NaN"),
    ([0, 1], [0.1], "equal length"),
])
def test_degenerate_inputs_raise_clearly(labels, scores, msg):
    with pytest.raises(ValueError, match=msg):
        work_saved(labels, scores)
