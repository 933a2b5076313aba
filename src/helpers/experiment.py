"""The one orchestrator: review x seed x variant -> a plain record of numbers and settings,
appended to a results table on disk that the notebooks read.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from .compress import quantize_int4, wanda_prune
from .contrastive import TrainingArgs, train_lora
from .data import load_review
from .encoder import Encoder
from .fewshot import Split, fewshot_split
from .io import atomic_path
from .metrics import work_saved

FEW_EVAL_POSITIVES = 5  # below this many included documents left for evaluation, flag the row


@dataclass
class ReviewData:
    """One review's table and its seeded few-shot split (with the optional evaluation cap)."""

    slug: str
    table: pd.DataFrame
    split: Split
    seed: int
    eval_cap: int | None

    @property
    def train(self) -> pd.DataFrame:
        return self.table.iloc[self.split.train]

    @property
    def eval(self) -> pd.DataFrame:
        return self.table.iloc[self.split.eval]


def prepare_review(slug: str, seed: int, n_per_class: int = 8, eval_cap: int | None = None,
                   data_dir=None, sep_token: str = "[SEP]") -> ReviewData:
    """Load, split (seeded), and cap the evaluation set near ``eval_cap`` citations by
    subsampling excluded ones only: included documents are never dropped, and at least
    ``eval_cap // 2`` excluded ones are kept so a review rich in included documents still
    has a meaningful negative class (the set may then exceed the cap). The excluded ones kept
    follow one fixed random order of the review, whatever the seed: seeds vary the training
    draw, and the evaluation sets of different seeds overlap (so their embeddings are reused)."""
    table = load_review(slug, data_dir, sep_token)
    split = fewshot_split(table["label"].to_numpy(), n_per_class, seed)
    if eval_cap is not None and len(split.eval) > eval_cap:
        labels = table["label"].to_numpy()[split.eval]
        pos, neg = split.eval[labels == 1], split.eval[labels == 0]
        keep_neg = max(eval_cap - len(pos), eval_cap // 2)
        fixed_order = np.random.default_rng(7919).permutation(len(table))
        rank = np.empty(len(table), dtype=int)
        rank[fixed_order] = np.arange(len(table))
        neg = np.sort(neg[np.argsort(rank[neg], kind="stable")][:keep_neg])
        split = Split(train=split.train, eval=np.sort(np.concatenate([pos, neg])))
    return ReviewData(slug, table, split, seed, eval_cap)


@dataclass
class Scored:
    """What one encoder variant produced on a review: embeddings, classifier, scores, metric."""

    variant: str
    train_emb: np.ndarray
    eval_emb: np.ndarray
    classifier: LogisticRegression
    scores: np.ndarray
    record: dict = field(default_factory=dict)


def fit_classifier(train_emb: np.ndarray, train_labels, seed: int) -> LogisticRegression:
    """Phase 2: logistic regression on the 16 training embeddings."""
    return LogisticRegression(max_iter=2000, random_state=seed).fit(train_emb, train_labels)


def score_variant(encoder: Encoder, data: ReviewData, variant: str,
                  classifier: LogisticRegression | None = None, progress: bool = True) -> Scored:
    """Embed train+eval with ``encoder``, fit (or reuse) the classifier, compute AWSS/WSS@95.

    Passing ``classifier`` scores a compressed or composed encoder with the logistic
    regression fitted after phase 1, as the study does.
    """
    start = time.perf_counter()
    train_emb = encoder.embed(data.train["text"].tolist(), progress=progress)
    eval_emb = encoder.embed(data.eval["text"].tolist(), progress=progress)
    embed_seconds = time.perf_counter() - start
    clf = classifier or fit_classifier(train_emb, data.train["label"].to_numpy(), data.seed)
    scores = clf.predict_proba(eval_emb)[:, 1]
    labels = data.eval["label"].to_numpy()
    ws = work_saved(labels, scores)
    record = {
        "review": data.slug, "variant": variant, "seed": data.seed, "encoder": encoder.name,
        "pooling": encoder.pooling, "max_length": encoder.max_length,
        "n_train": len(data.split.train), "n_eval": len(labels), "n_eval_included": int(labels.sum()),
        "eval_cap": data.eval_cap if data.eval_cap is not None else -1,
        "few_eval_included": bool(labels.sum() < FEW_EVAL_POSITIVES),
        **{k: v for k, v in ws.as_dict().items() if k not in ("n_pos", "n_neg")},
        "embed_seconds": embed_seconds,
    }
    return Scored(variant, train_emb, eval_emb, clf, scores, record)


@dataclass
class ReviewRun:
    data: ReviewData
    base: Scored
    lora: Scored
    adapted: Encoder  # the encoder after phase 1

    @property
    def records(self) -> list[dict]:
        return [self.base.record, self.lora.record]


def run_review(slug: str, seed: int, encoder: Encoder, args: TrainingArgs = TrainingArgs(),
               n_per_class: int = 8, eval_cap: int | None = None, data_dir=None,
               progress: bool = True) -> ReviewRun:
    """Base and LoRA (phase 1 + phase 2) for one review and seed; each record carries its
    settings and timings.

    The layers LoRA leaves untouched are computed once per text and cached (``prefix_layers``),
    so Base and every seed's adapter share them."""
    data = prepare_review(slug, seed, n_per_class, eval_cap, data_dir, encoder.sep_token)
    encoder = copy.copy(encoder)
    encoder.prefix_layers = encoder.model.config.num_hidden_layers - args.last_n_layers
    base = score_variant(encoder, data, "base", progress=progress)
    adapted, log = train_lora(encoder, data.train["text"].tolist(), data.train["label"].to_numpy(),
                              seed=seed, args=args, progress=progress)
    lora = score_variant(adapted, data, "lora", progress=progress)
    lora.record.update(train_seconds=log["train_seconds"], final_loss=log["losses"][-1],
                       trainable_parameters=log["trainable_parameters"])
    return ReviewRun(data, base, lora, adapted)


VARIANTS = ("base", "lora", "lora+int4", "lora+wanda50")


def run_compressed(run: ReviewRun, sparsity: float = 0.5, progress: bool = True) -> list[Scored]:
    """LoRA + 4-bit and LoRA + Wanda pruning (calibrated on the training texts), each scored
    with the logistic regression fitted after phase 1, as the study does."""
    clf = run.lora.classifier
    start = time.perf_counter()
    quantized = quantize_int4(run.adapted)
    int4 = score_variant(quantized, run.data, "lora+int4", classifier=clf, progress=progress)
    int4.record["compress_seconds"] = time.perf_counter() - start - int4.record["embed_seconds"]
    start = time.perf_counter()
    pruned = wanda_prune(run.adapted, run.data.train["text"].tolist(), sparsity)
    pruned.prefix_layers = 0  # its prefix is specific to this seed's calibration: not worth caching
    wanda = score_variant(pruned, run.data, f"lora+wanda{round(sparsity * 100)}", classifier=clf, progress=progress)
    wanda.record["compress_seconds"] = time.perf_counter() - start - wanda.record["embed_seconds"]
    return [int4, wanda]


def sweep(reviews: list[str], seeds: list[int], encoder: Encoder, results_path: Path,
          args: TrainingArgs = TrainingArgs(), eval_cap: int | None = None, data_dir=None,
          progress: bool = True) -> pd.DataFrame:
    """Every review x seed x variant of notebook 05; rows already in the results table are
    skipped, so an interrupted or repeated run only does what is missing."""
    from tqdm import tqdm

    todo = [(r, s) for r in reviews for s in seeds
            if not all(done(read_results(results_path), r, v, s, encoder.name, encoder.max_length, eval_cap)
                       for v in VARIANTS)]
    for slug, seed in tqdm(todo, desc="reviews x seeds", disable=not progress):
        run = run_review(slug, seed, encoder, args, eval_cap=eval_cap, data_dir=data_dir, progress=False)
        records = run.records + [v.record for v in run_compressed(run, progress=False)]
        append_results(results_path, records)
    return read_results(results_path)


# ---------------------------------------------------------------- results table

KEY_COLUMNS = ["review", "variant", "seed", "encoder", "max_length", "eval_cap"]


def read_results(path: Path) -> pd.DataFrame:
    path = Path(path)
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=KEY_COLUMNS)


def append_results(path: Path, records: list[dict]) -> pd.DataFrame:
    """Add (or replace, by key) rows: one per review x variant x seed x setting.
    Written to a temp file and renamed, so a killed run never truncates the table."""
    path = Path(path)
    new = pd.DataFrame(records)
    old = read_results(path)
    table = pd.concat([old, new], ignore_index=True) if len(old) else new
    table = table.drop_duplicates(subset=KEY_COLUMNS, keep="last").reset_index(drop=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return table


def done(results: pd.DataFrame, review: str, variant: str, seed: int, encoder: str,
         max_length: int, eval_cap: int | None) -> bool:
    """Whether this row is already in the table, so a re-run skips it."""
    if results.empty:
        return False
    cap = eval_cap if eval_cap is not None else -1
    m = ((results["review"] == review) & (results["variant"] == variant) & (results["seed"] == seed)
         & (results["encoder"] == encoder) & (results["max_length"] == max_length)
         & (results["eval_cap"] == cap))
    return bool(m.any())

