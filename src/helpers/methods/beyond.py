"""Candidates for a few-shot screener that does better than the study's recipe from the same
16 labels (notebook 08), and the protocol that chooses among them. Each candidate is a
variant (``helpers.methods.variant``): same split, same evaluation set, same results table, its
fields in the row key.

- heads: a linear SVM instead of the logistic regression
  (``Base(SvmHead())``, ``Lora(SvmHead())``);
- fusion of lexical and semantic evidence (``Fusion``, helpers.compute.fusion): TF-IDF features
  concatenated with embeddings, and rank-averaging of a TF-IDF model's and an embedding
  model's scores — with scikit-learn's TF-IDF + LR and with ASReview's own feature extractor,
  classifier and balancing; each with Base and with the phase-1 encoder;
- composed skills for a new review (``LeaveOneOut``): the hybrid composition of the *other*
  reviews' phase-1 adapters, with and without a phase-1 run on the new review's 16;
- phase-1 recipe: lower learning rates, all pairs of the 16, more epochs (``Lora(changes=...)``);
- layer choice: adapt the layers a short phase-1 run changes most (``LoraCka``), or all layers;
- active learning with this project's encoder (``ActiveLearning(features=...)``, helpers.methods.asreview_peers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..compute.sparse_flops import WorkLog
from ..core.config import Settings, SweepConfig, knob, require
from .asreview_peers import ActiveLearning, AsreviewOneShot
from .heads import LogisticHead, SvmHead, head_scores
from .lexical import TfidfLR, counted_sparse, replayed
from .peers import ASREVIEW_AL, ASREVIEW_ONESHOT, TFIDF_LR
from .skills import compose_for, composed_flops, composed_from
from .trial import Scored, embed_split
from .variant import Variant
from .variants import Base, Lora, after_phase1_flops

if TYPE_CHECKING:
    from ..models.compose import Hybrid
    from ..models.flops import Flops, RowWork
    from .trial import Trial


# ---------------------------------------------------------------- fusion

@dataclass(frozen=True)
class Fusion(Variant):
    """Lexical ⊕ semantic evidence from the same 16 labels. ``concat``: one classifier (the
    lexical model's) on [lexical features | weight · embeddings]; ``rankavg``: each model
    scores on its own, and their ranks are averaged with weights (1, weight)."""

    kind: str = knob("concat", "concat or rankavg")
    lexical: TfidfLR | AsreviewOneShot = knob(TFIDF_LR, "the lexical model: scikit-learn TF-IDF + LR, or ASReview's")
    embedding: Base | Lora = knob(Base(), "the embedding model: Base or the phase-1 encoder, with its head")
    weight: float = knob(1.0, "the embeddings' weight against the lexical model's 1")

    def __post_init__(self):
        require(self.kind in ("concat", "rankavg") and self.weight > 0,
                f"Fusion needs kind 'concat' or 'rankavg' and weight > 0, got {self.kind!r}, {self.weight!r}")

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.lexical.family}+{self.embedding.name}" + ("" if self.weight == 1 else f"@{self.weight:g}")

    @property
    def replays(self) -> bool:
        return True

    def replay(self, trial: Trial) -> dict:
        """The lexical model's work (its features, and its fit and scoring on them: widened by the
        embeddings for ``concat``) entered while the fusion runs again."""
        log = WorkLog()
        return replayed(trial, self._fused(trial, log), log)

    def flops(self, work: RowWork) -> Flops:
        """The embedding model's counted FLOPs and the lexical model's, counted from its replay."""
        inner = self.embedding.flops(work.with_settings(work.settings["embedding"]))
        lexical = counted_sparse(work.replay(self))
        return inner._replace(train=inner.train + lexical.train, inference=inner.inference + lexical.inference,
                              counted=f"{inner.counted}; lexical model {lexical.counted}",
                              sparse_train=lexical.sparse_train, sparse_inference=lexical.sparse_inference)

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        scores = self._fused(trial)
        return Scored(scores, timings={"train_seconds": time.perf_counter() - start})

    def _fused(self, trial: Trial, log: WorkLog | None = None) -> np.ndarray:
        from ..compute.fusion import concatenate, rank_average

        lexical = self.lexical.lexical(trial, log)
        if self.kind == "concat":
            emb = self.embedding.embeddings(trial)
            scores = lexical.fit_scores(concatenate(lexical.train, emb.train, weight=self.weight),
                                        concatenate(lexical.eval, emb.eval, weight=self.weight))
        else:
            scores = rank_average(lexical.fit_scores(lexical.train, lexical.eval), self.embedding.score(trial).scores,
                                  weights=(1.0, self.weight))
        return scores


# ---------------------------------------------------------------- composed skills for a new review

def _default_hybrid():
    from ..models.compose import Hybrid

    return Hybrid()


@dataclass(frozen=True)
class LeaveOneOut(Variant):
    """Skills for a new review: the composition of every *other* review's phase-1 adapter in the
    run (same seed), optionally trained further by phase 1 on the new review's 16, then a head
    fitted on its embeddings. The key names the reviews composed, with their data checksums."""

    trains: ClassVar[bool] = True
    composition: Hybrid = knob(None, "how the other reviews' adapters are combined (None: the study's hybrid)")
    phase1: bool = knob(False, "continue the composed adapter with phase 1 on this review's 16")
    head: LogisticHead = knob(LogisticHead(), "the head fitted on the composed encoder's embeddings")

    def __post_init__(self):
        if self.composition is None:
            object.__setattr__(self, "composition", _default_hybrid())

    @property
    def name(self) -> str:
        return f"loo-{self.composition.name}" + ("+phase1" if self.phase1 else "")

    @staticmethod
    def pool(config: SweepConfig, review: str) -> list[str]:
        """The run's other reviews with text (whose phase-1 adapters notebook 05 trained)."""
        from ..core.data import split_available

        return [r for r in split_available(config.reviews, config.data_dir)[0] if r != review]

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {**super().reads(config, review), "composed_from": composed_from(self.pool(config, review), config)}

    def flops(self, work: RowWork) -> Flops:
        return composed_flops(work, self.composition, phase1=self.phase1)

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        composed = compose_for(trial, self.composition, self.pool(trial.config, trial.review))
        if self.phase1:
            composed, _ = trial.phase1_with(trial.config.training, start_from=composed)
        train_seconds = time.perf_counter() - start
        emb = embed_split(composed, trial.data)
        return Scored(head_scores(self.head, emb, trial.data.train_labels, seed=trial.seed),
                      timings={"train_seconds": train_seconds, "embed_seconds": emb.seconds})


