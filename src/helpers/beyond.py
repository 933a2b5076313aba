"""Candidates for a few-shot screener that does better than the study's recipe from the same
16 labels (notebook 08). Each is a ``Variant`` of the same sweep: same split, same evaluation
set, same results table, its settings in the row key.

- heads: a linear SVM with class balancing instead of the logistic regression;
- fusion of lexical and semantic evidence (helpers.fusion): TF-IDF features concatenated with
  embeddings, and rank-averaging of a TF-IDF model's and an embedding model's scores — with
  scikit-learn's TF-IDF + LR and with ASReview's own feature extractor, classifier and
  balancing; each with Base and with the phase-1 encoder;
- composed skills for a new review: the hybrid composition of the *other* reviews' phase-1
  adapters (leave-one-review-out), with and without a phase-1 run on the new review's 16;
- phase-1 recipe: lower learning rates, all pairs of the 16, more epochs;
- layer choice: adapt the layers a short phase-1 run changes most (linear CKA), or all layers;
- active learning with this project's encoder: ASReview's simulation with the registered
  feature extractor (helpers.asreview_ext), alone or fused with ASReview's TF-IDF.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from sklearn.svm import LinearSVC

from .experiment import Scored, SweepConfig, Trial, Variant, lora_settings, fit_classifier, score_variant
from .fusion import concatenate, rank_average
from .peers import (asreview_settings, active_learning, asreview_default_model, plain_text, screened,
                    tfidf_features)

SVM_HEAD = {"head": "linear_svm", "class_weight": "balanced", "C": 1.0}
CKA_SHORT_RUN = {"epochs": 1, "layers": "all"}  # the short phase-1 run whose change CKA measures
CKA_LAYERS = 3                                   # as many layers as the study adapts


def _embedding_view(trial: Trial, view: str) -> Scored:
    return trial.base if view == "base" else trial.lora


def _view_settings(config: SweepConfig, view: str) -> dict:
    return {"embedding": view, **({"training": config.training.identity()} if view == "lora" else {})}


# ---------------------------------------------------------------- heads

def svm_scores(train_x, train_y, eval_x, *, seed: int) -> np.ndarray:
    """Linear SVM with balanced class weights; its decision function ranks."""
    svm = LinearSVC(C=SVM_HEAD["C"], class_weight="balanced", random_state=seed).fit(train_x, train_y)
    return svm.decision_function(eval_x)


def svm_head(view: str) -> Variant:
    def settings(config: SweepConfig) -> dict:
        return {**SVM_HEAD, **_view_settings(config, view)}

    def score(trial: Trial) -> Scored:
        emb = _embedding_view(trial, view)
        return Scored(scores=svm_scores(emb.train_emb, trial.data.train["label"], emb.eval_emb, seed=trial.seed))

    return Variant(f"{view}+svm", settings, score)


# ---------------------------------------------------------------- fusion

def _tfidf_split(trial: Trial):
    records = screened(trial)
    x = tfidf_features(plain_text(records))
    n = len(trial.data.split.train)
    return x[:n], x[n:], records["label"].to_numpy()[:n]


def _asreview_split(trial: Trial):
    """ASReview's own TF-IDF (its u4 settings), fitted on the screened records."""
    cycle = asreview_default_model(trial.seed)
    records = screened(trial)
    x = cycle.transform(records[["title", "abstract"]])
    n = len(trial.data.split.train)
    return cycle, x[:n], x[n:], records["label"].to_numpy()[:n]


