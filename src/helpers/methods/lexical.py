"""The lexical methods' shared parts and TF-IDF + LR: the records a peer screens (the trial's
training records, then its evaluation set), a lexical model's features and fit-and-score
(``Lexical``, which fusions widen), a one-shot model's scoring and replay with its work entered
(``OneShotLexical``: TF-IDF + LR here, ASReview's one-shot in ``helpers.methods.asreview_peers``),
and what a replay's work log counts (``counted_sparse``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from ..compute.metrics import work_saved
from ..compute.sparse_flops import WorkLog, work_flops
from ..core.config import knob, require
from .heads import LogisticHead
from .trial import Scored
from .variant import Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, RowWork
    from .trial import Trial


class NoUsableText(ValueError):
    """The screened texts hold nothing a method can read (e.g. TF-IDF: no word of 2+ letters)."""


def screened(trial: Trial) -> pd.DataFrame:
    """The records a method screens: training records first, then the evaluation set; with
    title and abstract as ASReview reads them."""
    data = trial.data
    return pd.concat([data.train, data.eval])[["title", "abstract", "label"]].reset_index(drop=True)


def plain_text(records: pd.DataFrame) -> list[str]:
    """Title and abstract joined by a space (what ASReview's TF-IDF reads)."""
    return (records["title"] + " " + records["abstract"]).tolist()


def replayed(trial: Trial, scores: np.ndarray, log: WorkLog) -> dict:
    """What a lexical method's replay stores: its work log and the AWSS@95 of the ranking the
    replay produced (checked against the stored row's)."""
    return {"awss": float(work_saved(trial.data.eval["label"].to_numpy(), scores).awss), "work": log.table()}


def counted_sparse(replay: dict | None) -> Flops:
    """A lexical method's counted FLOPs from its replay: fitting is training; vectorising and
    scoring are reading the records, as embedding them is for an encoder."""
    from ..models.flops import NOT_MEASURED, Flops

    if replay is None:
        return NOT_MEASURED._replace(counted="not measured (counted only by re-running it: no replay given)")
    parts = work_flops(replay["work"])
    train, inference = parts["fit"], parts["vectorise"] + parts["score"]
    return Flops(train, inference, "counted (sparse)", sparse_train=train, sparse_inference=inference)


@dataclass(frozen=True)
class Lexical:
    """A lexical model's features of the screened records, split as the trial splits them, and
    the fit-and-score of its classifier on given features (so fusions can widen the features)."""

    train: object
    eval: object
    labels: np.ndarray
    fit_scores: object  # (train features, evaluation features) -> scores


class OneShotLexical(Variant):
    """A lexical model fitted once on the 16 (its ``lexical``): scored, and replayed with its work
    entered (vectorising, the fit, the scoring pass), the same way for each."""

    @property
    def replays(self) -> bool:
        return True

    def replay(self, trial: Trial) -> dict:
        log = WorkLog()
        model = self.lexical(trial, log)
        return replayed(trial, model.fit_scores(model.train, model.eval), log)

    def flops(self, work: RowWork) -> Flops:
        return counted_sparse(work.replay(self))

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        model = self.lexical(trial)
        return Scored(model.fit_scores(model.train, model.eval), timings={"train_seconds": time.perf_counter() - start})


@dataclass(frozen=True)
class TfidfLR(OneShotLexical):
    """scikit-learn TF-IDF, fitted on the screened texts without labels, + a logistic regression."""

    uses_encoder: ClassVar[bool] = False
    family: ClassVar[str] = "tfidf"
    reader_label: ClassVar[str] = "TF-IDF + LR"
    ngram_range: tuple[int, int] = knob((1, 2), "word n-grams from / to")
    sublinear_tf: bool = knob(True, "1 + log(tf) instead of raw counts")
    head: LogisticHead = knob(LogisticHead(), "the classifier on the TF-IDF features")

    def __post_init__(self):
        require(isinstance(self.head, LogisticHead), f"TfidfLR's head is a logistic regression, got {self.head!r}")

    @property
    def name(self) -> str:
        return "tfidf+lr"

    def features(self, texts: list[str]):
        """TF-IDF matrix of the screened texts. No word TF-IDF can use is an error saying so."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            return TfidfVectorizer(ngram_range=self.ngram_range, sublinear_tf=self.sublinear_tf).fit_transform(texts)
        except ValueError as exc:
            if "empty vocabulary" in str(exc):
                raise NoUsableText("no title or abstract holds a word TF-IDF can use (2 or more letters or "
                                   "digits)") from exc
            raise

    def lexical(self, trial: Trial, log: WorkLog | None = None) -> Lexical:
        """The TF-IDF features and the head's fit-and-score; with ``log``, their work entered."""
        records = screened(trial)
        x = self.features(plain_text(records))
        n = len(trial.data.split.train)
        if log is not None:
            log.vectorised(x)

        def fit_scores(tr, ev):
            model = self.head.fit(tr, records["label"].to_numpy()[:n], seed=trial.seed)
            if log is not None:
                log.fitted(model, tr)
                log.scored(ev, probability=True)  # the head ranks by predict_proba
            return self.head.scores(model, ev)

        return Lexical(x[:n], x[n:], records["label"].to_numpy()[:n], fit_scores)