# ---------------------------------------------------------------- layer choice

def cka_layers(trial: Trial, *, n_layers: int, short_epochs: int) -> tuple[tuple[int, ...], np.ndarray]:
    """The ``n_layers`` layers a short phase-1 run (every layer adapted, ``short_epochs``
    epochs) changes most, by linear CKA on the training texts, and every layer's CKA (lower =
    changed more); deterministic for a seed."""
    from ..compute.cka import layer_change, layer_outputs, most_changed

    short = replace(trial.config.training, epochs=short_epochs, layers="all")
    adapted, _ = trial.phase1_with(short)
    texts = trial.data.train["text"].tolist()
    change = layer_change(layer_outputs(trial.encoder, texts), layer_outputs(adapted, texts))
    return most_changed(change, n_layers), change


@dataclass(frozen=True)
class LoraCka(Variant):
    """Phase 1 on the layers a short all-layer run changes most (linear CKA), then the head."""

    trains: ClassVar[bool] = True
    n_layers: int = knob(3, "layers to adapt (the study adapts 3)")
    short_epochs: int = knob(1, "epochs of the short all-layer run whose change CKA measures")
    head: LogisticHead = knob(LogisticHead(), "phase 2's classifier")

    def __post_init__(self):
        require(self.n_layers >= 1 and self.short_epochs >= 1,
                f"LoraCka needs n_layers >= 1 and short_epochs >= 1, got {self.n_layers}, {self.short_epochs}")

    @property
    def name(self) -> str:
        return f"lora-cka{self.n_layers}"

    def flops(self, work: RowWork) -> Flops:
        # a short all-layer run first; the layers then chosen are not known here, so counted as the study's
        short = replace(work.training(), epochs=self.short_epochs, layers="all")
        return after_phase1_flops(work, "counted (layers as the study's)", more_training=work.phase1(short))

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        layers, change = cka_layers(trial, n_layers=self.n_layers, short_epochs=self.short_epochs)
        adapted, _ = trial.phase1_with(replace(trial.config.training, layers=layers))
        train_seconds = time.perf_counter() - start
        emb = embed_split(adapted, trial.data)
        return Scored(head_scores(self.head, emb, trial.data.train_labels, seed=trial.seed),
                      timings={"train_seconds": train_seconds, "embed_seconds": emb.seconds},
                      extra={"layers": " ".join(map(str, layers)), "layer_cka": " ".join(f"{c:.4f}" for c in change)})


# ---------------------------------------------------------------- the candidates and the protocol

ONE_SHOT_CANDIDATES = (
    Base(SvmHead()), Lora(SvmHead()),
    *(Fusion(kind, lexical, view) for kind in ("concat", "rankavg") for lexical in (TFIDF_LR, ASREVIEW_ONESHOT)
      for view in (Base(), Lora())),
    # the strongest lexical peer with the embeddings weighted less or more
    *(Fusion("concat", ASREVIEW_ONESHOT, view, weight=w) for view in (Base(), Lora()) for w in (0.5, 2.0)),
    *(Fusion("rankavg", ASREVIEW_ONESHOT, view, weight=1 / 3) for view in (Base(), Lora())),
    LeaveOneOut(), LeaveOneOut(phase1=True),
    Lora(changes=(("learning_rate", 0.002),)), Lora(changes=(("learning_rate", 0.0005),)),
    Lora(changes=(("pairs", "all"),)), Lora(changes=(("epochs", 4),)),
    LoraCka(), Lora(changes=(("layers", "all"),)),
)
ACTIVE_LEARNING_CANDIDATES = (ActiveLearning(features="embeddings"), ActiveLearning(features="embeddings+tfidf"))
# smoke mode: one candidate of each kind, so every code path runs in minutes (the unit tests run all)
SMOKE_CANDIDATES = ("base+svm", "concat:asreview+base", "loo-hybrid-sqrt+phase1", "lora-all-pairs", "lora-cka3",
                    "al-embeddings+tfidf")