def fusion(kind: str, lexical: str, view: str, *, weight: float = 1.0) -> Variant:
    """``kind`` concat | rankavg; ``lexical`` tfidf (scikit-learn + LR) | asreview (its u4
    features, SVM and balancing); ``view`` base | lora embeddings. ``weight``: of the embedding
    block (concat) or of the embedding model's ranks against the lexical model's 1 (rankavg)."""

    def settings(config: SweepConfig) -> dict:
        lex = ({"lexical": "tfidf+lr", **config.head_settings()} if lexical == "tfidf"
               else {"lexical": "asreview", **asreview_settings(config)})
        return {"fusion": kind, **lex, **_view_settings(config, view), "weight": weight}

    def score(trial: Trial) -> Scored:
        emb = _embedding_view(trial, view)
        start = time.perf_counter()
        if lexical == "tfidf":
            tr, ev, y = _tfidf_split(trial)
            if kind == "concat":
                clf = fit_classifier(concatenate(tr, emb.train_emb, weight=weight), y, seed=trial.seed,
                                     c=trial.config.head_c)
                scores = clf.predict_proba(concatenate(ev, emb.eval_emb, weight=weight))[:, 1]
            else:
                lex = fit_classifier(tr, y, seed=trial.seed, c=trial.config.head_c).predict_proba(ev)[:, 1]
                scores = rank_average(lex, emb.scores, weights=(1.0, weight))
        else:
            cycle, tr, ev, y = _asreview_split(trial)
            if kind == "concat":
                cycle.fit(concatenate(tr, emb.train_emb, weight=weight), y)
                scores = cycle.classifier.decision_function(concatenate(ev, emb.eval_emb, weight=weight))
            else:
                cycle.fit(tr, y)
                scores = rank_average(cycle.classifier.decision_function(ev), emb.scores, weights=(1.0, weight))
        return Scored(scores=scores, timings={"train_seconds": time.perf_counter() - start})

    return Variant(f"{kind}:{lexical}+{view}" + ("" if weight == 1.0 else f"@{weight:g}"), settings, score)


# ---------------------------------------------------------------- composed skills for a new review

def other_reviews(config: SweepConfig, review: str) -> list[str]:
    """The run's other reviews with text (whose phase-1 adapters notebook 05 trained)."""
    from .data import split_available

    return [r for r in split_available(config.reviews, config.data_dir)[0] if r != review]


def leave_one_out_hybrid(trial: Trial):
    """The hybrid (75 % quantile, rank-8 SVD, √S) of every other review's phase-1 adapter for
    the same seed (from the disk cache where notebook 05 trained them)."""
    from .compose import COMPOSITIONS

    adapters = [Trial(trial.config, r, trial.seed, encoder=trial.encoder).adapted
                for r in other_reviews(trial.config, trial.review)]
    return COMPOSITIONS["hybrid-sqrt"].apply(adapters, quantile=0.75, rank=8, seed=trial.seed)


def loo_hybrid(*, phase1: bool) -> Variant:
    def settings(config: SweepConfig) -> dict:
        return {**lora_settings(config), "composition": "hybrid-sqrt q0.75 rank 8 of every other review",
                "phase1_on_new_review": phase1, "reviews": list(config.reviews) if config.reviews else "all with text"}

    def score(trial: Trial) -> Scored:
        start = time.perf_counter()
        hybrid = leave_one_out_hybrid(trial)
        if phase1:
            hybrid, _ = trial.phase1_with(trial.config.training, start_from=hybrid)
        scored = score_variant(hybrid, trial.data, c=trial.config.head_c)
        scored.timings["train_seconds"] = time.perf_counter() - start - scored.timings["embed_seconds"]
        return scored

    return Variant("loo-hybrid" + ("+phase1" if phase1 else ""), settings, score)


# ---------------------------------------------------------------- phase-1 recipe and layers

def recipe(name: str, **changes) -> Variant:
    """Phase 1 with changed training arguments, scored like LoRA."""

    def settings(config: SweepConfig) -> dict:
        return {**config.head_settings(), "training": replace(config.training, **changes).identity()}

    def score(trial: Trial) -> Scored:
        adapted, log = trial.phase1_with(replace(trial.config.training, **changes))
        scored = score_variant(adapted, trial.data, c=trial.config.head_c)
        scored.timings["train_seconds"] = log["train_seconds"]
        return scored

    return Variant(name, settings, score)


def cka_layers(trial: Trial) -> tuple[int, ...]:
    """The CKA_LAYERS layers a short phase-1 run (all layers adapted, one epoch) changes most,
    measured on the training texts; deterministic for a seed."""
    from .cka import layer_change, layer_outputs, most_changed

    n_layers = trial.encoder.model.config.num_hidden_layers
    short = replace(trial.config.training, epochs=CKA_SHORT_RUN["epochs"], layers=tuple(range(n_layers)))
    adapted, _ = trial.phase1_with(short)
    texts = trial.data.train["text"].tolist()
    return most_changed(layer_change(layer_outputs(trial.encoder, texts), layer_outputs(adapted, texts)), CKA_LAYERS)


