import numpy as np
import pytest

from helpers.fewshot import fewshot_split, make_pairs, stratified_batches

LABELS = np.r_[np.ones(20, int), np.zeros(100, int)]


def test_split_is_seeded_disjoint_and_complete():
    s = fewshot_split(LABELS, n_per_class=8, seed=3)
    assert len(s.train) == 16 and LABELS[s.train].sum() == 8
    assert set(s.train).isdisjoint(s.eval) and len(s.train) + len(s.eval) == len(LABELS)
    assert np.array_equal(s.train, fewshot_split(LABELS, n_per_class=8, seed=3).train)
    assert not np.array_equal(s.train, fewshot_split(LABELS, n_per_class=8, seed=4).train)


def test_too_few_in_a_class_is_a_clear_error():
    labels = np.r_[np.ones(8, int), np.zeros(50, int)]
    with pytest.raises(ValueError, match="only 8 included rows: need n_per_class \\+ 1 = 9"):
        fewshot_split(labels, n_per_class=8)
    assert len(fewshot_split(labels, n_per_class=7).train) == 14  # documented smaller n works


def test_pairs_have_the_study_composition():
    y = np.r_[np.ones(8, int), np.zeros(8, int)]
    pairs = make_pairs(y, n_positive=40, n_negative=40, seed=0)
    pos, neg = pairs[pairs[:, 2] == 1], pairs[pairs[:, 2] == 0]
    assert len(pos) == 40 and len(neg) == 40
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert (y[pos[:, 0]] == y[pos[:, 1]]).all() and (y[neg[:, 0]] != y[neg[:, 1]]).all()
    assert (y[pos[:, 0]] == 1).sum() == 20  # positives split evenly between the classes
    assert np.array_equal(pairs, make_pairs(y, n_positive=40, n_negative=40, seed=0))


def test_stratified_batches_hold_both_kinds_and_every_pair_once():
    y = np.r_[np.ones(8, int), np.zeros(8, int)]
    pairs = make_pairs(y, n_positive=40, n_negative=40, seed=1)
    batches = stratified_batches(pairs, batch_size=16, seed=2)
    assert [len(b) for b in batches] == [16] * 5
    assert all(0 < b[:, 2].sum() < len(b) for b in batches)
    assert sorted(map(tuple, np.concatenate(batches))) == sorted(map(tuple, pairs))
