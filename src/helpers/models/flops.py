"""Floating-point operations of the study's torch work: counted, not estimated.

torch's ``FlopCounterMode`` counts every matrix product that executes (2·m·n·k each; attention
through the CPU attention kernel, which torch's own table lacks and ``SDPA`` adds), for a few text
lengths of the encoder actually run. A BERT forward's count is exactly quadratic in a text's
length (linear layers ∝ L, attention ∝ L²), so three lengths give every other one
(``LengthCost``). A review's inference FLOPs then follow the embedding's own batching — texts
sorted by length, batches of 32 padded to their longest — and phase 1's follow its own batches
(the 16 training texts padded to their longest; each step embeds its distinct texts, forward and
backward; AdamW's update has no matrix product and counts 0). Elementwise work (layer norms,
activations) is not a matrix product and is not counted, as in the study's own accounting.

A FLOP count depends only on the architecture, the token lengths and the schedule, so it is
derived for stored rows without recomputing them: each variant counts its own
(``Variant.flops``) from a ``RowWork`` — the row's review × seed, what it read from its sweep,
the encoder's per-length costs (``FlopCounts``) and the split's token counts (``SplitTokens``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

COUNTING_LENGTHS = (16, 32, 64)      # three lengths fix the quadratic exactly


def _sdpa_mapping() -> dict:
    """FLOP formulas for the CPU attention kernel and its backward (torch's table has the CUDA ones)."""
    import torch
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    aten = torch.ops.aten
    return {aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, **kw: sdpa_flop_count(q, k, v),
            aten._scaled_dot_product_flash_attention_for_cpu_backward:
                lambda grad, q, k, v, *a, **kw: sdpa_backward_flop_count(grad, q, k, v)}


def count_flops(work: Callable[[], object]) -> int:
    """Matrix-product FLOPs of running ``work`` once."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_sdpa_mapping()) as counter:
        work()
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class LengthCost:
    """FLOPs of one text of L tokens: quadratic·L² + linear·L + constant (exact for BERT)."""

    quadratic: float
    linear: float
    constant: float

    def __call__(self, length) -> np.ndarray:
        length = np.asarray(length, dtype=float)
        return self.quadratic * length ** 2 + self.linear * length + self.constant

    @classmethod
    def fit(cls, lengths, flops) -> LengthCost:
        """The quadratic through three counted (length, FLOPs) points."""
        if len(lengths) != 3:
            raise ValueError("three lengths fix a quadratic")
        return cls(*np.linalg.solve(np.vander(np.asarray(lengths, dtype=float), 3), np.asarray(flops, dtype=float)))


def token_batch(encoder, n: int, length: int) -> dict:
    import torch

    ids = torch.full((n, length), 5, dtype=torch.long)
    ids[:, 0] = encoder.tokenizer.cls_token_id or 0
    return {"input_ids": ids.to(encoder.device), "attention_mask": torch.ones_like(ids).to(encoder.device)}


def forward_cost(encoder, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of embedding one text, as a function of its length."""
    import torch

    def flops(length: int) -> int:
        batch = token_batch(encoder, 1, length)
        with torch.no_grad():
            return count_flops(lambda: encoder.model(**batch))

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def training_cost(encoder, args, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of one phase-1 text in a training step (forward and backward through a fresh
    LoRA adapter of ``args``), as a function of its length: a step of 2 pairs over 4 texts / 4."""
    from .contrastive import make_optimizer, training_step, with_lora

    adapted = with_lora(encoder, args, seed=0)
    adapted.model.train()
    optimizer = make_optimizer(adapted.model, args)
    pairs = np.array([(0, 1, 1), (2, 3, 0)])

    def flops(length: int) -> float:
        batch = token_batch(encoder, 4, length)
        return count_flops(lambda: training_step(adapted, batch, pairs, optimizer, args)) / 4

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def distillation_cost(student, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of one text in a distillation step (forward and backward through the whole
    student body; AdamW's update has no matrix product), as a function of its length."""
    import copy

    import torch

    from .distill import distillation_step

    model = copy.deepcopy(student.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def flops(length: int) -> float:
        batch = token_batch(student, 4, length)
        target = torch.zeros(2, device=student.device)
        return count_flops(lambda: distillation_step(student, model, batch, [0, 2], [1, 3], target, optimizer)) / 4

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def distillation_flops(cost: LengthCost, pool_token_counts, args, *, max_length: int) -> float:
    """FLOPs of distilling a student on a pool of texts as ``distill.distill`` runs it: the same
    seeded pairs, each step embedding its distinct texts padded to their longest."""
    from .distill import pair_draws

    tokens = np.minimum(np.asarray(pool_token_counts), max_length)
    return float(sum(len(used) * cost(tokens[used].max()) for _, _, used in pair_draws(len(tokens), args)))


def embedding_flops(cost: LengthCost, token_counts, *, max_length: int, batch_size: int = 32) -> float:
    """FLOPs of embedding texts of these token counts as ``Encoder.embed`` batches them: truncated
    at ``max_length``, sorted longest first, batches of ``batch_size`` padded to their longest."""
    lengths = np.sort(np.minimum(np.asarray(token_counts), max_length))[::-1]
    longest = lengths[::batch_size]
    sizes = np.diff(np.r_[np.arange(0, len(lengths), batch_size), len(lengths)])
    return float(np.sum(sizes * cost(longest)))


def phase1_flops(cost: LengthCost, train_token_counts, train_labels, args, *, seed: int, max_length: int) -> float:
    """FLOPs of phase 1 on a review's 16 as ``contrastive.train_lora`` runs it: the same pairs and
    batches (seeded), every step embedding its distinct texts padded to the longest of the 16."""
    from ..compute.fewshot import all_pairs, make_pairs, stratified_batches

    labels = np.asarray(train_labels)
    pairs = (all_pairs(labels) if args.pairs == "all"
             else make_pairs(labels, n_positive=args.n_positive, n_negative=args.n_negative, seed=seed))
    length = min(int(np.max(train_token_counts)), max_length)
    texts = sum(len(np.unique(batch[:, :2])) for epoch in range(args.epochs)
                for batch in stratified_batches(pairs, batch_size=args.batch_size, seed=seed * 1000 + epoch))
    return float(texts * cost(length))


class FlopCounts:
    """Counted per-length costs of one encoder, computed once each: its forward, a forward through
    a LoRA adapter of given arguments, a phase-1 text with given arguments, a text of full
    fine-tuning (setfit), a student's forward and a student's distillation text."""

    def __init__(self, encoder):
        self.encoder = encoder
        self._memo: dict = {}

    def _get(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def base(self) -> LengthCost:
        return self._get("base", lambda: forward_cost(self.encoder))

    def adapted(self, args) -> LengthCost:
        from .contrastive import with_lora

        return self._get(("adapted", args), lambda: forward_cost(with_lora(self.encoder, args, seed=0)))

    def training(self, args) -> LengthCost:
        return self._get(("training", args), lambda: training_cost(self.encoder, args))

    def fine_tuning(self) -> LengthCost:
        return self._get("fine_tuning", lambda: fine_tuning_cost(self.encoder))

    def student(self, layers: int) -> LengthCost:
        from .distill import student_of

        return self._get(("student", layers), lambda: forward_cost(student_of(self.encoder, layers)))

    def distillation(self, layers: int) -> LengthCost:
        from .distill import student_of

        return self._get(("distillation", layers), lambda: distillation_cost(student_of(self.encoder, layers)))


class Flops(NamedTuple):
    """What screening one review × seed with a method costs in counted operations, from scratch:
    its training and inference FLOPs, what the count covers (``counted``; "not measured" with NaN
    where nothing counts it), the part of training that is a teacher embedding the pool
    (embedding work, priced at the embedding phase's rate), and the parts of training and of
    inference that are sparse arithmetic (``helpers.compute.sparse_flops``: priced by the seconds
    the row recorded, not at an encoder's FLOP rate)."""

    train: float
    inference: float
    counted: str
    teacher_pass: float = 0.0
    sparse_train: float = 0.0
    sparse_inference: float = 0.0


NOT_MEASURED = Flops(float("nan"), float("nan"), "not measured (no torch model)")


class SplitTokens(NamedTuple):
    """Token counts of one review × seed's split."""

    train: np.ndarray    # the training texts', in the split's order
    eval: np.ndarray     # the evaluation texts', in the split's order
    labels: np.ndarray   # the training labels
    pool: np.ndarray     # training and evaluation texts in table order: what a student is distilled on


@dataclass(frozen=True)
class RowWork:
    """One stored row as a variant's ``flops`` sees it: the review × seed, what the row read from
    its sweep (its stored settings: phase 1's arguments, the reviews it composed), the encoder's
    per-length costs and the split's token counts. An encoder's work follows from these without
    re-running anything; a method whose work is not a torch model's (TF-IDF, ASReview, setfit's
    own loop) asks ``replayed`` for what re-running it with its work watched recorded (stored)."""

    review: str
    seed: int
    settings: dict
    counts: FlopCounts
    split_tokens: Callable  # (review, seed) -> SplitTokens
    replayed: Callable | None = None  # (variant) -> its ``replay`` of this row; None: nothing re-runs

    def replay(self, variant) -> dict | None:
        """What ``variant.replay`` recorded on this row's review × seed (None where no replay is given)."""
        return None if self.replayed is None else self.replayed(variant)

    @property
    def split(self) -> SplitTokens:
        return self.split_tokens(self.review, self.seed)

    def training(self):
        """Phase 1's arguments as the row stored them."""
        from ..core.config import TrainingArgs

        return TrainingArgs.from_identity(self.settings["training"])

    def embedded(self, per_text: LengthCost, token_counts=None) -> float:
        """FLOPs of embedding texts (default: the split's training and evaluation texts)."""
        max_length = self.counts.encoder.max_length
        if token_counts is not None:
            return embedding_flops(per_text, token_counts, max_length=max_length)
        split = self.split
        return (embedding_flops(per_text, split.train, max_length=max_length)
                + embedding_flops(per_text, split.eval, max_length=max_length))

    def phase1(self, args, *, review: str | None = None) -> float:
        """FLOPs of phase 1 with ``args`` on this seed's split of ``review`` (default: the row's)."""
        tokens = self.split_tokens(review or self.review, self.seed)
        return phase1_flops(self.counts.training(args), tokens.train, tokens.labels, args, seed=self.seed,
                            max_length=self.counts.encoder.max_length)

    def with_settings(self, settings: dict) -> "RowWork":
        """The same review × seed seen by a nested variant (its own part of the stored settings)."""
        from dataclasses import replace

        return replace(self, settings=settings)


def fine_tuning_cost(encoder, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of one text in a full fine-tuning step (forward and backward through every
    weight of the encoder, as setfit trains its body), as a function of its length."""
    import copy

    model = copy.deepcopy(encoder.model).train()
    for parameter in model.parameters():
        parameter.requires_grad_(True)

    def flops(length: int) -> float:
        batch = token_batch(encoder, 2, length)
        return count_flops(lambda: model(**batch).last_hidden_state.sum().backward()) / 2

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


FORWARD_COLUMNS = ("phase", "texts", "length", "gradients")


class ForwardLog:
    """Every forward a transformer ran while watched (``watching``): the phase it was in (set by
    the caller: ``train`` or ``inference``), the texts, their padded length and whether gradients
    were on — what a library's own training loop did, in the shapes FLOPs follow from
    (``forward_flops``). Stored as its ``table``, so a better count needs no re-run."""

    def __init__(self):
        self.phase = "train"
        self.calls: list[tuple[str, int, int, bool]] = []

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.calls, columns=list(FORWARD_COLUMNS))


def forward_flops(table, forward: LengthCost, fine_tuning: LengthCost) -> dict[str, float]:
    """Counted FLOPs per phase of a ``ForwardLog.table``: each text a forward, or with gradients a
    fine-tuning step."""
    out: dict[str, float] = {}
    for phase, texts, length, grad in table[list(FORWARD_COLUMNS)].itertuples(index=False, name=None):
        out[phase] = out.get(phase, 0.0) + texts * float((fine_tuning if grad else forward)(length))
    return out


@contextmanager
def watching(model, log: ForwardLog, *, compute: bool = True):
    """Record every forward of the transformer ``model`` into ``log``. ``compute=False`` replays
    without the encoder's work: the forward returns the token embeddings (a lookup, no matrix
    product, still tied to a weight so the training loop's backward and optimiser run), which
    leaves every shape — the library's pairs, batches and padding — as the real run has them."""
    import torch
    from transformers.modeling_outputs import BaseModelOutput

    original = model.forward

    def forward(*args, **kwargs):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        log.calls.append((log.phase, int(ids.shape[0]), int(ids.shape[1]), torch.is_grad_enabled()))
        if compute:
            return original(*args, **kwargs)
        return BaseModelOutput(last_hidden_state=model.get_input_embeddings()(ids))

    model.forward = forward
    try:
        yield log
    finally:
        del model.forward
