"""Every knob of a run: the one definition of each.

Three frozen dataclasses, each validated when it is built and documented field by field
where the field is defined (as setfit's ``TrainingArguments`` and peft's ``LoraConfig`` are):

- ``TrainingArgs``: phase 1's hyper-parameters, the study's values by default;
- ``SweepConfig``: everything besides review, seed and variant that a sweep's numbers
  depend on (hashable and picklable, so Dask workers load the same encoder from it);
- ``Settings``: what a run mode decides, with the sweep's knobs under the same names.

A knob has one name from the command line (``--eval-cap``) to every notebook's parameters
cell (``eval_cap``) to these classes; ``Settings.sweep()`` copies the shared fields by name, and
the command line is built from their fields and help (``cli``). Where the project lives is in
``project``. No torch here: the command-line tools and the runner check their options before
anything heavy is imported.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

from .project import PACKAGE_ROOT, project_root

MODES = ("smoke", "full")
SMOKE_REVIEWS = ("nsaids", "antihistamines", "skeletal_muscle_relaxants", "urinary_incontinence")
PAIR_CHOICES = ("random", "all")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def knob(default, help: str, *, key: bool = True):
    """A dataclass field with its documentation attached (``fields(...)[i].metadata["help"]``).
    ``key=False``: a variant folds this field into what it ``reads`` (helpers.methods.variant)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("a mutable default must be given as a tuple")
    return field(default=default, metadata={"help": help, "key": key})


def require(ok: bool, message: str) -> None:
    """A settings dataclass's check in ``__post_init__``: ValueError(message) where ``ok`` fails."""
    if not ok:
        raise ValueError(message)


def _fail(cls: object, name: str, value, must: str) -> None:
    raise ValueError(f"{type(cls).__name__}.{name} {must}, got {value!r}")


def check_scheduler(scheduler: str | None) -> str | None:
    """The scheduler string if it is well formed (None, local:N, tcp://HOST:PORT), else a
    ValueError naming it."""
    if scheduler is None or scheduler.startswith("tcp://"):
        return scheduler
    kind, _, n = scheduler.partition(":")
    if kind != "local" or not n.isdigit() or int(n) < 1:
        raise ValueError(f"scheduler must be local:N (N >= 1) or tcp://HOST:PORT, got {scheduler!r}")
    return scheduler


