"""Phase 2: the classifier fitted on the 16 training embeddings whose scores rank the evaluation
set. A head is a frozen settings dataclass (its ``kind`` and fields are part of a variant's key)
that fits and scores; the variants hold one as a field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..core.config import knob, require


@dataclass(frozen=True)
class LogisticHead:
    """Phase 2 as the study defines it: logistic regression on the 16 training embeddings,
    whose predicted probability ranks the evaluation set."""

    kind: ClassVar[str] = "logistic_regression"
    suffix: ClassVar[str] = ""  # what the head adds to a variant's name
    C: float = knob(1.0, "inverse regularisation strength")
    max_iter: int = knob(2000, "lbfgs iterations at most")

    def __post_init__(self):
        require(self.C > 0 and isinstance(self.max_iter, int) and self.max_iter >= 1,
                f"LogisticHead needs C > 0 and max_iter >= 1, got C={self.C!r}, max_iter={self.max_iter!r}")

    def fit(self, x, y, *, seed: int):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=seed).fit(x, y)

    def scores(self, model, x) -> np.ndarray:
        return model.predict_proba(x)[:, 1]


@dataclass(frozen=True)
class SvmHead:
    """A linear SVM instead of the logistic regression (notebook 08); its decision function ranks.
    No class weights: on the balanced 8 + 8 they are 1 whatever the rule."""

    kind: ClassVar[str] = "linear_svm"
    suffix: ClassVar[str] = "+svm"
    C: float = knob(1.0, "inverse regularisation strength")

    def __post_init__(self):
        require(self.C > 0, f"SvmHead needs C > 0, got C={self.C!r}")

    def fit(self, x, y, *, seed: int):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, random_state=seed).fit(x, y)

    def scores(self, model, x) -> np.ndarray:
        return model.decision_function(x)


Head = LogisticHead | SvmHead


def head_scores(head: Head, embedded, labels, *, seed: int) -> np.ndarray:
    """Fit ``head`` on the training embeddings and score the evaluation embeddings."""
    return head.scores(head.fit(embedded.train, labels, seed=seed), embedded.eval)
