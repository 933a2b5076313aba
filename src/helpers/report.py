"""Run the numbered notebooks headlessly with papermill and build the HTML book.

    python -m helpers.report --mode smoke          # minutes, outputs under build/smoke/
    python -m helpers.report --mode full           # the study's settings: figures/, results/, report/

Every option is checked before any work starts. Rows of the results table whose settings
match are reused (said at the start and the end); --recompute recomputes them into
results/results.recomputed.csv. Nothing is downloaded unless --fetch is given. Smoke output
never overwrites the committed full-mode figures. Progress bars stay on this terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from .config import MODES, project_root, settings


def notebooks(root: Path | None = None) -> list[Path]:
    return sorted((root or project_root()).joinpath("notebooks").glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path: Path, executed_dir: Path, params: dict) -> Path:
    """Execute one notebook with papermill; returns the executed copy. Cell outputs stay in
    the notebook; the kernel's own stderr (progress bars) goes to this terminal. Papermill
    writes its output as it goes, so it writes to a hidden partial copy that replaces the
    executed one only on success: a killed or failed run leaves the book's page as it was."""
    import papermill as pm

    executed = executed_dir / path.name
    partial = partial_copy(executed)
    pm.execute_notebook(str(path), str(partial), parameters=params, cwd=str(path.parent),
                        kernel_name="python3", progress_bar=False)
    os.replace(partial, executed)
    return executed


def partial_copy(executed: Path) -> Path:
    """Where a run in progress keeps its output; hidden, so the book never picks it up."""
    return executed.with_name(f".{executed.stem}.partial.ipynb")


def _parameter_names(path: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(path)))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m helpers.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=MODES, default="smoke")
    p.add_argument("--encoder", default="auto",
                   help="hub id (in the local Hugging Face cache) or local folder; auto = allenai/specter "
                        "if available offline, else the packaged all-MiniLM-L6-v2")
    p.add_argument("--normalize", choices=("auto", "true", "false"), default="auto",
                   help="L2-normalise embeddings; auto = what the model declares (MiniLM: yes, SPECTER: no)")
    p.add_argument("--data-dir", default=None,
                   help="folder of <slug>.csv.gz (default: $SLR_DATA_DIR, ../shared/data/slr, data/slr)")
    p.add_argument("--fetch", action="store_true",
                   help="download the missing reviews into --data-dir first (needs internet)")
    p.add_argument("--only", nargs="+", default=None, metavar="NN", help="notebook numbers, e.g. 01 03")
    p.add_argument("--out-dir", default=None, help="output root instead of the mode's")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds of every notebook that trains")
    p.add_argument("--eval-cap", type=int, default=None,
                   help="cap the evaluation citations per review (included ones are never dropped; >= 2)")
    p.add_argument("--reviews", nargs="+", default=None, help="reviews of the sweeps (default: every one with text)")
    p.add_argument("--scheduler", default=None, help="local:N or tcp://HOST:PORT (Dask); default: in-process")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when present)")
    p.add_argument("--recompute", action="store_true",
                   help="recompute every row into results/results.recomputed.csv instead of reusing results.csv")
    p.add_argument("--show-code", action="store_true", help="show code cells unfolded in the HTML book")
    return p


def check_options(a: argparse.Namespace, p: argparse.ArgumentParser) -> list[Path]:
    """Every option checked before any work; each problem exits with a message naming the
    option (argparse's exit code 2). Returns the notebooks to run."""
    from .data import REVIEWS, available_reviews, candidate_data_dirs
    from .distributed import check_scheduler
    from .encoder import EncoderError, resolve_device, resolve_encoder_name

    found = notebooks()
    numbers = [nb.name[:2] for nb in found]
    if a.only:
        unknown = [n for n in a.only if n not in numbers]
        if unknown:
            p.error(f"--only {' '.join(unknown)}: no such notebook (have: {', '.join(numbers)})")
    if a.seeds is not None:
        if any(s < 0 for s in a.seeds):
            p.error(f"--seeds {' '.join(map(str, a.seeds))}: seeds must be >= 0")
        if len(set(a.seeds)) != len(a.seeds):
            p.error(f"--seeds {' '.join(map(str, a.seeds))}: a seed is repeated")
    if a.eval_cap is not None and a.eval_cap < 2:
        p.error(f"--eval-cap {a.eval_cap}: must be at least 2 (one citation per class)")
    try:
        resolve_encoder_name(a.encoder)
        resolve_device(a.device)
        check_scheduler(a.scheduler)
    except (EncoderError, ValueError) as exc:
        p.error(f"--encoder/--device/--scheduler: {exc}")
    if a.fetch and a.data_dir is None:
        p.error("--fetch needs --data-dir: the folder the downloads go to (nothing is written elsewhere)")
    if a.fetch:
        from .fetch import fetch_missing

        try:
            built = fetch_missing(a.data_dir)
        except OSError as exc:
            p.error(f"--fetch: could not download ({exc.__class__.__name__}: {exc})")
        print(f"[report] fetched into {a.data_dir}: {', '.join(built) or 'nothing new'}", flush=True)
    present = available_reviews(a.data_dir)
    if not present:
        looked = ", ".join(str(d) for d in candidate_data_dirs(a.data_dir))
        p.error(f"--data-dir: no review data (looked in {looked}); copy the prepared <slug>.csv.gz files "
                "there, set SLR_DATA_DIR, or use --fetch --data-dir FOLDER (see data/README.md)")
    if a.reviews:
        unknown = [r for r in a.reviews if r not in REVIEWS]
        absent = [r for r in a.reviews if r in REVIEWS and r not in present]
        if unknown or absent:
            p.error(f"--reviews: unknown {unknown} / without text here {absent}")
    return [nb for nb in found if not a.only or nb.name[:2] in a.only]