def reach_scheduler(scheduler: str | None, *, timeout: float = 3.0) -> None:
    """A ``tcp://HOST:PORT`` scheduler must answer before any work starts: a connection is tried
    with a short timeout, and a refusal or silence is a ValueError naming the address."""
    import socket

    if scheduler is None or not scheduler.startswith("tcp://"):
        return
    host, _, port = scheduler[len("tcp://"):].rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # an IPv6 address: tcp://[::1]:8786
    if not host or not port.isdigit():
        raise ValueError(f"scheduler must be tcp://HOST:PORT, got {scheduler!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ValueError(f"no Dask scheduler answers at {scheduler} within {timeout:g} s ({exc.strerror or exc})") from None


def check_device(device: str) -> str:
    """``device`` if it names a device torch knows (auto, cpu, cuda, cuda:N, mps), else a
    ValueError naming it. Whether that device is present is checked where torch is loaded."""
    if not isinstance(device, str) or not DEVICE_PATTERN.fullmatch(device):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return device


@dataclass(frozen=True)
class TrainingArgs:
    """Phase 1's hyper-parameters. Defaults are the study's; *(ours)* marks where the study is
    silent and the default is this project's choice."""

    rank: int = knob(4, "LoRA rank r")
    target_modules: tuple[str, ...] = knob(("key", "value"), "attention projections LoRA adapts")
    last_n_layers: int = knob(3, "adapt the last n encoder layers (unless `layers` names them)")
    lora_alpha: int = knob(8, "LoRA scaling numerator (ours: peft's default)")
    lora_dropout: float = knob(0.0, "dropout on LoRA's input (ours: peft's default)")
    n_positive: int = knob(40, "random positive pairs (same class), split evenly between the classes (ours)")
    n_negative: int = knob(40, "random negative pairs (one of each class)")
    epochs: int = knob(2, "passes over the pairs")
    batch_size: int = knob(16, "pairs per optimiser step; batches are stratified so each holds both kinds")
    learning_rate: float = knob(0.007, "AdamW's learning rate (the optimiser is ours)")
    temperature: float = knob(0.2, "τ of the contrastive loss")
    bf16: bool = knob(False, "bfloat16 autocast for the forward pass (slow on CPUs without bf16 units)")
    pairs: str = knob("random", "random: n_positive + n_negative drawn pairs (the study's); all: every pair of the 16")
    layers: tuple[int, ...] | str | None = knob(None, "adapt these layer indices, or 'all', instead of the last n")

    def __post_init__(self):
        for name in ("rank", "last_n_layers", "lora_alpha", "n_positive", "n_negative", "epochs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                _fail(self, name, getattr(self, name), "must be a whole number >= 1")
        if not isinstance(self.batch_size, int) or self.batch_size < 2:
            _fail(self, "batch_size", self.batch_size, "must be a whole number >= 2 (a batch needs both kinds of pair)")
        if not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            _fail(self, "target_modules", self.target_modules, "must name at least one module")
        if not 0 <= self.lora_dropout < 1:
            _fail(self, "lora_dropout", self.lora_dropout, "must be in [0, 1)")
        for name in ("learning_rate", "temperature"):
            if not getattr(self, name) > 0:
                _fail(self, name, getattr(self, name), "must be > 0")
        if self.pairs not in PAIR_CHOICES:
            _fail(self, "pairs", self.pairs, f"must be one of {PAIR_CHOICES}")
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if isinstance(self.target_modules, list):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.layers is not None and self.layers != "all" and not (
                isinstance(self.layers, tuple) and self.layers and len(set(self.layers)) == len(self.layers)
                and all(isinstance(i, int) and i >= 0 for i in self.layers)):
            _fail(self, "layers", self.layers, "must be None, 'all', or distinct layer indices >= 0 (not empty)")

    def identity(self) -> dict:
        """Every argument that shapes the adapter, for cache and result keys: the pair counts are
        left out when every pair is used, and ``last_n_layers`` when ``layers`` names them."""
        unused = ({"n_positive", "n_negative"} if self.pairs == "all" else set()) | (
            {"last_n_layers"} if self.layers is not None else {"layers"})
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k not in unused}

    @classmethod
    def from_identity(cls, identity: dict) -> TrainingArgs:
        """The arguments a stored ``identity()`` describes (JSON lists back to tuples; what it
        leaves out as unused takes its default)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in identity.items()})

    def adapted_layers(self, n_layers: int) -> list[int]:
        """Indices of the layers LoRA adapts in an encoder of ``n_layers`` layers."""
        if self.layers == "all":
            return list(range(n_layers))
        if self.layers is not None:
            if max(self.layers) >= n_layers:
                raise ValueError(f"TrainingArgs.layers={self.layers} but the encoder has layers 0..{n_layers - 1}")
            return sorted(self.layers)
        if self.last_n_layers > n_layers:
            raise ValueError(f"TrainingArgs.last_n_layers={self.last_n_layers} but the encoder has {n_layers} layers")
        return list(range(n_layers - self.last_n_layers, n_layers))

    def resolved(self, n_layers: int) -> TrainingArgs:
        """These arguments with ``layers`` dropped where it names the last-n default's layers:
        they train the same adapter (e.g. CKA choosing the study's last 3), so one cache key."""
        default = replace(self, layers=None)
        return default if self.adapted_layers(n_layers) == default.adapted_layers(n_layers) else self


@dataclass(frozen=True)
class DistillArgs:
    """How a student encoder is distilled (``helpers.models.distill``). Bounded: the step count fixes its
    cost, 3–4 s a step of 16 pairs for a 3-layer student at 256 tokens on 2 cores, and notebook
    05's 90 distillations (75 from the study's encoder, 15 from Base) are most of what its
    students cost. ``benchmarks/distill_cost.py`` measured 30 steps at 3.8 h for every review ×
    seed (an estimate), over the 3 h notebook 05's students may add; at 20 steps the 225 student
    rows took 2.67 h by their own seconds (the benchmark: 2.88 h, an estimate). The price: the
    student of LoRA's mean AWSS@95 fell from 0.369 to 0.353 on the same 75 splits (p = 0.04).
    The learning rate was chosen on notebook 08's development reviews at 30 steps (seeds 0 and 1,
    evaluation cap 400): mean AWSS@95 0.352 at 1e-4 against 0.325 at setfit's 2e-5."""

    kind: ClassVar[str] = "cosine-distillation"
    steps: int = knob(20, "optimiser steps (ours: they bound the cost, 3–4 s a step on 2 cores)")
    pairs: int = knob(16, "text pairs per step (up to twice as many texts)")
    learning_rate: float = knob(1e-4, "AdamW's learning rate for the student's whole body (ours: chosen on development reviews)")
    seed: int = knob(0, "seed of the pair draws")

    def __post_init__(self):
        require(self.steps >= 1 and self.pairs >= 1 and self.learning_rate > 0,
                f"DistillArgs needs steps >= 1, pairs >= 1 and learning_rate > 0, got {self}")


@dataclass(frozen=True)
class SweepConfig:
    """Everything besides review, seed and variant that a sweep's numbers depend on."""

    encoder: str = knob("auto", "hub id in the local cache or a folder; auto: allenai/specter if available offline, "
                                "else the packaged all-MiniLM-L6-v2")
    normalize: str | bool = knob("auto", "L2-normalise embeddings; auto: what the model's pipeline declares")
    device: str = knob("auto", "cpu, cuda, cuda:N, mps or auto (cuda when present)")
    max_length: int | None = knob(None, "tokens per text; None: 512, or the encoder's own lower limit")
    training: TrainingArgs = knob(TrainingArgs(), "phase 1's hyper-parameters")
    n_per_class: int = knob(8, "training citations drawn per class")
    eval_cap: int | None = knob(None, "evaluation citations per review, included ones never dropped; None: all")
    data_dir: str | None = knob(None, "folder of <slug>.csv.gz; None: $SLR_DATA_DIR, ../shared/data/slr, data/slr")
    reviews: tuple[str, ...] | None = knob(None, "the run's reviews (None: every one with text): the pool a "
                                                 "leave-one-review-out composition draws its skills from")

    def __post_init__(self):
        if not (self.normalize == "auto" or isinstance(self.normalize, bool)):
            _fail(self, "normalize", self.normalize, "must be 'auto', True or False")
        if not isinstance(self.device, str) or not DEVICE_PATTERN.fullmatch(self.device):
            _fail(self, "device", self.device, "must be auto, cpu, cuda, cuda:N or mps")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 8):
            _fail(self, "max_length", self.max_length, "must be None or a whole number >= 8")
        if not isinstance(self.training, TrainingArgs):
            _fail(self, "training", self.training, "must be a TrainingArgs")
        if not isinstance(self.n_per_class, int) or self.n_per_class < 2:
            _fail(self, "n_per_class", self.n_per_class, "must be a whole number >= 2 (positive pairs need 2)")
        if self.eval_cap is not None and (not isinstance(self.eval_cap, int) or self.eval_cap < 2):
            _fail(self, "eval_cap", self.eval_cap, "must be None or a whole number >= 2 (one citation per class)")
        if isinstance(self.reviews, list):
            object.__setattr__(self, "reviews", tuple(self.reviews))
        if self.reviews is not None and (not self.reviews or len(set(self.reviews)) != len(self.reviews)):
            _fail(self, "reviews", self.reviews, "must be None (every review with text) or distinct names")
        if self.data_dir is not None:  # a path given as Path or str means the same run
            object.__setattr__(self, "data_dir", str(self.data_dir))


@dataclass(frozen=True)
class Settings(SweepConfig):
    """What a run decides: the sweep's knobs (inherited, same names) and the run's own. Notebooks
    get one with ``settings(mode, **overrides)``; mode defaults are in ``_mode_defaults``."""

    mode: str = knob("smoke", "smoke: every code path in minutes; full: the study's settings")
    out_dir: Path = knob(PACKAGE_ROOT / "build" / "smoke", "figures/, results/ and report/ go below this")
    seeds: tuple[int, ...] = knob((0, 1), "seeds of every notebook that draws training citations")
    tsne_per_class: int = knob(40, "notebook 02: citations per class and review in the t-SNE")
    tsne_per_review: int = knob(80, "notebook 06: citations per review in the t-SNE")
    run_setfit: bool = knob(False, "notebooks 03/07: run the setfit library's full fine-tuning beside LoRA")
    latency_shape: tuple[int, int] = knob((4, 128), "notebook 04: batch size and tokens of an inference batch")
    latency_repeats: int = knob(1, "notebook 04: timed repeats after one warm-up")
    train_shape: tuple[int, int] = knob((4, 128), "notebook 04: pairs per phase-1 step and tokens per text")
    train_steps: int = knob(1, "notebook 04: timed phase-1 steps, extrapolated to the study's 160")
    timing_budget_s: float | None = knob(30.0, "notebook 04: seconds one timing cell may take; above it a "
                                               "smaller piece is timed and scaled, labelled (None: never)")
    timing_architecture: str = knob("specter", "notebook 04: the configuration timed with random weights: "
                                               "specter (the study's) or a model folder's config.json")
    power_seconds: float = knob(2.0, "notebooks 04 and 09: seconds each phase's power is measured for (once per machine)")
    distillation: DistillArgs = knob(DistillArgs(steps=4, pairs=8), "notebooks 05 and 09: how the students are "
                                     "distilled (full: DistillArgs()'s bounded defaults)")
    country: str = knob("BRA", "notebooks 04 and 09: the grid (ISO 3166-1 alpha-3) whose intensity turns energy into "
                               "CO2e; the study's: Brazil")
    scheduler: str | None = knob(None, "None: in-process; local:N or tcp://HOST:PORT: Dask")
    recompute: bool = knob(False, "recompute every row into results/results.recomputed.csv, and every figure's data "
                                  "and timing into results/artefacts.recomputed/, instead of reusing what is stored")

    def __post_init__(self):
        if self.mode not in MODES:
            _fail(self, "mode", self.mode, f"must be one of {MODES}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if isinstance(self.seeds, list):
            object.__setattr__(self, "seeds", tuple(self.seeds))
        if (not self.seeds or len(set(self.seeds)) != len(self.seeds)
                or not all(isinstance(s, int) and s >= 0 for s in self.seeds)):
            _fail(self, "seeds", self.seeds, "must be distinct whole numbers >= 0 (at least one)")
        super().__post_init__()
        for name in ("tsne_per_class", "tsne_per_review", "latency_repeats", "train_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                _fail(self, name, getattr(self, name), "must be a whole number >= 1")
        for name in ("latency_shape", "train_shape"):
            value = tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if len(value) != 2 or not all(isinstance(v, int) and v >= 1 for v in value):
                _fail(self, name, value, "must be two whole numbers >= 1")
        if self.train_shape[0] < 2:
            _fail(self, "train_shape", self.train_shape, "needs at least 2 pairs per step (one of each kind)")
        if not self.power_seconds > 0:
            _fail(self, "power_seconds", self.power_seconds, "must be > 0")
        if not (isinstance(self.country, str) and len(self.country) == 3 and self.country.isalpha()):
            _fail(self, "country", self.country, "must be a 3-letter ISO country code, e.g. BRA")
        if not isinstance(self.distillation, DistillArgs):
            _fail(self, "distillation", self.distillation, "must be a DistillArgs")
        if self.timing_budget_s is not None and not self.timing_budget_s > 0:
            _fail(self, "timing_budget_s", self.timing_budget_s, "must be None or > 0")
        check_scheduler(self.scheduler)

    def sweep(self, **changes) -> SweepConfig:
        """The sweep settings of this run (its fields of the same names), with any changes."""
        shared = {f.name: getattr(self, f.name) for f in fields(SweepConfig)}
        return SweepConfig(**{**shared, **changes})

    @property
    def figures_dir(self) -> Path:
        return self.out_dir / "figures"

    @property
    def results_dir(self) -> Path:
        return self.out_dir / "results"

    @property
    def artefacts_dir(self) -> Path:
        """Figure data and timings, each file keyed like a results row (helpers.core.artefacts)."""
        return self.results_dir / ("artefacts.recomputed" if self.recompute else "artefacts")

    @property
    def results_path(self) -> Path:
        return self.results_dir / ("results.recomputed.csv" if self.recompute else "results.csv")

    @property
    def cap_note(self) -> str:
        """How the evaluation sets were drawn, for captions."""
        if self.eval_cap is None:
            return "all citations"
        return f"eval capped at {self.eval_cap} citations per review (all included kept)"


def _mode_defaults(mode: str, root: Path) -> dict:
    if mode == "smoke":
        # every code path in minutes, not the study's numbers: short texts, one small phase-1 epoch
        return dict(mode="smoke", out_dir=root / "build" / "smoke", seeds=(0, 1), eval_cap=60, reviews=SMOKE_REVIEWS,
                    max_length=128, training=TrainingArgs(n_positive=16, n_negative=16, epochs=1))
    return dict(mode="full", out_dir=root, seeds=(0, 1, 2, 3, 4), tsne_per_class=300, tsne_per_review=360,
                run_setfit=True, latency_shape=(32, 512), latency_repeats=3, train_shape=(16, 512), train_steps=2,
                timing_budget_s=45.0, power_seconds=20.0, distillation=DistillArgs())


def settings(mode: str = "smoke", out_dir: str | Path | None = None, **overrides) -> Settings:
    """Mode defaults (``full`` = the study's settings), then every override that is not None.

    Unknown knobs are refused by name, so a typo in a parameters cell cannot pass silently."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if out_dir is not None:
        given["out_dir"] = Path(out_dir)
    return Settings(**{**_mode_defaults(mode, project_root()), **given})
