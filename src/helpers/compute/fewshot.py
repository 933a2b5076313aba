"""Seeded few-shot split (n per class for training, the rest for evaluation) and pair building.

Pure NumPy; every random draw takes a seed so the same seed gives the same split and pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # row positions, included first then excluded
    eval: np.ndarray   # every other row position, in original order

    @property
    def pool(self) -> np.ndarray:
        """The training and evaluation rows in table order: the texts a student is distilled on
        (less than the whole table where the evaluation set is capped)."""
        return np.sort(np.r_[self.train, self.eval])


STUDY_PER_CLASS = 8  # the study's draw, which every other size nests with


def draw_order(labels, *, seed: int = 0) -> dict[int, np.ndarray]:
    """Per class, the order in which a seed draws training rows: first the study's 8 exactly as
    it draws them (included, then excluded, from one generator), then the class's other rows in
    an order of their own (a second generator of the same seed). Training on the first n of each
    class makes the draws of one seed nested — 2 ⊂ 4 ⊂ 8 ⊂ 16 ⊂ 32 ⊂ 64 — so learning curves are
    paired along n, and n = 8 is the study's split."""
    y = np.asarray(labels)
    first, rest = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    order = {}
    for cls in (1, 0):
        rows = np.flatnonzero(y == cls)
        study = first.choice(rows, size=min(STUDY_PER_CLASS, len(rows)), replace=False)
        others = np.setdiff1d(rows, study)
        order[cls] = np.r_[study, rest.permutation(others)].astype(np.int64)
    return order


def fewshot_split(labels, *, n_per_class: int = STUDY_PER_CLASS, seed: int = 0) -> Split:
    """Draw ``n_per_class`` included and excluded rows at random as the training set: the first
    ``n_per_class`` of each class in the seed's ``draw_order`` (8: the study's draw).

    Each class must keep at least one row for evaluation, otherwise the work-saved metric
    is undefined; that is checked here with a clear message rather than deep in training."""
    y = np.asarray(labels)
    if n_per_class < 2:
        raise ValueError(f"n_per_class must be >= 2 to build positive pairs, got {n_per_class}")
    for cls, name in ((1, "included"), (0, "excluded")):
        available = int((y == cls).sum())
        if available < n_per_class + 1:
            raise ValueError(
                f"only {available} {name} rows: need n_per_class + 1 = {n_per_class + 1} "
                f"(n for training, at least one for evaluation); pass a smaller n_per_class"
            )
    order = draw_order(y, seed=seed)
    train_idx = np.concatenate([np.sort(order[cls][:n_per_class]) for cls in (1, 0)])
    eval_mask = np.ones(len(y), dtype=bool)
    eval_mask[train_idx] = False
    return Split(train=train_idx, eval=np.flatnonzero(eval_mask))


def make_pairs(labels, *, n_positive: int = 40, n_negative: int = 40, seed: int = 0) -> np.ndarray:
    """Random pairs over the training examples: ``(i, j, same_class)`` rows.

    Positives are split evenly between the two classes (the study is silent; our default),
    negatives take one example from each class. An example is never paired with itself;
    pairs may repeat across the 80 draws, as independent random draws do.
    """
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_class = {cls: np.flatnonzero(y == cls) for cls in (0, 1)}
    for cls, rows in by_class.items():
        if len(rows) < 2:
            raise ValueError(f"class {cls} has {len(rows)} training example(s); positive pairs need 2")
    pairs = []
    for k in range(n_positive):
        rows = by_class[1 if k < (n_positive + 1) // 2 else 0]
        i, j = rng.choice(rows, size=2, replace=False)
        pairs.append((i, j, 1))
    for _ in range(n_negative):
        i, j = rng.choice(by_class[1]), rng.choice(by_class[0])
        pairs.append((i, j, 0) if rng.random() < 0.5 else (j, i, 0))
    return np.asarray(pairs, dtype=np.int64)


def all_pairs(labels) -> np.ndarray:
    """Every unordered pair of distinct training examples once: ``(i, j, same_class)`` rows
    (for 8 + 8: 56 positive, 64 negative)."""
    y = np.asarray(labels)
    i, j = np.triu_indices(len(y), k=1)
    return np.stack([i, j, (y[i] == y[j]).astype(np.int64)], axis=1).astype(np.int64)


def stratified_batches(pairs: np.ndarray, *, batch_size: int = 16, seed: int = 0) -> list[np.ndarray]:
    """Shuffle positives and negatives separately and deal them into batches in proportion,
    so every batch holds both kinds (the loss needs positives in the numerator and
    negatives in the denominator)."""
    rng = np.random.default_rng(seed)
    pos = rng.permutation(np.flatnonzero(pairs[:, 2] == 1))
    neg = rng.permutation(np.flatnonzero(pairs[:, 2] == 0))
    n_batches = int(np.ceil(len(pairs) / batch_size))
    if n_batches > min(len(pos), len(neg)):
        raise ValueError(
            f"cannot give each of {n_batches} batches both kinds: {len(pos)} positive and "
            f"{len(neg)} negative pairs; use fewer, larger batches"
        )
    pos_parts = np.array_split(pos, n_batches)
    neg_parts = np.array_split(neg, n_batches)
    return [pairs[rng.permutation(np.concatenate([p, n]))] for p, n in zip(pos_parts, neg_parts)]