PROTOCOL_DEV_REVIEWS = ("adhd", "triptans", "nsaids", "beta_blockers", "estrogens")
PEERS = (Base(), Lora(), TFIDF_LR, ASREVIEW_ONESHOT)


def candidate(name: str) -> Variant:
    """A candidate by its name in the results table."""
    found = {v.name: v for v in ONE_SHOT_CANDIDATES + ACTIVE_LEARNING_CANDIDATES}
    if name not in found:
        raise KeyError(f"no candidate {name!r}; candidates: {', '.join(found)}")
    return found[name]


@dataclass(frozen=True)
class Protocol:
    """Notebook 08's pre-registered protocol, resolved for one run: candidates and settings are
    compared on the development reviews only; the chosen recipes run once on the held-out ones."""

    dev_reviews: tuple[str, ...]
    held_out: tuple[str, ...]
    dev_seeds: tuple[int, ...]
    dev_config: SweepConfig      # the development search's settings (evaluation capped)
    config: SweepConfig          # the held-out runs' settings (the run's)
    one_shot: tuple[Variant, ...]
    active: tuple[Variant, ...]
    peers: tuple[Variant, ...] = PEERS
    al_peer: Variant = ASREVIEW_AL


def protocol(s: Settings, *, dev_reviews=None, dev_seeds=(0, 1, 2), dev_eval_cap: int = 400,
             candidates=None) -> Protocol:
    """The protocol for these settings. Full mode: the five development reviews fixed before any
    candidate ran (adhd screened well by Base; triptans and nsaids middling; beta_blockers and
    estrogens hard), seeds ``dev_seeds``, every candidate. Smoke mode: the first two reviews of
    the run, its seeds and one candidate of each kind. Names given override either."""
    from ..core.data import split_available

    available, _ = split_available(s.reviews, s.data_dir)
    full = s.mode == "full"
    dev = tuple(dev_reviews or (PROTOCOL_DEV_REVIEWS if full else available[:2]))
    unknown = [r for r in dev if r not in available]
    if unknown:
        raise ValueError(f"development review(s) {unknown} have no text here or are not in the run's reviews")
    chosen = candidates or (None if full else SMOKE_CANDIDATES)
    if chosen is not None:
        for name in chosen:
            candidate(name)  # an unknown name is an error naming the candidates
    picked = lambda pool: tuple(v for v in pool if chosen is None or v.name in chosen)  # noqa: E731
    cap = dev_eval_cap if s.eval_cap is None else min(dev_eval_cap, s.eval_cap)
    return Protocol(dev_reviews=dev, held_out=tuple(r for r in available if r not in dev),
                    dev_seeds=tuple(dev_seeds) if full else s.seeds, dev_config=s.sweep(eval_cap=cap),
                    config=s.sweep(), one_shot=picked(ONE_SHOT_CANDIDATES), active=picked(ACTIVE_LEARNING_CANDIDATES))


def choose(dev_rows, dev_al, p: Protocol) -> dict:
    """The protocol's selection rule: the one-shot candidate with the highest mean AWSS@95 over the
    development reviews (mean over seeds first), and likewise for active learning. Returns both
    rankings (peers included, for reference) and the names chosen."""
    from ..compute.stats import best_by_mean

    one_shot = [v.name for v in p.one_shot]
    active = [v.name for v in p.active]
    ranking = best_by_mean(dev_rows, one_shot + [v.name for v in p.peers])
    al_ranking = best_by_mean(dev_al, active + [p.al_peer.name])
    return {"ranking": ranking, "al_ranking": al_ranking,
            "chosen": next(v for v in ranking["variant"] if v in one_shot),
            "chosen_al": next(v for v in al_ranking["variant"] if v in active)}


def chosen_recipes(s: Settings, results_path, *, scheduler=None) -> dict:
    """Notebook 08's choices (one-shot and active learning) for these settings, by its protocol
    and selection rule over its development rows (read from the results table; computed only
    where notebook 08 has not run with these settings)."""
    from .experiment import sweep

    p = protocol(s)
    dev_rows = sweep(p.dev_config, list(p.dev_reviews), list(p.dev_seeds), p.peers + p.one_shot, results_path,
                     scheduler=scheduler, progress=False)
    dev_al = sweep(p.dev_config, list(p.dev_reviews), list(p.dev_seeds), (p.al_peer,) + p.active, results_path,
                   scheduler=scheduler, progress=False)
    return choose(dev_rows, dev_al, p)
