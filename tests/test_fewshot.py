import numpy as np
import pytest

from helpers.compute.fewshot import draw_order, fewshot_split, make_pairs, stratified_batches

LABELS = np.r_[np.ones(20, int), np.zeros(100, int)]


def test_split_is_seeded_disjoint_and_complete():
    s = fewshot_split(LABELS, n_per_class=8, seed=3)
    assert len(s.train) == 16 and LABELS[s.train].sum() == 8
    assert set(s.train).isdisjoint(s.eval) and len(s.train) + len(s.eval) == len(LABELS)
    assert np.array_equal(s.train, fewshot_split(LABELS, n_per_class=8, seed=3).train)
    assert not np.array_equal(s.train, fewshot_split(LABELS, n_per_class=8, seed=4).train)


def study_split(labels, *, seed: int) -> np.ndarray:
    """The split every stored row of the study's 8 + 8 was drawn with, before draws were nested."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    return np.concatenate([np.sort(rng.choice(np.flatnonzero(y == cls), size=8, replace=False)) for cls in (1, 0)])


@pytest.mark.parametrize("seed", range(5))
def test_eight_per_class_is_the_study_split_and_other_sizes_nest_with_it(seed):
    labels = np.random.default_rng(seed).permutation(np.r_[np.ones(90, int), np.zeros(400, int)])
    assert np.array_equal(fewshot_split(labels, n_per_class=8, seed=seed).train, study_split(labels, seed=seed))
    trains = [set(fewshot_split(labels, n_per_class=k, seed=seed).train) for k in (2, 4, 8, 16, 32, 64)]
    assert all(small < large for small, large in zip(trains, trains[1:]))  # 2 ⊂ 4 ⊂ 8 ⊂ 16 ⊂ 32 ⊂ 64
    for k, train in zip((2, 4, 8, 16, 32, 64), trains):
        assert len(train) == 2 * k and labels[list(train)].sum() == k
    order = draw_order(labels, seed=seed)
    assert sorted(order[1]) == list(np.flatnonzero(labels == 1))  # every row of the class, once


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
