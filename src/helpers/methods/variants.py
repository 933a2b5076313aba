"""What a results row measures. A variant is a frozen dataclass whose fields are its settings:
its name and its row key are derived from those fields, and every field is used to compute
its numbers (a test changes each field and checks that key and numbers both change).

A row key is the review, its data checksum, the split, the encoder's identity
(``helpers.core.results``) and ``variant.settings(config, review)``: every field of the variant —
heads, compositions and nested variants as their own settings — plus what it reads from the
sweep (``reads``: the phase-1 arguments, the reviews whose skills it composes with their data
checksums, the library whose model it runs). Nothing is typed beside the fields.

The study's variants are here: Base, LoRA (phase 1), LoRA + 4-bit, LoRA + Wanda and the
composition of several reviews' LoRA skills; the peers are in ``helpers.methods.peers`` and notebook
08's candidates in ``helpers.methods.beyond``. No torch at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..core.config import DistillArgs, SweepConfig, TrainingArgs, knob, require

if TYPE_CHECKING:
    from ..models.compose import Hybrid, PeftMerge
    from ..models.flops import Flops, RowWork
    from .trial import Scored, Trial


def field_settings(obj, config: SweepConfig, review: str) -> dict:
    """Every field of a settings dataclass as plain JSON values; None (not applicable) is left
    out, and a field marked ``key=False`` is folded into ``reads`` by its owner."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or f.metadata.get("key") is False:
            continue
        out[f.name] = _plain(value, config, review)
    return out


def _plain(value, config: SweepConfig, review: str):
    if isinstance(value, Variant):
        return {"variant": value.name, **value.settings(config, review)}
    if is_dataclass(value):
        return {"kind": value.kind, **field_settings(value, config, review)}
    if isinstance(value, tuple):
        return [_plain(v, config, review) for v in value]
    return value


def _hints(cls) -> dict:
    """A settings class's field annotations, resolved (the compositions' classes are imported only
    for type checking where they are used, so they are named here)."""
    import typing

    from ..models.compose import Hybrid, PeftMerge

    return typing.get_type_hints(cls, localns={"Hybrid": Hybrid, "PeftMerge": PeftMerge})


def _from_plain(value, annotation, config: SweepConfig):
    """A stored (JSON) value back as the field's type: the inverse of ``_plain``."""
    import typing

    options = [a for a in typing.get_args(annotation) if a is not type(None)] if typing.get_args(annotation) else []
    if isinstance(value, dict) and "variant" in value:
        inner = {k: v for k, v in value.items() if k != "variant"}
        for option in options or [annotation]:
            try:
                rebuilt = option.from_settings(inner, config)
            except (TypeError, ValueError):  # another class of the union: its fields do not fit
                continue
            if rebuilt.name == value["variant"]:
                return rebuilt
        raise ValueError(f"no variant among {options} is named {value['variant']!r}")
    if isinstance(value, dict) and "kind" in value:
        kinds = {getattr(o, "kind", None): o for o in options or [annotation]}
        if value["kind"] not in kinds:
            raise ValueError(f"stored settings of kind {value['kind']!r}, where {sorted(map(str, kinds))} fit")
        settings_class = kinds[value["kind"]]
        hints = _hints(settings_class)
        return settings_class(**{f.name: _from_plain(value.get(f.name), hints[f.name], config)
                                 for f in fields(settings_class)})
    if isinstance(value, list):
        return tuple(_from_plain(v, None, config) for v in value)
    return value


