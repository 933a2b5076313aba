"""ASReview as a peer, built through its own API: its model fitted once on the 16
(``AsreviewOneShot``) and its own active-learning simulation from the same 16 priors
(``ActiveLearning``: on its TF-IDF, or on this project's embeddings through the registered
feature extractor), each replayable with every fit and ranking's work entered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from ..compute.metrics import work_saved
from ..compute.sparse_flops import CountingModel, NotCounted, WorkLog
from ..core.config import SweepConfig, knob, require
from .lexical import Lexical, NoUsableText, OneShotLexical, counted_sparse, replayed, screened
from .trial import Scored
from .variant import Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, RowWork
    from .trial import Trial


def load_asreview() -> None:
    """Import ASReview's learner without the side effect of a dataset package it imports: at
    import, that package installs a global `requests` cache writing ``synergy_cache.sqlite``
    into the working directory. The install is skipped for the duration of the import (nothing
    here downloads datasets), so no file is written and `requests` is left as it was."""
    import sys

    if "asreview.learner" in sys.modules:
        return
    from unittest import mock

    import requests_cache

    with mock.patch.object(requests_cache, "install_cache"):
        import asreview.learner  # noqa: F401


def asreview_model(name: str, seed: int, *, log: WorkLog | None = None):
    """One of ASReview's model configurations (``elas_u4`` is its default) as ASReview builds it,
    with the classifier's random state (where it has one) set so a seed gives the same numbers;
    with ``log``, every fit and scoring pass of its classifier entered there (``CountingModel``)."""
    load_asreview()
    from asreview.learner import ActiveLearningCycle
    from asreview.models.models import get_ai_config

    cycle = ActiveLearningCycle.from_meta(get_ai_config(name)["value"])
    if "random_state" in cycle.classifier.get_params():  # e.g. naive Bayes draws nothing at random
        cycle.classifier.set_params(random_state=seed)
    if log is not None:
        cycle.classifier = CountingModel(cycle.classifier, log)
    return cycle


def asreview_scores(classifier, x) -> np.ndarray:
    """What ASReview ranks by (``ActiveLearningCycle.rank``): the predicted probability where the
    classifier has one, else its decision function (its default SVM)."""
    try:
        return classifier.predict_proba(x)[:, 1]
    except AttributeError:
        return classifier.decision_function(x)


def asreview_reads(model: str) -> dict:
    """The ASReview release and the full configuration a model name stands for."""
    load_asreview()
    from asreview.models.models import get_ai_config

    return {"asreview": metadata.version("asreview"), "config": repr(get_ai_config(model)["value"])}


@dataclass(frozen=True)
class AsreviewOneShot(OneShotLexical):
    """ASReview's model fitted once on the 16, ranking the rest (no further labels)."""

    uses_encoder: ClassVar[bool] = False
    family: ClassVar[str] = "asreview"
    reader_label: ClassVar[str] = "ASReview one-shot"
    model: str = knob("elas_u4", "ASReview's model configuration (elas_u4: its default TF-IDF + SVM)")

    @property
    def name(self) -> str:
        return "asreview-oneshot"

    def reads(self, config: SweepConfig, review: str) -> dict:
        return asreview_reads(self.model)

    def lexical(self, trial: Trial, log: WorkLog | None = None) -> Lexical:
        """ASReview's own feature extractor fitted on the screened records; its classifier and
        balancer on given features. With ``log``, their work entered."""
        cycle = asreview_model(self.model, trial.seed, log=log)
        records = screened(trial)
        x = asreview_features(cycle, records, log)
        n = len(trial.data.split.train)
        labels = records["label"].to_numpy()[:n]

        def fit_scores(tr, ev):
            cycle.fit(tr, labels)
            return asreview_scores(cycle.classifier, ev)

        return Lexical(x[:n], x[n:], labels, fit_scores)



def asreview_features(cycle, records: pd.DataFrame, log: WorkLog | None = None):
    """ASReview's feature extractor fitted on the records' titles and abstracts; with ``log``,
    its arithmetic entered in ``log`` (ASReview's TF-IDF; another extractor has no count here)."""
    if log is not None:
        from asreview.models.feature_extractors import Tfidf

        if not isinstance(cycle.feature_extractor, Tfidf):
            raise NotCounted(f"no FLOP count for ASReview's {type(cycle.feature_extractor).__name__} features")
    try:
        x = cycle.transform(records[["title", "abstract"]])
    except ValueError as exc:
        if "empty vocabulary" in str(exc):
            raise NoUsableText("no title or abstract holds a word ASReview's TF-IDF can use") from exc
        raise
    if log is not None:
        log.vectorised(x)
    return x


