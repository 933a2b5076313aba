"""An ASReview feature extractor that returns this project's embeddings.

Registered through ASReview's entry points (``asreview.models.feature_extractors``, name
``slr-embeddings``), so ``asreview algorithms`` lists it and ``asreview simulate`` or ASReview
LAB can use it with any of ASReview's classifiers, queriers and balancers:

    asreview simulate refs.csv -e slr-embeddings -c svm -q max -b balanced

The text of a record is title + the encoder's separator + abstract, as in the report; vectors
come from ``helpers.encoder`` (the embedded all-MiniLM-L6-v2 by default) and its disk cache.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class ProjectEmbeddings(TransformerMixin, BaseEstimator):
    """Sentence embeddings of title + abstract; no fitting (the encoder is fixed)."""

    name = "slr-embeddings"
    label = "Few-shot screening report: encoder embeddings"

    def __init__(self, encoder: str = "auto", normalize: str | bool = "auto", max_length: int | None = None,
                 columns=("title", "abstract")):
        self.encoder = encoder
        self.normalize = normalize
        self.max_length = max_length
        self.columns = columns

    def fit(self, X, y=None):
        return self

    def transform(self, X) -> np.ndarray:
        from .encoder import load_encoder

        enc = load_encoder(self.encoder, normalize=self.normalize, max_length=self.max_length)
        parts = [X[c].fillna("").astype(str).str.strip() if c in X.columns else "" for c in self.columns]
        texts = parts[0]
        for part in parts[1:]:
            texts = texts + enc.sep_token + part
        return enc.embed(list(texts))
