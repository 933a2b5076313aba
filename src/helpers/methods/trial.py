"""One review × seed: its few-shot split and what the variants scored on it share.

A ``Trial`` computes each shared piece once, on first use — the encoder, the split, the Base
embeddings, phase 1 and the phase-1 embeddings — so a sweep task that scores several variants
of one review and seed trains and embeds once. ``Trial.record(variant)`` is one results row:
the row key (``helpers.core.results``: review, data checksum, split, encoder identity and
``variant.settings``), the metrics, the timings.

No torch at import: TF-IDF and ASReview variants run on a Trial without ever loading an encoder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from ..core import results
from ..core.config import SweepConfig, TrainingArgs
from ..core.project import machine_description
from ..core.data import load_review
from ..compute.fewshot import Split, fewshot_split
from ..compute.metrics import work_saved

FEW_EVAL_POSITIVES = 5  # below this many included documents left for evaluation, flag the row
EVAL_ORDER_SEED = 7919  # the one fixed order in which a capped evaluation set keeps excluded rows


@lru_cache(maxsize=4)
def encoder_for(config: SweepConfig):
    """The encoder a sweep uses, loaded once per process (notebooks, the driver and each Dask
    worker share it), with the frozen-prefix cache below the layers LoRA adapts."""
    from ..models.encoder import load_encoder

    enc = load_encoder(config.encoder, normalize=config.normalize, device=config.device, max_length=config.max_length)
    return replace(enc, prefix_layers=min(config.training.adapted_layers(enc.n_layers)))


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
    def train_labels(self) -> np.ndarray:
        return self.train["label"].to_numpy()

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


# ---------------------------------------------------------------- what a variant produces

@dataclass(frozen=True)
class Embedded:
    """A review's training and evaluation citations embedded by one encoder, and the seconds
    that took (0 where every vector came from the disk cache quickly)."""

    train: np.ndarray
    eval: np.ndarray
    seconds: float


def embed_split(encoder, data: ReviewData, *, progress: bool = True) -> Embedded:
    start = time.perf_counter()
    train = encoder.embed(data.train["text"].tolist(), progress=progress)
    evaluation = encoder.embed(data.eval["text"].tolist(), progress=progress)
    return Embedded(train, evaluation, time.perf_counter() - start)


@dataclass
class Scored:
    """What one variant produced on a review's evaluation set: a score per record (higher =
    more likely included), the stages' timings, and any further columns of its row."""

    scores: np.ndarray
    timings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def metrics_record(data: ReviewData, scores: np.ndarray) -> dict:
    """AWSS@95, WSS@95 and their threshold, TPR, TNR on the evaluation set, with its size."""
    labels = data.eval["label"].to_numpy()
    ws = work_saved(labels, scores)
    return {"n_train": len(data.split.train), "n_eval": len(labels), "n_eval_included": int(labels.sum()),
            "few_eval_included": bool(labels.sum() < FEW_EVAL_POSITIVES),
            **{k: v for k, v in ws.as_dict().items() if k not in ("n_pos", "n_neg")}}


def row_key(config: SweepConfig, review: str, seed: int, variant, *, checksum: str,
            encoder: dict | None) -> results.RowKey:
    """The results key of one row: ``encoder`` is ``Encoder.identity()``, or None for a variant
    whose numbers do not depend on the encoder (its rows then serve every encoder)."""
    return results.make_key(review=review, data_checksum=checksum, variant=variant.name, seed=seed,
                            n_per_class=config.n_per_class, eval_cap=config.eval_cap,
                            settings=variant.settings(config, review), encoder=encoder)


# ---------------------------------------------------------------- one review × seed

class Trial:
    """One review × seed: the split, Base, phase 1 and LoRA, each computed once on first use."""

    def __init__(self, config: SweepConfig, review: str, seed: int, *, encoder=None, data: ReviewData | None = None):
        self.config, self.review, self.seed = config, review, seed
        self._phase1: dict[TrainingArgs, tuple] = {}
        self._classifiers: dict = {}
        if encoder is not None:
            self.encoder = encoder
        if data is not None:  # a table split elsewhere (helpers.commands.screen_rank: a user's labelled records)
            self.data = data

    @cached_property
    def encoder(self):
        """Loaded on first use: TF-IDF and ASReview variants never need it."""
        return encoder_for(self.config)

    @cached_property
    def data(self) -> ReviewData:
        return prepare_review(self.review, self.seed, n_per_class=self.config.n_per_class,
                              eval_cap=self.config.eval_cap, data_dir=self.config.data_dir,
                              sep_token=self.encoder.sep_token)

    def other(self, review: str) -> Trial:
        """The same seed and settings on another review, sharing this trial's encoder (whose
        phase-1 adapter a composition of skills draws on)."""
        return Trial(self.config, review, self.seed, encoder=self.encoder)

    @cached_property
    def base_embeddings(self) -> Embedded:
        return embed_split(self.encoder, self.data)

    def phase1_with(self, args: TrainingArgs, *, start_from=None) -> tuple:
        """The encoder after phase 1 with these arguments (or continuing ``start_from``'s
        adapter) and its training log; the adapter is cached on disk, and in this trial. The
        frozen-prefix cache starts below the lowest layer the adapter touches."""
        if start_from is None and args in self._phase1:
            return self._phase1[args]
        from ..models.contrastive import train_lora

        lowest = min(args.adapted_layers(self.encoder.n_layers)) if start_from is None else start_from.prefix_layers
        encoder = replace(self.encoder, prefix_layers=lowest)
        out = train_lora(encoder, self.data.train["text"].tolist(), self.data.train_labels, seed=self.seed,
                         args=args, start_from=start_from)
        if start_from is None:
            self._phase1[args] = out
        return out

    @property
    def phase1(self) -> tuple:
        """Phase 1 with the sweep's training arguments: (adapted encoder, training log)."""
        return self.phase1_with(self.config.training)

    @property
    def adapted(self):
        return self.phase1[0]

    @cached_property
    def lora_train_embeddings(self) -> np.ndarray:
        return self.adapted.embed(self.data.train["text"].tolist(), progress=False)

    @cached_property
    def lora_embeddings(self) -> Embedded:
        start = time.perf_counter()
        evaluation = self.adapted.embed(self.data.eval["text"].tolist())
        return Embedded(self.lora_train_embeddings, evaluation, time.perf_counter() - start)

    def lora_classifier(self, head):
        """``head`` fitted on the 16 phase-1 training embeddings: the classifier with which the
        study scores compressed and composed encoders. It needs no pass over the evaluation set."""
        if head not in self._classifiers:
            self._classifiers[head] = head.fit(self.lora_train_embeddings, self.data.train_labels, seed=self.seed)
        return self._classifiers[head]

    def key(self, variant) -> results.RowKey:
        return row_key(self.config, self.review, self.seed, variant, checksum=self.data.checksum,
                       encoder=self.encoder.identity() if variant.uses_encoder else None)

    def record(self, variant, *, scored: Scored | None = None, seconds: float | None = None) -> dict:
        """Score with ``variant`` (or take what it ``scored`` in ``seconds``) and return its results
        row: identity columns and key, metrics, timings (``seconds`` = wall time of computing it,
        shared work included for the first variant that asked for it)."""
        start = time.perf_counter()
        scored = variant.score(self) if scored is None else scored
        return {**self.key(variant).columns(), **metrics_record(self.data, scored.scores), **scored.timings,
                **scored.extra, "seconds": time.perf_counter() - start if seconds is None else seconds,
                "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_description()}