def main(argv: list[str] | None = None) -> int:
    from . import results
    from .data import missing_reviews

    p = _parser()
    a = p.parse_args(argv)
    chosen = check_options(a, p)
    normalize = {"auto": "auto", "true": True, "false": False}[a.normalize]
    # absolute: papermill runs each notebook in notebooks/, where a relative path would point elsewhere
    out_dir, data_dir = (None if d is None else str(Path(d).resolve()) for d in (a.out_dir, a.data_dir))
    s = settings(a.mode, out_dir=out_dir, encoder=a.encoder, data_dir=data_dir, normalize=normalize,
                 seeds=a.seeds, eval_cap=a.eval_cap, reviews=a.reviews, scheduler=a.scheduler,
                 device=a.device, recompute=a.recompute or None)
    missing = missing_reviews(data_dir)
    if missing:
        print(f"[report] reviews without text here (named in every notebook): {', '.join(missing)}", flush=True)
    executed_dir = s.out_dir / "report" / "executed"
    for d in (executed_dir, s.figures_dir, s.results_dir):
        d.mkdir(parents=True, exist_ok=True)
    if s.recompute:
        s.results_path.unlink(missing_ok=True)
    stored = len(results.read(s.results_path))
    print(f"[report] results table {s.results_path}: {stored} rows. Rows whose settings match are reused, "
          f"not recomputed{'' if s.recompute else ' (--recompute recomputes them into results.recomputed.csv)'}.",
          flush=True)
    ledger = Path(tempfile.mkstemp(prefix="slr-ledger-", suffix=".txt")[1])
    os.environ[results.LEDGER_ENV] = str(ledger)
    params = {"mode": s.mode, "encoder": s.encoder, "data_dir": s.data_dir, "out_dir": str(s.out_dir),
              "normalize": s.normalize, "seeds": a.seeds, "eval_cap": a.eval_cap, "reviews": a.reviews,
              "scheduler": s.scheduler, "device": s.device, "recompute": s.recompute}
    total = time.perf_counter()
    try:
        for k, nb in enumerate(chosen, 1):
            print(f"[report] ({k}/{len(chosen)}) {nb.name} mode={s.mode} ...", flush=True)
            start = time.perf_counter()
            accepted = _parameter_names(nb)
            given = {name: v for name, v in params.items() if name in accepted and v is not None}
            try:
                run_notebook(nb, executed_dir, given)
            except Exception as exc:  # papermill's error names the cell; pass it on
                cell = getattr(exc, "exec_count", None)
                print(f"[report] FAILED: {nb.name}, cell {cell}: {getattr(exc, 'ename', type(exc).__name__)}: "
                      f"{getattr(exc, 'evalue', exc)}\n[report] the failed run's copy: "
                      f"{partial_copy(executed_dir / nb.name)} (the book's page is unchanged)",
                      file=sys.stderr, flush=True)
                return 1
            print(f"[report]     done in {time.perf_counter() - start:.0f} s", flush=True)
        reused, computed = results.read_usage(ledger)
    finally:
        ledger.unlink(missing_ok=True)
        os.environ.pop(results.LEDGER_ENV, None)
    from .book import build_book

    index = build_book(s.out_dir, executed_dir, show_code=a.show_code, mode=s.mode)
    print(f"[report] {len(chosen)} notebook(s) in {time.perf_counter() - total:.0f} s; results rows reused: "
          f"{reused}, computed: {computed}; book: {index}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
