"""Distilled students: fewer layers of the embedded encoder, distilled on a review's own texts
from the study's phase-1 encoder, from Base, or not at all (the controls). The distillation
itself is ``helpers.models.distill``; this is the variant, its cost and notebook 05's set."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..core.config import DistillArgs, SweepConfig, knob, require
from .heads import Head, LogisticHead, head_scores
from .variant import Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, RowWork
    from .trial import Scored, Trial


TEACHERS = ("lora", "base", "none")


@dataclass(frozen=True)
class Distilled(Variant):
    """A student with fewer layers of the embedded encoder (every other one), distilled on the
    review's own texts — its training and evaluation records, without labels — to reproduce the
    teacher's cosine similarities: the study's phase-1 encoder (``lora``), the encoder without
    phase 1 (``base``), or not at all (``none``: the layers dropped only). Then the head on the
    16 student embeddings, as for every variant."""

    layers: int = knob(3, "the student's layers (the embedded encoder has 6)")
    teacher: str = knob("lora", "lora: the study's phase-1 encoder; base: without phase 1; none: no distillation")
    distillation: DistillArgs | None = knob(None, "how the student is distilled; None with no teacher (lora and base default to DistillArgs())")
    head: Head = knob(LogisticHead(), "phase 2's classifier on the student's embeddings")

    def __post_init__(self):
        require(self.teacher in TEACHERS, f"Distilled.teacher must be one of {TEACHERS}, got {self.teacher!r}")
        if self.distillation is None and self.teacher != "none":
            object.__setattr__(self, "distillation", DistillArgs())
        require((self.distillation is None) == (self.teacher == "none"),
                f"Distilled: distillation settings go with a teacher, and only with one, got {self.distillation!r}")
        require(isinstance(self.layers, int) and self.layers >= 1, f"Distilled.layers must be >= 1, got {self.layers!r}")

    @property
    def trains(self) -> bool:
        return self.teacher == "lora"

    @property
    def name(self) -> str:
        return f"student{self.layers}" + ("" if self.teacher == "none" else f"-from-{self.teacher}")

    @property
    def label(self) -> str:
        if self.teacher == "none":
            return f"{self.layers} layers, not distilled"
        return f"{self.layers}-layer student of {'LoRA' if self.teacher == 'lora' else 'Base'}"

    @property
    def architecture(self) -> str:
        return f"student{self.layers}"  # whatever its teacher: a student's shape is its layers

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        from ..models.distill import student_of

        return student_of(encoder, self.layers)

    def flops(self, work: RowWork) -> Flops:
        """The student's own forwards for inference; its training is the distillation's steps, its
        teacher's embedding of the pool (the ``teacher_pass``) and, for the study's phase-1
        teacher, phase 1."""
        from ..models.flops import Flops, distillation_flops

        inference = work.embedded(work.counts.student(self.layers))
        if self.teacher == "none":
            return Flops(0.0, inference, "counted")
        split = work.split
        teacher = work.counts.base() if self.teacher == "base" else work.counts.adapted(work.training())
        teacher_pass = work.embedded(teacher, split.pool)
        train = distillation_flops(work.counts.distillation(self.layers), split.pool, self.distillation,
                                   max_length=work.counts.encoder.max_length) + teacher_pass
        if self.teacher == "lora":
            train += work.phase1(work.training())
        return Flops(train, inference, "counted", teacher_pass)

    def student(self, trial: Trial):
        """The trial's student: distilled from its teacher on the review's texts in table order (the
        same pool for every seed, so a Base-distilled student is trained once per review)."""
        from ..models.distill import distill, student_of

        student = student_of(trial.encoder, self.layers)
        if self.teacher == "none":
            return student, 0.0
        data = trial.data
        pool = data.table["text"].to_numpy()[data.split.pool].tolist()
        teacher = trial.adapted if self.teacher == "lora" else replace(trial.encoder, prefix_layers=0)
        distilled, log = distill(student, teacher.embed(pool), pool, args=self.distillation,
                                 teacher_fingerprint=teacher.fingerprint())
        return distilled, log["train_seconds"]

    def score(self, trial: Trial) -> Scored:
        from .trial import Scored, embed_split

        student, seconds = self.student(trial)
        emb = embed_split(student, trial.data)
        return Scored(head_scores(self.head, emb, trial.data.train_labels, seed=trial.seed),
                      timings={"embed_seconds": emb.seconds, "train_seconds": seconds},
                      extra={"student_layers": self.layers})


def distilled_variants(distillation: DistillArgs, *, layers: int = 3) -> tuple[Distilled, ...]:
    """Notebook 05's students: of the study's phase-1 encoder first, then the controls (the layers
    dropped only; distilled from Base)."""
    return (Distilled(layers=layers, teacher="lora", distillation=distillation), Distilled(layers=layers, teacher="none"),
            Distilled(layers=layers, teacher="base", distillation=distillation))
