"""Views of an embedding space: seeded sampling per class, t-SNE, class-ordered cosine matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.manifold import TSNE


def sample_per_class(table: pd.DataFrame, cap: int, seed: int = 0) -> pd.DataFrame:
    """Up to ``cap`` rows of each class (seeded), in original order; smaller classes whole."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, rows in table.groupby("label", sort=True):
        idx = rows.index.to_numpy()
        keep.append(rng.choice(idx, size=cap, replace=False) if len(idx) > cap else idx)
    return table.loc[np.sort(np.concatenate(keep))]


def tsne_2d(vectors: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-d t-SNE on cosine distance (the geometry the contrastive loss shapes), seeded."""
    perplexity = min(perplexity, max(2.0, (len(vectors) - 1) / 3))
    return TSNE(n_components=2, metric="cosine", init="pca", perplexity=perplexity,
                random_state=seed).fit_transform(vectors)


def cosine_by_class(vectors: np.ndarray, labels) -> tuple[np.ndarray, int]:
    """Cosine-similarity matrix with rows/columns ordered included-first; returns the matrix
    and the number of included rows (where the class boundary is)."""
    labels = np.asarray(labels)
    order = np.r_[np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)]
    v = vectors[order] / np.linalg.norm(vectors[order], axis=1, keepdims=True).clip(min=1e-12)
    return v @ v.T, int((labels == 1).sum())


def block_means(sim: np.ndarray, n_included: int) -> dict[str, float]:
    """Mean cosine within included, within excluded, and across (diagonal excluded)."""
    off = ~np.eye(len(sim), dtype=bool)
    inc, exc = slice(0, n_included), slice(n_included, len(sim))
    return {"included-included": float(sim[inc, inc][off[inc, inc]].mean()),
            "excluded-excluded": float(sim[exc, exc][off[exc, exc]].mean()),
            "included-excluded": float(sim[inc, exc].mean())}


def neighbour_agreement(vectors: np.ndarray, groups, *, k: int = 10) -> float:
    """Mean share of each point's ``k`` nearest neighbours (cosine, itself excluded) that
    belong to its own group: 1 = groups perfectly separated, the group's share = chance."""
    from sklearn.neighbors import NearestNeighbors

    groups = np.asarray(groups)
    k = min(k, len(groups) - 1)
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(vectors)
    idx = nn.kneighbors(vectors, return_distance=False)[:, 1:]
    return float((groups[idx] == groups[:, None]).mean())


def chance_agreement(groups) -> float:
    """What ``neighbour_agreement`` gives for neighbours drawn at random: the mean over points
    of their own group's share of the other points."""
    groups = np.asarray(groups)
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return float(((counts[inverse] - 1) / (len(groups) - 1)).mean())
