"""The methods a reader would use instead of the study's, as variants of the same sweep: each
gets exactly the 16 training records and the evaluation set that Base and LoRA get for that
review and seed, and returns the same record shape.

- ``tfidf+lr``: scikit-learn TF-IDF (word 1–2-grams, sublinear tf, fitted on the screened
  texts without labels) + the same logistic regression as phase 2.
- ``setfit``: the `setfit` library's own training of the same encoder, with its defaults
  (full fine-tuning, its own pair sampling and loss, logistic-regression head).
- ``asreview-oneshot``: ASReview's default model (ELAS u4: TF-IDF 1–2-grams + linear SVM with
  balanced sample weights), built through ASReview's own API, fitted once on the 16.
- ``asreview-al``: ASReview's own simulation from the same 16 priors with that model and its
  querier (max), one label per step, run until every included record is found. It gets a
  label for every record it shows, so it is another regime: never averaged with the others.
  With ``features`` it runs on this project's embeddings (alone or beside its TF-IDF) through
  the registered feature extractor (``al-embeddings``, ``al-embeddings+tfidf``).

Each is a frozen dataclass (``helpers.methods.variants``): its fields are its settings and its key.

The screened records are the training and evaluation records of the trial (the whole review
without an evaluation cap): ASReview fits its TF-IDF on exactly what it screens, and so do
the other TF-IDF methods here.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from ..core.config import SweepConfig, knob, require
from ..compute.metrics import work_saved
from ..compute.sparse_flops import CountingModel, NotCounted, WorkLog, work_flops
from .trial import Scored
from .variants import LogisticHead, Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, ForwardLog, RowWork
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


# ---------------------------------------------------------------- TF-IDF + logistic regression

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



class NoUsableText(ValueError):
    """The screened texts hold nothing a method can read (e.g. TF-IDF: no word of 2+ letters)."""


# ---------------------------------------------------------------- setfit

def setfit_scores(model_path: str, train: pd.DataFrame, eval_texts: list[str], *, seed: int, max_length: int,
                  num_iterations: int | None = None, device: str = "cpu", log: ForwardLog | None = None,
                  compute: bool = True) -> Scored:
    """Train the setfit library on the few-shot set (its defaults) and score the evaluation
    texts. Offline: the metric is a function, never a hub name. With ``log``, every forward of
    the encoder is recorded by phase (``flops.watching``; ``compute=False``: only the shapes are
    replayed, and the scores mean nothing)."""
    from contextlib import nullcontext

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from ..models.flops import watching

    model = SetFitModel.from_pretrained(model_path, device=device)
    model.model_body.max_seq_length = max_length
    watched = nullcontext() if log is None else watching(model.model_body[0].auto_model, log, compute=compute)

    def awss95(y_pred, y_true) -> dict:  # setfit passes predictions first
        return {"awss95": work_saved(y_true, y_pred).awss}

    with tempfile.TemporaryDirectory() as out, watched:
        args = TrainingArguments(output_dir=out, seed=seed, num_iterations=num_iterations, max_length=max_length,
                                 show_progress_bar=False, report_to="none", save_strategy="no")
        trainer = Trainer(model=model, args=args, metric=awss95, train_dataset=Dataset.from_dict(
            {"text": train["text"].tolist(), "label": [int(v) for v in train["label"]]}))
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        if log is not None:
            log.phase = "inference"
        start = time.perf_counter()
        scores = np.asarray(model.predict_proba(list(eval_texts), show_progress_bar=False))[:, 1]
    return Scored(scores=scores, timings={"train_seconds": train_seconds,
                                          "embed_seconds": time.perf_counter() - start})


@dataclass(frozen=True)
class Setfit(Variant):
    """The setfit library's own training of the same encoder with its defaults: full fine-tuning
    of the body, its pair sampling and loss, a logistic-regression head."""

    num_iterations: int | None = knob(None, "setfit's pair-sampling iterations; None: its default oversampling")

    @property
    def name(self) -> str:
        return "setfit"

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {"setfit": metadata.version("setfit")}

    @property
    def replays(self) -> bool:
        return True

    def replay(self, trial: Trial) -> dict:
        """setfit's own loop run again without the encoder's work (``flops.watching``): its pairs,
        batches and padding, every forward's shape by phase. No ranking comes out of it."""
        from ..models.flops import ForwardLog

        log = ForwardLog()
        self._run(trial, log=log, compute=False)
        return {"calls": pd.DataFrame(log.calls, columns=["phase", "texts", "length", "gradients"])}

    def flops(self, work: RowWork) -> Flops:
        """Each recorded forward at the encoder's counted per-length costs: a full fine-tuning step
        (forward and backward through every weight) where gradients were on, else a forward. The
        training side holds the body's training and the head's pass over the 16; inference, the
        evaluation set's. The head's logistic regression on the 16 embeddings is not counted
        (as for Base and LoRA: a few million FLOPs)."""
        from ..models.flops import NOT_MEASURED, Flops, ForwardLog

        replay = work.replay(self)
        if replay is None:
            return NOT_MEASURED._replace(counted="not measured (counted only by replaying setfit's loop: no replay given)")
        log = ForwardLog()
        log.calls = list(replay["calls"].itertuples(index=False, name=None))
        by_phase = log.flops(work.counts.base(), work.counts.fine_tuning())
        return Flops(by_phase.get("train", 0.0), by_phase.get("inference", 0.0),
                     "counted (setfit's own batches replayed)")

    def score(self, trial: Trial) -> Scored:
        return self._run(trial)

    def _run(self, trial: Trial, **watch) -> Scored:
        from ..models.encoder import resolve_encoder_name

        data = trial.data
        return setfit_scores(resolve_encoder_name(trial.config.encoder), data.train, data.eval["text"].tolist(),
                             seed=trial.seed, max_length=trial.encoder.max_length, device=str(trial.encoder.device),
                             num_iterations=self.num_iterations, **watch)


# ---------------------------------------------------------------- ASReview

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


TFIDF_LR = TfidfLR()
SETFIT = Setfit()
ASREVIEW_ONESHOT = AsreviewOneShot()
ASREVIEW_AL = ActiveLearning()
ONE_SHOT_PEERS = (TFIDF_LR, SETFIT, ASREVIEW_ONESHOT)
PEERS = ONE_SHOT_PEERS + (ASREVIEW_AL,)
