"""The one orchestrator: review × seed × variant → a plain record of numbers and settings,
appended to the results table (``helpers.results``) that the notebooks read.

A ``Trial`` is one review and seed: its split, Base, phase 1 and LoRA, each computed once when
a variant first asks for it. A ``Variant`` names a way to score the evaluation set and the
settings that identify its numbers; the study's four are here, the peers in
``helpers.peers``. ``sweep`` runs the (review, seed) tasks whose rows are missing, in-process
or on a Dask scheduler (``helpers.distributed``); only the driver writes the table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from . import results
from .config import machine_description
from .contrastive import TrainingArgs, train_lora
from .data import load_review
from .encoder import Encoder, load_encoder
from .fewshot import Split, fewshot_split
from .metrics import work_saved

FEW_EVAL_POSITIVES = 5  # below this many included documents left for evaluation, flag the row
EVAL_ORDER_SEED = 7919  # the one fixed order in which a capped evaluation set keeps excluded rows


@dataclass(frozen=True)
class SweepConfig:
    """Everything besides review and seed that a sweep's numbers depend on. Hashable and
    picklable, so Dask workers can load the same encoder from it."""

    encoder: str = "auto"
    normalize: str | bool = "auto"
    device: str = "auto"
    max_length: int | None = None    # None: 512, or the encoder's own lower limit
    training: TrainingArgs = TrainingArgs()
    n_per_class: int = 8
    eval_cap: int | None = None
    data_dir: str | None = None
    sparsity: float = 0.5            # Wanda
    head_c: float = 1.0              # logistic regression's inverse regularisation
    reviews: tuple[str, ...] | None = None  # the run's reviews (None: every one with text), e.g. whose
                                            # skills a leave-one-out composition draws on

    def head_settings(self) -> dict:
        return {"head": "logistic_regression", "C": self.head_c, "max_iter": 2000}


def config_from(s, **changes) -> SweepConfig:
    """The sweep settings of a run's ``Settings`` (helpers.config), with any changes."""
    training = TrainingArgs()
    if s.phase1_pairs is not None:
        training = replace(training, n_positive=s.phase1_pairs // 2, n_negative=s.phase1_pairs - s.phase1_pairs // 2)
    if s.phase1_epochs is not None:
        training = replace(training, epochs=s.phase1_epochs)
    base = dict(encoder=s.encoder, normalize=s.normalize, device=s.device, max_length=s.max_length,
                training=training, eval_cap=s.eval_cap, data_dir=s.data_dir, reviews=s.reviews)
    return SweepConfig(**{**base, **changes})


@lru_cache(maxsize=4)
def encoder_for(config: SweepConfig) -> Encoder:
    """The encoder a sweep uses, loaded once per process (notebooks, the driver and each
    Dask worker share this), with the frozen-prefix cache below the layers LoRA adapts."""
    enc = load_encoder(config.encoder, normalize=config.normalize, device=config.device, max_length=config.max_length)
    return replace(enc, prefix_layers=min(config.training.adapted_layers(enc.model.config.num_hidden_layers)))


# ---------------------------------------------------------------- data

@dataclass(frozen=True)
class ReviewData:
    """One review's table and its seeded few-shot split (with the optional evaluation cap)."""

    slug: str
    table: pd.DataFrame
    split: Split
    seed: int
    n_per_class: int
    eval_cap: int | None

    @property
    def train(self) -> pd.DataFrame:
        return self.table.iloc[self.split.train]

    @property
    def eval(self) -> pd.DataFrame:
        return self.table.iloc[self.split.eval]

    @property
    def checksum(self) -> str:
        return self.table.attrs["checksum"]


def prepare_review(slug: str, seed: int, *, n_per_class: int = 8, eval_cap: int | None = None,
                   data_dir=None, sep_token: str = "[SEP]") -> ReviewData:
    """Load, split (seeded), and cap the evaluation set near ``eval_cap`` citations by
    subsampling excluded ones only: included documents are never dropped, and at least
    ``eval_cap // 2`` excluded ones are kept so a review rich in included documents still
    has a meaningful negative class (the set may then exceed the cap). The excluded ones kept
    follow one fixed random order of the review, whatever the seed: seeds vary the training
    draw, and the evaluation sets of different seeds overlap (so their embeddings are reused)."""
    if eval_cap is not None and eval_cap < 2:
        raise ValueError(f"eval_cap must be at least 2 (one citation per class), got {eval_cap}")
    table = load_review(slug, data_dir, sep_token)
    split = fewshot_split(table["label"].to_numpy(), n_per_class=n_per_class, seed=seed)
    if eval_cap is not None and len(split.eval) > eval_cap:
        labels = table["label"].to_numpy()[split.eval]
        pos, neg = split.eval[labels == 1], split.eval[labels == 0]
        keep_neg = max(eval_cap - len(pos), eval_cap // 2)
        fixed_order = np.random.default_rng(EVAL_ORDER_SEED).permutation(len(table))
        rank = np.empty(len(table), dtype=int)
        rank[fixed_order] = np.arange(len(table))
        neg = np.sort(neg[np.argsort(rank[neg], kind="stable")][:keep_neg])
        split = Split(train=split.train, eval=np.sort(np.concatenate([pos, neg])))
    return ReviewData(slug, table, split, seed, n_per_class, eval_cap)


# ---------------------------------------------------------------- scoring

@dataclass
class Scored:
    """What one variant produced on a review's evaluation set: a score per record (higher =
    more likely included), the stages' timings, and for embedding methods the embeddings and
    the fitted classifier (so compressed or composed encoders can reuse it)."""

    scores: np.ndarray
    timings: dict = field(default_factory=dict)
    train_emb: np.ndarray | None = None
    eval_emb: np.ndarray | None = None
    classifier: object | None = None
    extra: dict = field(default_factory=dict)


def fit_classifier(train_emb: np.ndarray, train_labels, *, seed: int, c: float = 1.0) -> LogisticRegression:
    """Phase 2: logistic regression on the 16 training embeddings."""
    return LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(train_emb, train_labels)


def score_variant(encoder: Encoder, data: ReviewData, *, classifier=None, c: float = 1.0,
                  progress: bool = True) -> Scored:
    """Embed train + eval with ``encoder``, fit (or reuse) the classifier, score the eval set.

    Passing ``classifier`` scores a compressed or composed encoder with the logistic
    regression fitted after phase 1, as the study does."""
    start = time.perf_counter()
    train_emb = encoder.embed(data.train["text"].tolist(), progress=progress)
    eval_emb = encoder.embed(data.eval["text"].tolist(), progress=progress)
    embed_seconds = time.perf_counter() - start
    clf = classifier or fit_classifier(train_emb, data.train["label"].to_numpy(), seed=data.seed, c=c)
    return Scored(scores=clf.predict_proba(eval_emb)[:, 1], timings={"embed_seconds": embed_seconds},
                  train_emb=train_emb, eval_emb=eval_emb, classifier=clf)


def metrics_record(data: ReviewData, scores: np.ndarray) -> dict:
    """AWSS@95, WSS@95 and their threshold, TPR, TNR on the evaluation set, with its size."""
    labels = data.eval["label"].to_numpy()
    ws = work_saved(labels, scores)
    return {"n_train": len(data.split.train), "n_eval": len(labels), "n_eval_included": int(labels.sum()),
            "few_eval_included": bool(labels.sum() < FEW_EVAL_POSITIVES),
            **{k: v for k, v in ws.as_dict().items() if k not in ("n_pos", "n_neg")}}


# ---------------------------------------------------------------- variants

@dataclass(frozen=True)
class Variant:
    """A way to score a review's evaluation set from its 16 training records.

    ``settings(config)`` returns what changes its numbers (it enters the row key, so it must
    be known before anything is computed); ``score(trial)`` computes. ``uses_encoder`` is False
    for methods whose numbers do not depend on the encoder (their rows serve every encoder)."""

    name: str
    settings: Callable[[SweepConfig], dict]
    score: Callable[["Trial"], Scored]
    uses_encoder: bool = True


def _base_settings(config: SweepConfig) -> dict:
    return config.head_settings()


def lora_settings(config: SweepConfig) -> dict:
    return {**config.head_settings(), "training": config.training.identity()}


def _int4_settings(config: SweepConfig) -> dict:
    return {**lora_settings(config), "compression": "int4-quanto (weight-only), LoRA kept float"}


def _wanda_settings(config: SweepConfig) -> dict:
    return {**lora_settings(config),
            "compression": {"wanda_sparsity": config.sparsity, "calibration": "training texts"}}


def _score_base(trial: Trial) -> Scored:
    return trial.base


def _score_lora(trial: Trial) -> Scored:
    return trial.lora


def _score_int4(trial: Trial) -> Scored:
    from .compress import quantize_int4

    start = time.perf_counter()
    quantized = quantize_int4(trial.adapted)
    compress_seconds = time.perf_counter() - start
    scored = score_variant(quantized, trial.data, classifier=trial.lora_classifier)
    scored.timings["compress_seconds"] = compress_seconds
    return scored


def _score_wanda(trial: Trial) -> Scored:
    from .compress import wanda_prune

    start = time.perf_counter()
    pruned = wanda_prune(trial.adapted, trial.data.train["text"].tolist(), sparsity=trial.config.sparsity)
    compress_seconds = time.perf_counter() - start
    # calibrated per seed: its prefix is specific to this run, not worth caching
    scored = score_variant(replace(pruned, prefix_layers=0), trial.data, classifier=trial.lora_classifier)
    scored.timings["compress_seconds"] = compress_seconds
    return scored


BASE = Variant("base", _base_settings, _score_base)
LORA = Variant("lora", lora_settings, _score_lora)
LORA_INT4 = Variant("lora+int4", _int4_settings, _score_int4)
LORA_WANDA = Variant("lora+wanda50", _wanda_settings, _score_wanda)
STUDY_VARIANTS = (BASE, LORA, LORA_INT4, LORA_WANDA)


# ---------------------------------------------------------------- one review × seed

class Trial:
    """One review × seed: the split, Base, phase 1 and LoRA, each computed once on first use,
    and a record per variant carrying its key, metrics and timings."""

    def __init__(self, config: SweepConfig, review: str, seed: int, *, encoder: Encoder | None = None,
                 data: ReviewData | None = None):
        self.config, self.review, self.seed = config, review, seed
        if encoder is not None:
            self.encoder = encoder
        if data is not None:  # a table split elsewhere (helpers.screen: a user's labelled records)
            self.data = data

    @cached_property
    def encoder(self) -> Encoder:
        """Loaded on first use: TF-IDF and ASReview variants never need it."""
        return encoder_for(self.config)

    @cached_property
    def data(self) -> ReviewData:
        return prepare_review(self.review, self.seed, n_per_class=self.config.n_per_class,
                              eval_cap=self.config.eval_cap, data_dir=self.config.data_dir,
                              sep_token=self.encoder.sep_token)

    @cached_property
    def base(self) -> Scored:
        return score_variant(self.encoder, self.data, c=self.config.head_c)

    @cached_property
    def phase1(self) -> tuple[Encoder, dict]:
        """The encoder after phase 1 and its training log (the adapter is cached on disk)."""
        return self.phase1_with(self.config.training)

    def phase1_with(self, args: TrainingArgs, *, start_from: Encoder | None = None) -> tuple[Encoder, dict]:
        """Phase 1 with other training arguments (or continuing ``start_from``'s adapter); the
        frozen-prefix cache starts below the lowest layer the adapter touches."""
        n_layers = self.encoder.model.config.num_hidden_layers
        lowest = min(args.adapted_layers(n_layers)) if start_from is None else start_from.prefix_layers
        encoder = replace(self.encoder, prefix_layers=lowest)
        return train_lora(encoder, self.data.train["text"].tolist(), self.data.train["label"].to_numpy(),
                          seed=self.seed, args=args, start_from=start_from)

    @property
    def adapted(self) -> Encoder:
        return self.phase1[0]

    @cached_property
    def lora(self) -> Scored:
        scored = score_variant(self.adapted, self.data, c=self.config.head_c)
        log = self.phase1[1]
        scored.timings["train_seconds"] = log["train_seconds"]
        scored.extra.update(final_loss=log["losses"][-1], trainable_parameters=log["trainable_parameters"])
        return scored

    @cached_property
    def lora_classifier(self):
        """The logistic regression fitted after phase 1, with which the study scores compressed
        and composed encoders. It needs only the 16 training embeddings, so where the LoRA row is
        not scored here (notebook 06 reads it from the table) no pass over the evaluation set is made."""
        if "lora" in self.__dict__:
            return self.lora.classifier
        train_emb = self.adapted.embed(self.data.train["text"].tolist(), progress=False)
        return fit_classifier(train_emb, self.data.train["label"].to_numpy(), seed=self.data.seed,
                              c=self.config.head_c)

    def key(self, variant: Variant) -> results.RowKey:
        return self.key_for(variant.name, variant.settings(self.config), uses_encoder=variant.uses_encoder)

    def key_for(self, name: str, settings: dict, *, uses_encoder: bool = True) -> results.RowKey:
        return row_key(self.config, self.review, self.seed, name, settings, checksum=self.data.checksum,
                       encoder=self.encoder.identity() if uses_encoder else None)

    def record(self, variant: Variant) -> dict:
        """Score with ``variant`` and return its results row (key, metrics, timings)."""
        start = time.perf_counter()
        scored = variant.score(self)
        return self.record_of(self.key(variant), scored, seconds=time.perf_counter() - start)

    def record_of(self, key: results.RowKey, scored: Scored, *, seconds: float) -> dict:
        """A results row: identity columns and key, metrics, timings (``seconds`` = wall time
        of computing it, shared work included for the first variant that asked for it)."""
        return {**key.columns(), **metrics_record(self.data, scored.scores), **scored.timings, **scored.extra,
                "seconds": seconds, "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_description()}


def run_task(config: SweepConfig, review: str, seed: int, variants: tuple[Variant, ...]) -> list[dict]:
    """One task of a sweep: the records of these variants for one review and seed."""
    trial = Trial(config, review, seed)
    return [trial.record(v) for v in variants]


# ---------------------------------------------------------------- sweeps

@lru_cache(maxsize=64)
def _data_checksum(review: str, data_dir: str | None, mtime_ns: int) -> str:
    return load_review(review, data_dir).attrs["checksum"]


def data_checksum(review: str, data_dir: str | None) -> str:
    """The review file's content checksum, computed once per file version."""
    from .data import review_path

    return _data_checksum(review, data_dir, review_path(review, data_dir).stat().st_mtime_ns)


def row_key(config: SweepConfig, review: str, seed: int, name: str, settings: dict, *, checksum: str,
            encoder: dict | None) -> results.RowKey:
    """The results key of one row of a sweep with these settings."""
    return results.make_key(review=review, data_checksum=checksum, variant=name, seed=seed,
                            n_per_class=config.n_per_class, eval_cap=config.eval_cap, settings=settings,
                            encoder=encoder)


def plan_keys(config: SweepConfig, reviews: list[str], seeds: list[int],
              variants: tuple[Variant, ...]) -> dict[tuple[str, int, str], results.RowKey]:
    """The key of every (review, seed, variant) row, known before anything is computed."""
    identity = encoder_for(config).identity()
    return {(review, seed, v.name): row_key(config, review, seed, v.name, v.settings(config),
                                             checksum=data_checksum(review, config.data_dir),
                                             encoder=identity if v.uses_encoder else None)
            for review in reviews for seed in seeds for v in variants}


def sweep(config: SweepConfig, reviews: list[str], seeds: list[int], variants: tuple[Variant, ...],
          results_path: Path, *, scheduler: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Every review × seed × variant; rows already in the results table are reused, so an
    interrupted or repeated run only computes what is missing. One task is one review and
    seed (all its missing variants, sharing the split, Base and phase 1). Returns the rows of
    exactly these keys."""
    from .distributed import run_tasks

    keys = plan_keys(config, reviews, seeds, variants)
    is_done = dict(zip(keys, results.done(results.read(results_path), list(keys.values()))))
    tasks = {}
    for (review, seed, name), finished in is_done.items():
        if not finished:
            tasks.setdefault((review, seed), []).append(next(v for v in variants if v.name == name))
    jobs = [(f"{review}, seed {seed}", run_task, (config, review, seed, tuple(vs))) for (review, seed), vs in tasks.items()]
    computed = run_tasks(jobs, results_path, scheduler=scheduler, progress=progress, desc="reviews × seeds")
    results.note_usage(reused=sum(is_done.values()), computed=computed)
    return results.select(results.read(results_path), list(keys.values()))


def summary_table(rows: pd.DataFrame, *, metric: str = "awss") -> pd.DataFrame:
    """Mean, sd and count over seeds per review and variant."""
    return rows.groupby(["review", "variant"])[metric].agg(["mean", "std", "count"]).reset_index()


# ---------------------------------------------------------------- composition of skills

def top_reviews(config: SweepConfig, reviews: list[str], seeds: list[int], results_path: Path, *,
                n: int = 5) -> pd.Series:
    """The ``n`` reviews with the best mean LoRA AWSS@95, read from the results table (notebook
    05's rows for these settings; nothing is recomputed). The mean is over every seed stored for
    these settings, at least ``seeds``, so running notebook 06 on fewer seeds than 05 composes
    the same reviews."""
    table = results.read(results_path)
    needed = list(plan_keys(config, reviews, seeds, (LORA,)).values())
    found = sum(results.done(table, needed))
    if found < len(needed):
        raise LookupError(f"{results_path} holds {found} of the {len(needed)} LoRA rows of these settings "
                          "(reviews × seeds): run notebook 05 with them first, or name the reviews")
    stored = sorted(set(seeds) | {int(s) for s in table.loc[table["variant"] == LORA.name, "seed"]})
    rows = results.select(table, list(plan_keys(config, reviews, stored, (LORA,)).values()))
    return rows.groupby("review")["awss"].mean().sort_values(ascending=False).head(n)


def composition_settings(config: SweepConfig, composition, top: list[str], *, quantile: float, rank: int) -> dict:
    return {**lora_settings(config), "composition": composition.settings(quantile=quantile, rank=rank),
            "composed_from": list(top)}


def compose_for_seed(config: SweepConfig, top: list[str], seed: int, composition, *, quantile: float,
                     rank: int, trials: dict[str, Trial] | None = None) -> tuple[dict[str, Trial], Encoder]:
    """The trials of the composed reviews for one seed (new ones unless given, so that several
    compositions share their phase-1 work) and the encoder composing their phase-1 adapters
    (adapters come from the disk cache when notebook 05 trained them)."""
    trials = trials or {r: Trial(config, r, seed) for r in top}
    composed = composition.apply([trials[r].adapted for r in top], quantile=quantile, rank=rank, seed=seed)
    return trials, composed


def run_composition_task(config: SweepConfig, top: tuple[str, ...], seed: int, names: tuple[str, ...],
                         quantile: float, rank: int) -> list[dict]:
    """One seed of notebook 06: every composition, each review scored with its own phase-1
    logistic regression (as the study does)."""
    from .compose import COMPOSITIONS

    records, trials = [], {r: Trial(config, r, seed) for r in top}
    for name in names:
        start = time.perf_counter()
        _, composed = compose_for_seed(config, list(top), seed, COMPOSITIONS[name], quantile=quantile, rank=rank,
                                       trials=trials)
        settings = composition_settings(config, COMPOSITIONS[name], list(top), quantile=quantile, rank=rank)
        for review, trial in trials.items():
            scored = score_variant(composed, trial.data, classifier=trial.lora_classifier)
            records.append(trial.record_of(trial.key_for(name, settings), scored,
                                           seconds=time.perf_counter() - start))
            start = time.perf_counter()
    return records


def compose_sweep(config: SweepConfig, top: list[str], seeds: list[int], names: list[str], results_path: Path,
                  *, quantile: float = 0.75, rank: int = 8, scheduler: str | None = None,
                  progress: bool = True) -> pd.DataFrame:
    """Every composition × seed over the ``top`` reviews (one task per seed); rows already in
    the table are reused. Returns the composition rows with the same reviews' LoRA and Base rows."""
    from .compose import COMPOSITIONS
    from .distributed import run_tasks

    identity = encoder_for(config).identity()
    keys = {(review, seed, name): row_key(config, review, seed, name,
                                          composition_settings(config, COMPOSITIONS[name], top, quantile=quantile,
                                                               rank=rank),
                                          checksum=data_checksum(review, config.data_dir), encoder=identity)
            for name in names for review in top for seed in seeds}
    is_done = dict(zip(keys, results.done(results.read(results_path), list(keys.values()))))
    todo_seeds = sorted({seed for (_, seed, _), finished in is_done.items() if not finished})
    jobs = [(f"compositions, seed {seed}", run_composition_task, (config, tuple(top), seed, tuple(names), quantile, rank))
            for seed in todo_seeds]
    computed = run_tasks(jobs, results_path, scheduler=scheduler, progress=progress, desc="seeds")
    results.note_usage(reused=sum(is_done[k] for k in is_done if k[1] not in todo_seeds), computed=computed)
    own = plan_keys(config, top, seeds, (BASE, LORA))
    return results.select(results.read(results_path), list(keys.values()) + list(own.values()))