@dataclass(frozen=True)
class Variant:
    """A way to score a review's evaluation set from its 16 training records."""

    uses_encoder: ClassVar[bool] = True  # False: the numbers do not depend on the encoder (TF-IDF, ASReview)
    trains: ClassVar[bool] = False       # True: the numbers rest on phase 1 with the sweep's arguments
    reader_label: ClassVar[str | None] = None  # a reader's words for the class with its default settings

    @property
    def name(self) -> str:
        """The results table's ``variant`` column, derived from the fields."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """What a reader sees in legends, tables and prose (``plots.method_label``): the class's
        ``reader_label`` where it has its default settings, else the name (which says what differs)."""
        if self.reader_label is not None and self == type(self)():
            return self.reader_label
        return self.name

    def score(self, trial: Trial) -> Scored:
        raise NotImplementedError

    def reads(self, config: SweepConfig, review: str) -> dict:
        """What the numbers take from the sweep's settings beyond the key's own columns."""
        return {"training": config.training.identity()} if self.trains else {}

    def settings(self, config: SweepConfig, review: str) -> dict:
        """This variant's part of the row key: its fields and what it reads."""
        return {**field_settings(self, config, review), **self.reads(config, review)}

    @classmethod
    def from_settings(cls, stored: dict, config: SweepConfig) -> Variant:
        """The variant of this class whose ``settings`` are ``stored`` (a row's, read back from
        JSON): the inverse of ``settings``. Each field is read back by its annotation — nested
        settings by their ``kind``, nested variants by their name — and a field left out (it was
        None) is None again; what the variant reads from the sweep is not a field and is skipped."""
        hints = _hints(cls)
        values = {f.name: _from_plain(stored.get(f.name), hints[f.name], config)
                  for f in fields(cls) if f.metadata.get("key") is not False}
        return cls(**values)

    def flops(self, work: RowWork) -> Flops:
        """The counted FLOPs of screening one review × seed with this variant from scratch
        (``helpers.analysis.cost``), derived from its fields, what its row read and the split's token
        counts — or, for a variant that ``replays``, from what its replay recorded. Work without a
        count is "not measured" (NaN), never 0."""
        from ..models.flops import NOT_MEASURED

        return NOT_MEASURED

    @property
    def replays(self) -> bool:
        """Whether its FLOPs need its work re-run and watched (``replay``): sparse models and a
        library's own training loop, whose work no token count fixes."""
        return False

    def replay(self, trial: Trial) -> dict:
        """Re-run on ``trial`` with the work watched, returning what ``flops`` counts from (plain
        values and tables, stored as an artefact of the row) and, where the re-run reproduces the
        row's ranking, its ``awss``: the caller checks it equals the stored row's, so a count never
        describes another run than the one it is shown beside."""
        raise NotImplementedError(f"{self.name} counts its FLOPs without re-running")

    @property
    def architecture(self) -> str:
        """What its latency and memory depend on: variants that share one are timed once."""
        return self.name

    def stand_in(self, encoder, config: SweepConfig, *, calibration_texts: list[str]):
        """An encoder with this variant's architecture and number formats, its weights untrained (a
        fresh adapter, a student not distilled): latency and memory depend on shapes and formats,
        not on what was learned (notebook 05's footprints, ``bench.footprint_table``)."""
        raise ValueError(f"no stand-in for variant {self.name!r}: latency and memory are measured for Base, LoRA, "
                         "its 4-bit and Wanda versions and distilled students")


# ---------------------------------------------------------------- phase 2: heads

@dataclass(frozen=True)
class LogisticHead:
    """Phase 2 as the study defines it: logistic regression on the 16 training embeddings,
    whose predicted probability ranks the evaluation set."""

    kind: ClassVar[str] = "logistic_regression"
    suffix: ClassVar[str] = ""  # what the head adds to a variant's name
    C: float = knob(1.0, "inverse regularisation strength")
    max_iter: int = knob(2000, "lbfgs iterations at most")

    def __post_init__(self):
        require(self.C > 0 and isinstance(self.max_iter, int) and self.max_iter >= 1,
                f"LogisticHead needs C > 0 and max_iter >= 1, got C={self.C!r}, max_iter={self.max_iter!r}")

    def fit(self, x, y, *, seed: int):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=seed).fit(x, y)

    def scores(self, model, x) -> np.ndarray:
        return model.predict_proba(x)[:, 1]


@dataclass(frozen=True)
class SvmHead:
    """A linear SVM instead of the logistic regression (notebook 08); its decision function ranks.
    No class weights: on the balanced 8 + 8 they are 1 whatever the rule."""

    kind: ClassVar[str] = "linear_svm"
    suffix: ClassVar[str] = "+svm"
    C: float = knob(1.0, "inverse regularisation strength")

    def __post_init__(self):
        require(self.C > 0, f"SvmHead needs C > 0, got C={self.C!r}")

    def fit(self, x, y, *, seed: int):
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, random_state=seed).fit(x, y)

    def scores(self, model, x) -> np.ndarray:
        return model.decision_function(x)