def simulate_order(x, labels, priors: np.ndarray, *, cycle, skip_transform: bool = False) -> np.ndarray:
    """ASReview's own simulation: label the priors, then let the cycle's model and querier pick
    one record at a time (refitting after each) until every included record is found. ``x``
    is what the cycle's feature extractor reads (title/abstract columns), or, with
    ``skip_transform``, a ready feature matrix. Returns the labelling order as row positions,
    priors first."""
    load_asreview()
    from asreview.learner import ActiveLearningCycle
    from asreview.models.queriers import TopDown
    from asreview.models.stoppers import IsFittable
    from asreview.simulation.simulate import Simulate

    cycles = [ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()), cycle]
    sim = Simulate(x, np.asarray(labels), cycles, print_progress=False, skip_transform=skip_transform)
    sim.label(priors)
    sim.review()
    return sim._results["record_id"].to_numpy()


def order_scores(order: np.ndarray, n_records: int) -> np.ndarray:
    """Scores that rank records in labelling order (first read = highest); records never read
    share the lowest score."""
    scores = np.full(n_records, -float(n_records + 1))
    scores[order] = -np.arange(len(order), dtype=float)
    return scores


AL_FEATURES = {"tfidf": "asreview-al", "embeddings": "al-embeddings", "embeddings+tfidf": "al-embeddings+tfidf"}


@dataclass(frozen=True)
class ActiveLearning(Variant):
    """ASReview's simulation from the 16 priors (its model's classifier, balancer and querier, one
    label per step, until every included record is found), scored by labelling order;
    ``records_read`` and ``labels_used`` say what reaching 95 % cost."""

    reader_label: ClassVar[str] = "ASReview active learning"
    model: str = knob("elas_u4", "ASReview's model configuration (elas_u4: its default)")
    features: str = knob("tfidf", "tfidf: ASReview's own; embeddings: this project's encoder (the registered "
                                  "slr-embeddings extractor); embeddings+tfidf: both, concatenated")

    def __post_init__(self):
        require(self.features in AL_FEATURES,
                f"ActiveLearning.features must be one of {tuple(AL_FEATURES)}, got {self.features!r}")

    @property
    def uses_encoder(self) -> bool:
        return self.features != "tfidf"

    @property
    def name(self) -> str:
        return AL_FEATURES[self.features] if self.model == "elas_u4" else f"{AL_FEATURES[self.features]}:{self.model}"

    def reads(self, config: SweepConfig, review: str) -> dict:
        return asreview_reads(self.model)

    @property
    def replays(self) -> bool:
        return True

    def replay(self, trial: Trial) -> dict:
        """The simulation run again with every retraining and every ranking of the pool entered."""
        log = WorkLog()
        return replayed(trial, self._simulate(trial, log).scores, log)

    def flops(self, work: RowWork) -> Flops:
        """From the replay: vectorising once, every retraining (training) and every ranking of the
        pool (inference), counted from their non-zeros (embeddings: every value); on this
        project's embeddings, their forward over every record besides."""
        sparse = counted_sparse(work.replay(self))
        if self.features == "tfidf":
            return sparse
        return sparse._replace(inference=sparse.inference + work.embedded(work.counts.base()),
                               counted=sparse.counted.replace("counted (sparse)", "counted (encoder; ASReview's model sparse)"))

    def score(self, trial: Trial) -> Scored:
        return self._simulate(trial)

    def _features(self, trial: Trial, cycle, records: pd.DataFrame, log: WorkLog | None):
        """What the simulation reads — ASReview's TF-IDF, this project's embeddings (the registered
        extractor) or both side by side — computed here, as the cycle would, so that its
        vectorising can be entered in ``log``."""
        if self.features == "tfidf":
            return asreview_features(cycle, records, log)
        from ..compute.fusion import concatenate
        from ..models.asreview_ext import ProjectEmbeddings

        embedded = ProjectEmbeddings(encoder=trial.config.encoder, normalize=trial.encoder.normalize,
                                     max_length=trial.encoder.max_length).fit_transform(records[["title", "abstract"]])
        if self.features == "embeddings":
            return embedded
        return concatenate(asreview_features(cycle, records, log), embedded)

    def _simulate(self, trial: Trial, log: WorkLog | None = None) -> Scored:
        records = screened(trial)
        cycle = asreview_model(self.model, trial.seed, log=log)
        n_train = len(trial.data.split.train)
        start = time.perf_counter()
        x = self._features(trial, cycle, records, log)
        order = simulate_order(x, records["label"], np.arange(n_train), cycle=cycle, skip_transform=True)
        scores = order_scores(order, len(records))[n_train:]
        found = work_saved(records["label"].to_numpy()[n_train:], scores)
        read = int(np.sum(scores >= found.threshold))
        return Scored(scores=scores, timings={"train_seconds": time.perf_counter() - start},
                      extra={"records_read": read, "labels_used": n_train + read})
