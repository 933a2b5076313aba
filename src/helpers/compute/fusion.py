"""Lexical ⊕ semantic evidence from the same 16 labels: pure functions of their inputs.

Two ways to fuse a TF-IDF view and an embedding view of the screened records:
- ``concatenate``: one feature matrix [TF-IDF | weight · embedding] for one classifier;
- ``rank_average``: each view gets its own classifier, their scores are turned into ranks
  (average ranks for ties, scaled to (0, 1]) and averaged, so neither scale dominates.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import rankdata


def concatenate(tfidf, embeddings: np.ndarray, *, weight: float = 1.0):
    """Sparse [tfidf | weight · embeddings] (rows aligned). Both blocks have unit-norm rows
    when the embeddings are normalised, so ``weight`` sets their balance."""
    return sparse.hstack([sparse.csr_matrix(tfidf), sparse.csr_matrix(weight * np.asarray(embeddings))]).tocsr()


def rank_average(*scores: np.ndarray, weights: tuple[float, ...] | None = None) -> np.ndarray:
    """Weighted mean (default: equal) of each score vector's normalised rank (1/n … 1; ties
    share their average rank)."""
    if not scores:
        raise ValueError("need at least one score vector")
    n = len(scores[0])
    if any(len(s) != n for s in scores):
        raise ValueError("score vectors must have equal length")
    return np.average([rankdata(s, method="average") / n for s in scores], axis=0, weights=weights)
