"""Run the numbered notebooks headlessly with papermill and export them to HTML.

    python -m helpers.report --mode smoke          # minutes, outputs under build/smoke/
    python -m helpers.report --mode full           # the study's settings, writes figures/ and report/

Smoke output never overwrites the committed full-mode figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

MODES = ("smoke", "full")


def project_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    """Everything a mode decides. Notebooks get one with ``settings(mode, **overrides)``."""

    mode: str
    out_dir: Path                 # figures/ and results/ go below this
    seeds: tuple[int, ...]
    eval_cap: int | None          # evaluation citations per review (included never dropped)
    tsne_per_class: int           # notebook 02: examples per class and review
    setfit_baseline: bool         # notebook 03: run the setfit library's training too
    latency_shape: tuple[int, int] = (32, 512)   # notebook 04: batch size, tokens
    latency_repeats: int = 3
    train_shape: tuple[int, int] = (16, 512)     # notebook 04: pairs per step, tokens
    train_steps: int = 2                         # measured steps, extrapolated to the study's 160
    sweep_seeds: tuple[int, ...] = (0, 1, 2)     # notebooks 05/06: seeds per review
    sweep_reviews: tuple[str, ...] | None = None  # notebooks 05/06: None = every review with text
    hybrid_tsne_per_review: int = 360             # notebook 06
    encoder: str = "auto"
    data_dir: str | None = None

    @property
    def figures_dir(self) -> Path:
        return self.out_dir / "figures"

    @property
    def results_dir(self) -> Path:
        return self.out_dir / "results"


def settings(mode: str = "smoke", out_dir: str | Path | None = None, **overrides) -> Settings:
    """Mode defaults (``full`` = the study's settings), then any non-None override."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    root = project_root()
    base = {
        "smoke": Settings("smoke", root / "build" / "smoke", seeds=(0, 1), eval_cap=120,
                          tsne_per_class=40, setfit_baseline=False, latency_shape=(4, 128),
                          latency_repeats=1, train_shape=(4, 128), train_steps=1, sweep_seeds=(0,),
                          sweep_reviews=("nsaids", "antihistamines", "skeletal_muscle_relaxants",
                                         "oral_hypoglycemics", "urinary_incontinence"),
                          hybrid_tsne_per_review=80),
        "full": Settings("full", root, seeds=(0, 1, 2, 3, 4), eval_cap=None,
                         tsne_per_class=300, setfit_baseline=True),
    }[mode]
    given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    if out_dir is not None:
        given["out_dir"] = Path(out_dir)
    return replace(base, **given)


def notebooks(root: Path | None = None) -> list[Path]:
    return sorted((root or project_root()).joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path: Path, s: Settings, html_dir: Path, executed_dir: Path,
                 extra: dict | None = None) -> Path:
    """Execute one notebook with papermill and export it to HTML; returns the HTML path."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    executed = executed_dir / path.name
    params = {"mode": s.mode, "encoder": s.encoder, "data_dir": s.data_dir, "out_dir": str(s.out_dir), **(extra or {})}
    pm.execute_notebook(str(path), str(executed), parameters=params, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=False)
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    html = html_dir / (path.stem + ".html")
    html.write_text(body, encoding="utf-8")
    return html


def _parameter_names(path: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(path)))


def ensure_data(data_dir: str | None) -> list[str]:
    """Reviews with text; fetch what is missing when there is internet, else explain."""
    from .data import available_reviews, candidate_data_dirs, missing_reviews

    present = available_reviews(data_dir)
    if len(present) < 20:
        try:
            from .fetch import fetch_missing

            fetch_missing(data_dir)
            present = available_reviews(data_dir)
        except OSError as exc:  # no internet: carry on with what is here
            print(f"[report] could not fetch missing reviews ({exc.__class__.__name__}); "
                  f"continuing without: {', '.join(missing_reviews(data_dir))}", flush=True)
    if not present:
        looked = ", ".join(str(p) for p in candidate_data_dirs(data_dir))
        sys.exit(f"[report] no review data (looked in {looked}) and it could not be downloaded. "
                 "Copy the prepared <slug>.csv.gz files there or set SLR_DATA_DIR; "
                 "see data/README.md.")
    return present


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=MODES, default="smoke")
    p.add_argument("--encoder", default="auto", help="hub id or local path; auto = SPECTER if available offline, else all-MiniLM-L6-v2")
    p.add_argument("--data-dir", default=None, help="folder of <slug>.csv.gz (default: $SLR_DATA_DIR, ../shared/data/slr, data/slr)")
    p.add_argument("--only", nargs="*", default=None, help="notebook number prefixes, e.g. 01 03")
    p.add_argument("--out-dir", default=None, help="override the output root of the mode")
    p.add_argument("--eval-cap", type=int, default=None,
                   help="cap evaluation citations per review in notebooks 03, 05, 06 (included ones are never dropped)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds for notebooks 03, 05, 06 (default: the mode's)")
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ensure_data(a.data_dir)
    s = settings(a.mode, out_dir=a.out_dir, encoder=a.encoder, data_dir=a.data_dir)
    report_dir = s.out_dir / "report"
    executed_dir = (report_dir / "executed") if s.mode == "full" else (s.out_dir / "executed")
    for d in (report_dir, executed_dir, s.figures_dir, s.results_dir):
        d.mkdir(parents=True, exist_ok=True)
    chosen = [nb for nb in notebooks() if not a.only or nb.name[:2] in a.only]
    total = time.perf_counter()
    for k, nb in enumerate(chosen, 1):
        print(f"[report] ({k}/{len(chosen)}) {nb.name} mode={s.mode} ...", flush=True)
        start = time.perf_counter()
        try:
            given = {"eval_cap": a.eval_cap, "seeds": a.seeds}
            extra = {k: v for k, v in given.items() if v is not None and k in _parameter_names(nb)}
            html = run_notebook(nb, s, report_dir, executed_dir, extra)
        except Exception as exc:  # papermill's error names the cell; pass it on
            cell = getattr(exc, "exec_count", None)
            print(f"[report] FAILED: {nb.name}, cell {cell}: {getattr(exc, 'ename', type(exc).__name__)}: "
                  f"{getattr(exc, 'evalue', exc)}\n[report] executed copy: {executed_dir / nb.name}",
                  file=sys.stderr, flush=True)
            return 1
        print(f"[report]     done in {time.perf_counter() - start:.0f} s -> {html}", flush=True)
    print(f"[report] {len(chosen)} notebook(s) in {time.perf_counter() - total:.0f} s; "
          f"figures in {s.figures_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