Head = LogisticHead | SvmHead


def head_scores(head: Head, embedded, labels, *, seed: int) -> np.ndarray:
    """Fit ``head`` on the training embeddings and score the evaluation embeddings."""
    return head.scores(head.fit(embedded.train, labels, seed=seed), embedded.eval)


# ---------------------------------------------------------------- the study's variants

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


def _scored_with_phase1_head(encoder, trial: Trial, head: Head, *, compress_seconds: float) -> Scored:
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
        return _scored_with_phase1_head(quantized, trial, self.head, compress_seconds=time.perf_counter() - start)


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
        return _scored_with_phase1_head(replace(pruned, prefix_layers=0), trial, self.head,
                                        compress_seconds=time.perf_counter() - start)


def composed_from(reviews, config: SweepConfig) -> list[list[str]]:
    """The reviews whose phase-1 adapters a composition combines, each with the checksum of the
    data its adapter was trained on: part of the key, so other data is another row."""
    from ..core.data import review_checksum

    return [[r, review_checksum(r, config.data_dir)] for r in reviews]


def composed_flops(work: RowWork, composition, *, phase1: bool) -> Flops:
    """Phase 1 on every composed review (the row names them), phase 1 on the row's own review
    where ``phase1``, then the composed adapter's forward (at the composition's rank, where it
    sets one)."""
    from ..models.flops import Flops

    args = work.training()
    train = sum(work.phase1(args, review=review) for review, _ in work.settings["composed_from"])
    if phase1:
        train += work.phase1(args)
    composed = work.counts.adapted(replace(args, rank=getattr(composition, "rank", args.rank)))
    return Flops(train, work.embedded(composed), "counted")


def compose_for(trial: Trial, composition, reviews) -> object:
    """The encoder carrying ``composition`` of these reviews' phase-1 adapters for the trial's seed
    (each from the disk cache where notebook 05 trained it)."""
    adapters = [trial.adapted if r == trial.review else trial.other(r).adapted for r in reviews]
    return composition.apply(adapters, seed=trial.seed)


@dataclass(frozen=True)
class ComposedSkills(Variant):
    """One adapter composed from several reviews' phase-1 adapters (the study's hybrid, or a peft
    merge), scored on a review with that review's own phase-1 head, as the study does."""

    trains: ClassVar[bool] = True
    composition: Hybrid | PeftMerge = knob(None, "how the adapters are combined (helpers.models.compose)")
    reviews: tuple[str, ...] = knob((), "the reviews whose skills are composed")
    head: Head = knob(LogisticHead(), "the head fitted after the scored review's own phase 1")

    def __post_init__(self):
        require(self.composition is not None and self.reviews and len(set(self.reviews)) == len(self.reviews),
                f"ComposedSkills needs a composition and distinct reviews, got {self.composition!r}, {self.reviews!r}")

    @property
    def name(self) -> str:
        return self.composition.name

    @property
    def label(self) -> str:
        return self.composition.label

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {**super().reads(config, review), "composed_from": composed_from(self.reviews, config)}

    def encoder(self, trial: Trial):
        return compose_for(trial, self.composition, self.reviews)

    def flops(self, work: RowWork) -> Flops:
        return composed_flops(work, self.composition, phase1=False)

    def score(self, trial: Trial) -> Scored:
        start = time.perf_counter()
        composed = self.encoder(trial)
        return _scored_with_phase1_head(composed, trial, self.head, compress_seconds=time.perf_counter() - start)


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


STUDY_VARIANTS = (Base(), Lora(), LoraQuantized(bits=4), LoraWanda(sparsity=0.5))


def distilled_variants(distillation: DistillArgs, *, layers: int = 3) -> tuple[Distilled, ...]:
    """Notebook 05's students: of the study's phase-1 encoder first, then the controls (the layers
    dropped only; distilled from Base)."""
    return (Distilled(layers=layers, teacher="lora", distillation=distillation), Distilled(layers=layers, teacher="none"),
            Distilled(layers=layers, teacher="base", distillation=distillation))
