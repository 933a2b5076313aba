"""ASReview extensions: a feature extractor that returns this project's embeddings, and a stopper
that applies this project's recommended stopping rule.

Registered through ASReview's entry points (``asreview.models.feature_extractors``, name
``slr-embeddings``; ``asreview.models.stoppers``, name ``slr-stop``), so ``asreview algorithms``
lists them and ``asreview simulate`` or ASReview LAB can use them with any of ASReview's
classifiers, queriers and balancers:

    asreview simulate refs.csv -e slr-embeddings -c svm -q max -b balanced

The text of a record is title + the encoder's separator + abstract, as in the report; vectors
come from the encoder ``helpers.models.encoder`` loads (the embedded all-MiniLM-L6-v2 by
default) and its disk cache (``helpers.models.embedding_cache``).
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


class SlrStop(BaseEstimator):
    """Stop when ``helpers.compute.stopping.recommended`` says stop on the labels read so far, in the order
    they were read (priors first), out of every record of the dataset: the rule notebook 10 chose
    on its development reviews, at this recall target and confidence."""

    name = "slr-stop"
    label = "Few-shot screening report: recommended stopping rule"

    def __init__(self, recall_target: float = 0.95, confidence: float = 0.95):
        self.recall_target = recall_target
        self.confidence = confidence
        self._told_go_on = np.zeros(0, int)  # the labels of the last call that said go on

    def stop(self, results, data) -> bool:
        """Asked after each label: where the labels extend those of the last call (which said go
        on), only the checks past it are computed — O(records) per call, not O(records²)."""
        from ..compute.stopping import recommended

        labels = np.asarray(results["label"], dtype=int)
        if len(labels) >= len(data):
            return True
        before = self._told_go_on
        checked = len(before) if len(before) <= len(labels) and np.array_equal(labels[:len(before)], before) else 0
        says_stop = recommended(labels, len(data), recall_target=self.recall_target, confidence=self.confidence,
                                checked=checked).at is not None
        if not says_stop:
            self._told_go_on = labels.copy()
        return says_stop
