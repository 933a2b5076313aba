"""Where the project lives and what each run mode decides: the one definition of both.

Notebooks, the runner and the tests all read their knobs from ``Settings``; a knob has the
same name on the command line (``--eval-cap``), in every notebook's parameters cell
(``eval_cap``) and here.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, fields, replace
from pathlib import Path

MODES = ("smoke", "full")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
SMOKE_REVIEWS = ("nsaids", "antihistamines", "skeletal_muscle_relaxants", "urinary_incontinence")


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    return PACKAGE_ROOT if (PACKAGE_ROOT / "pyproject.toml").is_file() else Path.cwd()


def machine_description() -> str:
    """This machine in a few words: stored in every results row and on every page's stamp."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


@dataclass(frozen=True)
class Settings:
    """Everything a mode decides. Notebooks get one with ``settings(mode, **overrides)``."""

    mode: str
    out_dir: Path                 # figures/, results/ and report/ go below this
    seeds: tuple[int, ...]        # every notebook that draws training examples
    eval_cap: int | None          # evaluation citations per review (included never dropped); None = all
    reviews: tuple[str, ...] | None  # sweeps: None = every review with text
    tsne_per_class: int           # notebook 02: examples per class and review
    tsne_per_review: int          # notebook 06: examples per review
    run_setfit: bool              # notebooks 03/07: the setfit library's full fine-tuning
    max_length: int | None = None    # tokens per text; None: 512 or the encoder's own lower limit
    phase1_pairs: int | None = None  # None: the study's 80 (40 positive, 40 negative)
    phase1_epochs: int | None = None  # None: the study's 2
    latency_shape: tuple[int, int] = (32, 512)   # notebook 04: batch size, tokens
    latency_repeats: int = 3
    latency_budget_s: float | None = 120.0       # notebook 04: above it, time a sub-batch and scale (None: never)
    train_shape: tuple[int, int] = (16, 512)     # notebook 04: pairs per step, tokens
    train_steps: int = 2                         # measured steps, extrapolated to the study's 160
    encoder: str = "auto"
    normalize: str | bool = "auto"  # L2-normalise embeddings: auto = what the model declares
    data_dir: str | None = None
    scheduler: str | None = None    # None: in-process; "local:N" or "tcp://host:port": Dask
    device: str = "auto"            # auto = cuda when present, else cpu
    recompute: bool = False         # True: ignore stored rows, write results.recomputed.csv beside them

    @property
    def figures_dir(self) -> Path:
        return self.out_dir / "figures"

    @property
    def results_dir(self) -> Path:
        return self.out_dir / "results"

    @property
    def results_path(self) -> Path:
        return self.results_dir / ("results.recomputed.csv" if self.recompute else "results.csv")

    @property
    def cap_note(self) -> str:
        """How the evaluation sets were drawn, for captions."""
        if self.eval_cap is None:
            return "all citations"
        return f"eval capped at {self.eval_cap} citations per review (all included kept)"


def _mode_defaults(mode: str, root: Path) -> Settings:
    if mode == "smoke":
        # smoke: every code path in minutes, not the study's numbers (short texts, one small phase-1 epoch)
        return Settings("smoke", root / "build" / "smoke", seeds=(0, 1), eval_cap=60,
                        reviews=SMOKE_REVIEWS, tsne_per_class=40, tsne_per_review=80, run_setfit=False,
                        max_length=128, phase1_pairs=32, phase1_epochs=1,
                        latency_shape=(4, 128), latency_repeats=1, train_shape=(4, 128), train_steps=1)
    return Settings("full", root, seeds=(0, 1, 2, 3, 4), eval_cap=None, reviews=None,
                    tsne_per_class=300, tsne_per_review=360, run_setfit=True)


def settings(mode: str = "smoke", out_dir: str | Path | None = None, **overrides) -> Settings:
    """Mode defaults (``full`` = the study's settings), then every override that is not None.

    Unknown knobs are refused by name, so a typo in a parameters cell cannot pass silently."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(known)}")
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    if out_dir is not None:
        given["out_dir"] = Path(out_dir)
    return replace(_mode_defaults(mode, project_root()), **given)