def cka_recipe() -> Variant:
    def settings(config: SweepConfig) -> dict:
        return {**lora_settings(config), "layers": f"{CKA_LAYERS} lowest linear CKA after a short run",
                "short_run": CKA_SHORT_RUN}

    def score(trial: Trial) -> Scored:
        start = time.perf_counter()
        layers = cka_layers(trial)
        adapted, _ = trial.phase1_with(replace(trial.config.training, layers=layers))
        scored = score_variant(adapted, trial.data, c=trial.config.head_c)
        scored.timings["train_seconds"] = time.perf_counter() - start - scored.timings["embed_seconds"]
        scored.extra["layers"] = " ".join(map(str, layers))
        return scored

    return Variant("lora-cka3", settings, score)


def all_layers_recipe() -> Variant:
    def settings(config: SweepConfig) -> dict:
        return {**lora_settings(config), "layers": "all"}

    def score(trial: Trial) -> Scored:
        n_layers = trial.encoder.model.config.num_hidden_layers
        adapted, log = trial.phase1_with(replace(trial.config.training, layers=tuple(range(n_layers))))
        scored = score_variant(adapted, trial.data, c=trial.config.head_c)
        scored.timings["train_seconds"] = log["train_seconds"]
        return scored

    return Variant("lora-all-layers", settings, score)


# ---------------------------------------------------------------- active learning with the project's encoder

def al_embeddings(*, with_tfidf: bool) -> Variant:
    """ASReview's simulation (its u4 SVM, balancing and max querier) on this project's
    embeddings — through the registered feature extractor — or on them fused with its TF-IDF."""

    def settings(config: SweepConfig) -> dict:
        return {**asreview_settings(config), "regime": "active learning", "n_query": 1, "stop": "all included found",
                "features": "asreview tfidf ⊕ slr-embeddings" if with_tfidf else "slr-embeddings"}

    def score(trial: Trial) -> Scored:
        from .asreview_ext import ProjectEmbeddings

        records = screened(trial)[["title", "abstract"]]
        extractor = ProjectEmbeddings(encoder=trial.config.encoder, normalize=trial.encoder.normalize,
                                      max_length=trial.encoder.max_length)
        cycle = asreview_default_model(trial.seed)
        if with_tfidf:
            x = concatenate(cycle.transform(records), extractor.fit_transform(records))
            cycle.feature_extractor = None
            return active_learning(trial, x, cycle=cycle, skip_transform=True)
        cycle.feature_extractor = extractor
        return active_learning(trial, records, cycle=cycle)

    return Variant("al-embeddings" + ("+tfidf" if with_tfidf else ""), settings, score)


ONE_SHOT_CANDIDATES = (
    svm_head("base"), svm_head("lora"),
    *(fusion(kind, lexical, view) for kind in ("concat", "rankavg") for lexical in ("tfidf", "asreview")
      for view in ("base", "lora")),
    # the strongest lexical peer with the embeddings weighted less or more
    *(fusion("concat", "asreview", view, weight=w) for view in ("base", "lora") for w in (0.5, 2.0)),
    *(fusion("rankavg", "asreview", view, weight=1 / 3) for view in ("base", "lora")),
    loo_hybrid(phase1=False), loo_hybrid(phase1=True),
    recipe("lora-lr0.002", learning_rate=0.002), recipe("lora-lr0.0005", learning_rate=0.0005),
    recipe("lora-all-pairs", pairs="all"), recipe("lora-4-epochs", epochs=4),
    cka_recipe(), all_layers_recipe(),
)
ACTIVE_LEARNING_CANDIDATES = (al_embeddings(with_tfidf=False), al_embeddings(with_tfidf=True))
# smoke mode: one candidate of each kind, so every code path runs in minutes (the unit tests run all)
SMOKE_CANDIDATES = ("base+svm", "concat:asreview+base", "loo-hybrid+phase1", "lora-all-pairs", "lora-cka3",
                    "al-embeddings+tfidf")


def candidate(name: str) -> Variant:
    """A candidate by its name in the results table."""
    found = {v.name: v for v in ONE_SHOT_CANDIDATES + ACTIVE_LEARNING_CANDIDATES}
    if name not in found:
        raise KeyError(f"no candidate {name!r}; candidates: {', '.join(found)}")
    return found[name]
