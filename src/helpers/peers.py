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

The screened records are the training and evaluation records of the trial (the whole review
without an evaluation cap): ASReview fits its TF-IDF on exactly what it screens, and so do
the other TF-IDF methods here.
"""

from __future__ import annotations

import tempfile
import time
from importlib import metadata

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from .experiment import Scored, SweepConfig, Trial, Variant, fit_classifier
from .metrics import work_saved

TFIDF_SETTINGS = {"ngram_range": (1, 2), "sublinear_tf": True}


def load_asreview() -> None:
    """Import ASReview once with its side effects kept out of the user's folders: a dataset
    package it imports installs a global `requests` cache that writes ``synergy_cache.sqlite``
    into the working directory. Here that file goes to the cache folder, and the global patch
    of `requests` is removed again."""
    import sys

    if "asreview.learner" in sys.modules:
        return
    import contextlib

    from .io import default_cache_dir

    folder = default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(folder):
        import asreview.learner  # noqa: F401
        import requests_cache

        requests_cache.uninstall_cache()


def screened(trial: Trial) -> pd.DataFrame:
    """The records a method screens: training records first, then the evaluation set; with
    title and abstract as ASReview reads them."""
    data = trial.data
    return pd.concat([data.train, data.eval])[["title", "abstract", "label"]].reset_index(drop=True)


def plain_text(records: pd.DataFrame) -> list[str]:
    """Title and abstract joined by a space (what ASReview's TF-IDF reads)."""
    return (records["title"] + " " + records["abstract"]).tolist()


# ---------------------------------------------------------------- TF-IDF + logistic regression

def tfidf_features(texts: list[str]):
    """TF-IDF matrix of the screened texts (fitted on them, no labels)."""
    return TfidfVectorizer(**TFIDF_SETTINGS).fit_transform(texts)


def _tfidf_settings(config: SweepConfig) -> dict:
    return {"tfidf": TFIDF_SETTINGS, "fitted_on": "screened texts", **config.head_settings()}


def _score_tfidf(trial: Trial) -> Scored:
    records = screened(trial)
    start = time.perf_counter()
    x = tfidf_features(plain_text(records))
    n_train = len(trial.data.split.train)
    clf = fit_classifier(x[:n_train], records["label"].to_numpy()[:n_train], seed=trial.seed, c=trial.config.head_c)
    return Scored(scores=clf.predict_proba(x[n_train:])[:, 1], classifier=clf,
                  timings={"train_seconds": time.perf_counter() - start})


# ---------------------------------------------------------------- setfit

def setfit_scores(model_path: str, train: pd.DataFrame, eval_texts: list[str], *, seed: int, max_length: int,
                  num_iterations: int | None = None, device: str = "cpu") -> Scored:
    """Train the setfit library on the few-shot set (its defaults) and score the evaluation
    texts. Offline: the metric is a function, never a hub name."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(model_path, device=device)
    model.model_body.max_seq_length = max_length

    def awss95(y_pred, y_true) -> dict:  # setfit passes predictions first
        return {"awss95": work_saved(y_true, y_pred).awss}

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, seed=seed, num_iterations=num_iterations, max_length=max_length,
                                 show_progress_bar=False, report_to="none", save_strategy="no")
        trainer = Trainer(model=model, args=args, metric=awss95, train_dataset=Dataset.from_dict(
            {"text": train["text"].tolist(), "label": [int(v) for v in train["label"]]}))
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = np.asarray(model.predict_proba(list(eval_texts), show_progress_bar=False))[:, 1]
    return Scored(scores=scores, timings={"train_seconds": train_seconds,
                                          "embed_seconds": time.perf_counter() - start})


def _setfit_settings(config: SweepConfig) -> dict:
    return {"setfit": metadata.version("setfit"), "defaults": True, "num_iterations": None,
            "fine_tuning": "full body"}


def _score_setfit(trial: Trial) -> Scored:
    from .encoder import resolve_encoder_name

    data = trial.data
    return setfit_scores(resolve_encoder_name(trial.config.encoder), data.train, data.eval["text"].tolist(),
                         seed=trial.seed, max_length=trial.encoder.max_length, device=str(trial.encoder.device))


# ---------------------------------------------------------------- ASReview

def asreview_default_model(seed: int):
    """ASReview's default model (its ELAS u4 setting) as ASReview builds it, with the
    classifier's random state set so a seed gives the same numbers."""
    load_asreview()
    from asreview.learner import ActiveLearningCycle
    from asreview.models.models import get_ai_config

    cycle = ActiveLearningCycle.from_meta(get_ai_config()["value"])
    cycle.classifier.set_params(random_state=seed)
    return cycle


def asreview_settings(config: SweepConfig) -> dict:
    load_asreview()
    from asreview.models.models import get_ai_config

    ai = get_ai_config()
    return {"asreview": metadata.version("asreview"), "model": ai["name"], "config": repr(ai["value"])}


def _score_asreview_oneshot(trial: Trial) -> Scored:
    """Fit ASReview's default model once on the 16 and rank the rest (no further labels)."""
    records = screened(trial)
    n_train = len(trial.data.split.train)
    start = time.perf_counter()
    cycle = asreview_default_model(trial.seed)
    x = cycle.transform(records[["title", "abstract"]])
    cycle.fit(x[:n_train], records["label"].to_numpy()[:n_train])
    scores = cycle.classifier.decision_function(x[n_train:])
    return Scored(scores=scores, classifier=cycle.classifier, timings={"train_seconds": time.perf_counter() - start})


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


def active_learning(trial: Trial, x, *, cycle, skip_transform: bool = False) -> Scored:
    """An active-learning run on the trial's screened records from its 16 priors, scored by
    labelling order; ``records_read`` and ``labels_used`` say what reaching 95 % cost."""
    records = screened(trial)
    n_train = len(trial.data.split.train)
    start = time.perf_counter()
    order = simulate_order(x, records["label"], np.arange(n_train), cycle=cycle, skip_transform=skip_transform)
    scores = order_scores(order, len(records))[n_train:]
    found = work_saved(records["label"].to_numpy()[n_train:], scores)
    read = int(np.sum(scores >= found.threshold))
    return Scored(scores=scores, timings={"train_seconds": time.perf_counter() - start},
                  extra={"records_read": read, "labels_used": n_train + read})


def _asreview_al_settings(config: SweepConfig) -> dict:
    return {**asreview_settings(config), "regime": "active learning", "n_query": 1, "stop": "all included found"}


def _score_asreview_al(trial: Trial) -> Scored:
    return active_learning(trial, screened(trial)[["title", "abstract"]], cycle=asreview_default_model(trial.seed))


TFIDF_LR = Variant("tfidf+lr", _tfidf_settings, _score_tfidf, uses_encoder=False)
SETFIT = Variant("setfit", _setfit_settings, _score_setfit)
ASREVIEW_ONESHOT = Variant("asreview-oneshot", asreview_settings, _score_asreview_oneshot, uses_encoder=False)
ASREVIEW_AL = Variant("asreview-al", _asreview_al_settings, _score_asreview_al, uses_encoder=False)
ONE_SHOT_PEERS = (TFIDF_LR, SETFIT, ASREVIEW_ONESHOT)
PEERS = ONE_SHOT_PEERS + (ASREVIEW_AL,)
