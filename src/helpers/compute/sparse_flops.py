"""Floating-point operations of the lexical methods (TF-IDF, linear models), counted from the
non-zeros of the matrices they touch.

These methods run no torch model, so ``FlopCounterMode`` sees nothing; their work is sparse
arithmetic, whose cost is fixed by how many stored values each step reads. Every operation on a
stored value is counted (a multiply-add as 2, as torch counts a matrix product), per step:

- **vectorising** a TF-IDF matrix of ``nnz`` stored values, ``n`` texts, ``d`` terms
  (``tfidf_flops``): sublinear tf (log, add: 2 per value), the idf weight (multiply: 1 per value),
  the l2 norm (square-add, divide: 3 per value; a square root per text) and the idf itself
  (``1 + log((1 + n) / (1 + df))``: 4 per term). Tokenising and counting words are not arithmetic.
- **scoring** ``n`` records (``scoring_flops``): the linear score, 2 per value and 1 per record
  (the intercept), and for a probability the logistic function (4 per record).
- **fitting** a linear SVM with liblinear's dual coordinate descent (``svm_fit_flops``): the
  diagonal ``x_i·x_i`` once (2 per value), then each pass over the records a dot product and an
  update of the weights (4 per value); the intercept is one more stored value a record. A pass
  is counted whole: liblinear's shrinking may skip records, so this bounds the solver's work.
- **fitting** a logistic regression with L-BFGS (``logistic_fit_flops``): each iteration one loss
  and gradient (the scores and ``Xᵀ·g``: 4 per value; the loss per record: 10; the l2 penalty and
  its gradient: 4 per weight) and the two-loop update over ``m`` remembered steps (4·m + 2 per
  weight, m = min(iteration, 10): Nocedal & Wright's count). Line searches that need a second
  evaluation are not seen by scikit-learn's ``n_iter_`` and not counted.

A replay enters each step in a ``WorkLog`` (``CountingModel`` wraps a scikit-learn classifier and
enters every fit and scoring pass it runs — in active learning, every retraining) with the shape
of the matrix read and the iterations the solver reported; ``flops`` counts from the log.
"""

from __future__ import annotations

import numpy as np

LBFGS_MEMORY = 10  # scipy's L-BFGS-B default history, which scikit-learn keeps


class NotCounted(ValueError):
    """A model whose work has no count here (another solver or classifier); the message names it."""


def stored_values(x) -> tuple[int, int, int]:
    """(non-zeros, rows, columns) of a sparse or dense matrix: a dense matrix stores every value."""
    n, d = x.shape
    return (int(x.nnz) if hasattr(x, "nnz") else n * d), int(n), int(d)


def tfidf_flops(x) -> float:
    """Arithmetic of turning counts into the TF-IDF matrix ``x`` (sublinear tf, idf, l2 norm)."""
    nnz, n, d = stored_values(x)
    return float(6 * nnz + n + 4 * d)


def scoring_flops(x, *, probability: bool) -> float:
    """A linear model's scores of the records in ``x`` (and their logistic, for a probability)."""
    nnz, n, _ = stored_values(x)
    return float(2 * nnz + n + (4 * n if probability else 0))


def svm_fit_flops(x, n_iter: int) -> float:
    """liblinear's dual coordinate descent on ``x`` (intercept as one more value per record)."""
    nnz, n, _ = stored_values(x)
    return float((2 + 4 * n_iter) * (nnz + n))


def logistic_fit_flops(x, n_iter: int, *, memory: int = LBFGS_MEMORY) -> float:
    """L-BFGS on the logistic loss: per iteration one loss and gradient and the two-loop update."""
    nnz, n, d = stored_values(x)
    per_evaluation = 4 * nnz + 10 * n + 4 * (d + 1)
    updates = sum((4 * min(i, memory) + 2) * (d + 1) for i in range(int(n_iter)))
    return float(n_iter * per_evaluation + updates)


