"""The study's variants: Base, LoRA (phase 1), LoRA + 4-bit and LoRA + Wanda, each a frozen
dataclass whose fields are its settings (the contract: ``helpers.methods.variant``). The
composition of several reviews' skills is in ``helpers.methods.skills``, distilled students in
``helpers.methods.distilled``. No torch at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, ClassVar

from ..core.config import SweepConfig, TrainingArgs, knob, require
from .heads import Head, LogisticHead, head_scores
from .variant import Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, RowWork
    from .trial import Scored, Trial


@dataclass(frozen=True)
class Base(Variant):
    """The encoder without phase 1, then the head."""

    reader_label: ClassVar[str] = "Base"
    head: Head = knob(LogisticHead(), "phase 2's classifier")

    @property
    def name(self) -> str:
        return "base" + self.head.suffix


    def embeddings(self, trial: Trial):
        return trial.base_embeddings

    def flops(self, work: RowWork) -> Flops:
        from ..models.flops import Flops

        return Flops(0.0, work.embedded(work.counts.base()), "counted")

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        return encoder

    def score(self, trial: Trial) -> Scored:
        from .trial import Scored

        emb = trial.base_embeddings
        return Scored(head_scores(self.head, emb, trial.data.train_labels, seed=trial.seed),
                      timings={"embed_seconds": emb.seconds})


CHANGE_NAMES = {"learning_rate": "lr{:g}", "pairs": "{}-pairs", "epochs": "{}-epochs", "layers": "{}-layers"}


@dataclass(frozen=True)
class Lora(Variant):
    """Phase 1 (contrastive LoRA on the 16), then the head on the adapted encoder's embeddings.
    ``changes`` alters phase 1's arguments from the sweep's; the key holds the arguments that
    result, so two ways of naming the same recipe share their rows."""

    reader_label: ClassVar[str] = "LoRA (study)"
    head: Head = knob(LogisticHead(), "phase 2's classifier")
    changes: tuple[tuple[str, object], ...] = knob((), "phase-1 arguments changed from the sweep's, e.g. "
                                                       "(('learning_rate', 0.002),)", key=False)

    def __post_init__(self):
        names = {f.name for f in fields(TrainingArgs)}
        unknown = [k for k, _ in self.changes if k not in names]
        require(not unknown, f"Lora.changes names {unknown}, which are not phase-1 arguments ({sorted(names)})")
        replace(TrainingArgs(), **dict(self.changes))  # each value checked by TrainingArgs itself

    @property
    def name(self) -> str:
        parts = [CHANGE_NAMES.get(k, k + "{}").format(v) for k, v in self.changes]
        return "-".join(["lora", *parts]) + self.head.suffix


    def training(self, config: SweepConfig) -> TrainingArgs:
        return replace(config.training, **dict(self.changes))

    @classmethod
    def from_settings(cls, stored: dict, config: SweepConfig) -> Lora:
        """As ``Variant.from_settings``; ``changes`` are where the stored phase-1 arguments differ
        from the sweep's (in ``TrainingArgs``' field order)."""
        plain = super().from_settings(stored, config)
        sweep = config.training.identity()
        changes = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in stored["training"].items()
                        if sweep.get(k, getattr(config.training, k)) != v)
        return replace(plain, changes=changes)

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {"training": self.training(config).identity()}

    def flops(self, work: RowWork) -> Flops:
        return after_phase1_flops(work)

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        from ..models.contrastive import with_lora

        return with_lora(encoder, self.training(config), seed=0)

    def embeddings(self, trial: Trial):
        if not self.changes:
            return trial.lora_embeddings
        from .trial import embed_split

        return embed_split(trial.phase1_with(self.training(trial.config))[0], trial.data)

    def score(self, trial: Trial) -> Scored:
        from .trial import Scored

        log = trial.phase1_with(self.training(trial.config))[1]
        emb = self.embeddings(trial)
        return Scored(head_scores(self.head, emb, trial.data.train_labels, seed=trial.seed),
                      timings={"embed_seconds": emb.seconds, "train_seconds": log["train_seconds"]},
                      extra={"final_loss": log["losses"][-1], "trainable_parameters": log["trainable_parameters"]})


def after_phase1_flops(work: RowWork, counted: str = "counted", *, more_training: float = 0.0) -> Flops:
    """Phase 1 with the row's arguments (and ``more_training``), then the adapted encoder's
    forward over the training and evaluation texts."""
    from ..models.flops import Flops

    args = work.training()
    return Flops(work.phase1(args) + more_training, work.embedded(work.counts.adapted(args)), counted)


def scored_with_phase1_head(encoder, trial: Trial, head: Head, *, compress_seconds: float) -> Scored:
    """The evaluation set embedded by a compressed or composed encoder and ranked by ``head``
    fitted after phase 1, as the study evaluates them."""
    from .trial import Scored

    start = time.perf_counter()
    evaluation = encoder.embed(trial.data.eval["text"].tolist())
    embed_seconds = time.perf_counter() - start
    return Scored(head.scores(trial.lora_classifier(head), evaluation),
                  timings={"compress_seconds": compress_seconds, "embed_seconds": embed_seconds})


@dataclass(frozen=True)
class LoraQuantized(Variant):
    """The phase-1 encoder with its linear weights quantized to ``bits`` (optimum-quanto,
    weight-only, group-wise scales; activations and LoRA stay float)."""

    trains: ClassVar[bool] = True
    bits: int = knob(4, "weight bits: 2, 4 or 8", )
    head: Head = knob(LogisticHead(), "the head fitted after phase 1")

    def __post_init__(self):
        require(self.bits in (2, 4, 8), f"LoraQuantized.bits must be 2, 4 or 8, got {self.bits!r}")

    @property
    def name(self) -> str:
        return f"lora+int{self.bits}"

    @property
    def label(self) -> str:
        return f"LoRA + {self.bits}-bit"

    def flops(self, work: RowWork) -> Flops:
        return after_phase1_flops(work, f"mixed ({self.bits}-bit weights × float activations; counted as float)")

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        from ..models.compress import quantize_weights
        from ..models.contrastive import with_lora

        return quantize_weights(with_lora(encoder, config.training, seed=0), bits=self.bits)

    def score(self, trial: Trial) -> Scored:
        from ..models.compress import quantize_weights

        start = time.perf_counter()
        quantized = quantize_weights(trial.adapted, bits=self.bits)
        return scored_with_phase1_head(quantized, trial, self.head, compress_seconds=time.perf_counter() - start)


@dataclass(frozen=True)
class LoraWanda(Variant):
    """The phase-1 encoder pruned by Wanda to ``sparsity`` in every encoder linear (not LoRA),
    calibrated on the 16 training texts."""

    trains: ClassVar[bool] = True
    sparsity: float = knob(0.5, "share of each output row's weights removed, in [0, 1)")
    head: Head = knob(LogisticHead(), "the head fitted after phase 1")

    def __post_init__(self):
        require(0 <= self.sparsity < 1, f"LoraWanda.sparsity must be in [0, 1), got {self.sparsity!r}")

    @property
    def name(self) -> str:
        return f"lora+wanda{round(self.sparsity * 100)}"

    def flops(self, work: RowWork) -> Flops:
        # Wanda multiplies densely: the same FLOPs, plus its calibration pass over the training texts
        calibration = work.embedded(work.counts.adapted(work.training()), work.split.train)
        return after_phase1_flops(work, "counted (pruned weights multiplied densely)", more_training=calibration)

    @property
    def label(self) -> str:
        return f"LoRA + Wanda {round(self.sparsity * 100)} %"

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        """Pruned on ``calibration_texts``; its zeros stay dense."""
        from ..models.compress import wanda_prune
        from ..models.contrastive import with_lora

        return wanda_prune(with_lora(encoder, config.training, seed=0), calibration_texts, sparsity=self.sparsity)

    def score(self, trial: Trial) -> Scored:
        from ..models.compress import wanda_prune

        start = time.perf_counter()
        pruned = wanda_prune(trial.adapted, trial.data.train["text"].tolist(), sparsity=self.sparsity)
        # calibrated per seed: its prefix is specific to this run, not worth caching
        return scored_with_phase1_head(replace(pruned, prefix_layers=0), trial, self.head,
                                        compress_seconds=time.perf_counter() - start)


STUDY_VARIANTS = (Base(), Lora(), LoraQuantized(bits=4), LoraWanda(sparsity=0.5))