def solver(model, x) -> str:
    """Which counted solver a fitted scikit-learn classifier ran on ``x``: ``svm`` (LinearSVC's
    dual coordinate descent) or ``logistic`` (LogisticRegression's lbfgs); any other is refused."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if isinstance(model, LinearSVC):
        if not uses_dual(model, x):
            raise NotCounted(f"{type(model).__name__} solved in the primal (trust-region Newton): not counted")
        return "svm"
    if isinstance(model, LogisticRegression) and model.solver == "lbfgs":
        return "logistic"
    raise NotCounted(f"no FLOP count for {type(model).__name__} "
                     f"(counted: LinearSVC's dual solver, LogisticRegression's lbfgs)")


def uses_dual(model, x) -> bool:
    """Whether LinearSVC solved the dual problem, decided as scikit-learn decides it (``dual="auto"``:
    the dual where records are fewer than features and the loss allows it)."""
    from sklearn.svm._classes import _validate_dual_parameter

    return bool(_validate_dual_parameter(model.dual, model.loss, model.penalty, model.multi_class, x))


WORK_COLUMNS = ("part", "kind", "values", "rows", "columns", "iterations")


class WorkLog:
    """What a lexical method did, one entry a step — vectorising, each fit (every retraining of
    active learning), each scoring pass — with the shape of the matrix it read (stored values,
    rows, columns) and the solver's iterations: what its FLOPs follow from (``flops``). Stored as
    it is, so a better count needs no re-run."""

    def __init__(self):
        self.entries: list[tuple[str, str, int, int, int, int]] = []

    def vectorised(self, x) -> None:
        self.entries.append(("vectorise", "tfidf", *stored_values(x), 0))

    def fitted(self, model, x) -> None:
        """The fit ``model`` has just run on ``x``, with the iterations its solver reported."""
        self.entries.append(("fit", solver(model, x), *stored_values(x), int(np.max(model.n_iter_))))

    def scored(self, x, *, probability: bool) -> None:
        self.entries.append(("score", "probability" if probability else "decision", *stored_values(x), 0))

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.entries, columns=list(WORK_COLUMNS))


def work_flops(table) -> dict[str, float]:
    """Counted FLOPs by part (vectorise, fit, score) of a ``WorkLog.table``."""
    out = {"vectorise": 0.0, "fit": 0.0, "score": 0.0}
    for part, kind, nnz, n, d, n_iter in table[list(WORK_COLUMNS)].itertuples(index=False, name=None):
        x = _Shape(int(nnz), int(n), int(d))
        if kind == "tfidf":
            out[part] += tfidf_flops(x)
        elif kind == "svm":
            out[part] += svm_fit_flops(x, int(n_iter))
        elif kind == "logistic":
            out[part] += logistic_fit_flops(x, int(n_iter))
        else:
            out[part] += scoring_flops(x, probability=kind == "probability")
    return out


class _Shape:
    """A matrix known by its stored values and shape only (what the counts read)."""

    def __init__(self, nnz: int, n: int, d: int):
        self.nnz, self.shape = nnz, (n, d)


class CountingModel:
    """A scikit-learn classifier whose every fit and scoring pass is entered in a ``WorkLog``. It
    answers as the classifier does (ASReview's cycle calls ``fit`` with sample weights,
    ``decision_function`` or ``predict_proba``); a pass is entered only once it has run, so a
    classifier without probabilities (an SVM: ASReview then falls back to its decision
    function) enters nothing for the attempt."""

    def __init__(self, model, log: WorkLog):
        self._model, self.log = model, log

    def __getattr__(self, name):
        return getattr(self._model, name)

    def fit(self, x, y, **kwargs):
        self._model.fit(x, y, **kwargs)
        self.log.fitted(self._model, x)
        return self

    def decision_function(self, x):
        scores = self._model.decision_function(x)
        self.log.scored(x, probability=False)
        return scores

    def predict_proba(self, x):
        scores = self._model.predict_proba(x)
        self.log.scored(x, probability=True)
        return scores
