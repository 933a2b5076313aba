"""Run the numbered notebooks headlessly with papermill and build the HTML book.

    python -m helpers.commands.report --mode smoke          # minutes, outputs under build/smoke/
    python -m helpers.commands.report --mode full           # the study's settings: figures/, results/, report/

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
from contextlib import contextmanager
from pathlib import Path

from ..core.cli import CommandParser, add_knob_options, check_knobs, knob_overrides, offline
from ..core.config import reach_scheduler, settings
from ..core.project import notebook_paths, writable_folder


def notebooks(root: Path | None = None) -> list[Path]:
    """The notebooks this runner executes (a seam the tests replace with their own)."""
    return notebook_paths(root)


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


# what a notebook reuses from another, so with --jobs it starts after it (never computing the same rows twice):
# 05 reuses 03's rows of nsaids; 06 composes the skills 05 ranks; 07 and 08 reuse 05's rows and adapters;
# 09 reads 04's timings, 07's rows and 08's choice; 10 reads 08's choice of recipes
NEEDS = {"05": ("03",), "06": ("05",), "07": ("05",), "08": ("05",), "09": ("04", "07", "08"), "10": ("05", "08"), "11": ("05", "07", "10")}


def run_all(chosen: list[Path], executed_dir: Path, params: dict, *, mode: str, jobs: int = 1) -> bool:
    """Run the notebooks, ``jobs`` at a time, each after the ones it ``NEEDS`` (among those
    chosen). Returns whether any failed: a failure is reported with its notebook and cell, the
    notebooks running finish, and none is started after it."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    numbers = {nb.name[:2] for nb in chosen}
    pending, running, finished, failed = list(chosen), {}, set(), False
    with _kernel_threads(jobs), ThreadPoolExecutor(max_workers=jobs) as pool:
        while pending or running:
            ready = [nb for nb in pending if all(n in finished or n not in numbers for n in NEEDS.get(nb.name[:2], ()))]
            while ready and len(running) < jobs and not failed:
                nb = ready.pop(0)
                pending.remove(nb)
                print(f"[report] ({len(chosen) - len(pending)}/{len(chosen)}) {nb.name} mode={mode} ...", flush=True)
                running[pool.submit(_run_one, nb, executed_dir, params)] = nb
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                nb = running.pop(future)
                failed |= not future.result()
                finished.add(nb.name[:2])
    return failed


@contextmanager
def _kernel_threads(jobs: int):
    """With several notebooks at once, each kernel (they inherit this process's environment) gets
    its share of the cores instead of all of them: on 2 cores, two kernels of 2 threads each ran
    the smoke book 2.5× slower than two of 1 thread. Restored afterwards."""
    before = os.environ.get("OMP_NUM_THREADS")
    if jobs > 1:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def _run_one(nb: Path, executed_dir: Path, params: dict) -> bool:
    start = time.perf_counter()
    accepted = _parameter_names(nb)
    given = {name: v for name, v in params.items() if name in accepted and v is not None}
    try:
        run_notebook(nb, executed_dir, given)
    except Exception as exc:  # papermill's error names the cell; pass it on
        cell = getattr(exc, "exec_count", None)
        print(f"[report] FAILED: {nb.name}, cell {cell}: {getattr(exc, 'ename', type(exc).__name__)}: "
              f"{getattr(exc, 'evalue', exc)}\n[report] the failed run's copy: "
              f"{partial_copy(executed_dir / nb.name)} (the book's page is unchanged)", file=sys.stderr, flush=True)
        return False
    print(f"[report]     {nb.name} done in {time.perf_counter() - start:.0f} s", flush=True)
    return True


def partial_copy(executed: Path) -> Path:
    """Where a run in progress keeps its output; hidden, so the book never picks it up."""
    return executed.with_name(f".{executed.stem}.partial.ipynb")


def _parameter_names(path: Path) -> set[str]:
    import papermill as pm

    return set(pm.inspect_notebook(str(path)))


# the run's knobs on the command line: defined (with their help and checks) once, in helpers.core.config
KNOB_OPTIONS = ("mode", "encoder", "normalize", "data_dir", "out_dir", "seeds", "eval_cap", "reviews", "scheduler",
                "device", "timing_architecture", "country", "recompute")


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="python -m helpers.commands.report", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_knob_options(p, KNOB_OPTIONS)
    # the runner's own options
    p.add_argument("--fetch", action="store_true",
                   help="download the missing reviews into --data-dir first (needs internet)")
    p.add_argument("--only", nargs="+", default=None, metavar="NN", help="notebook numbers, e.g. 01 03")
    p.add_argument("--jobs", type=int, default=1,
                   help="notebooks run at once, each after those whose rows it reuses (default 1; on few cores the "
                        "notebooks' own work already uses every core)")
    p.add_argument("--show-code", action="store_true", help="show code cells unfolded in the HTML book")
    return p


def check_options(a: argparse.Namespace, p: argparse.ArgumentParser) -> list[Path]:
    """Every option checked before any work; each problem exits with a message naming the
    option (argparse's exit code 2). Returns the notebooks to run."""
    from ..core.data import REVIEWS, available_reviews, candidate_data_dirs

    found = notebooks()
    numbers = [nb.name[:2] for nb in found]
    if a.only:
        unknown = [n for n in a.only if n not in numbers]
        if unknown:
            p.error(f"--only {' '.join(unknown)}: no such notebook (have: {', '.join(numbers)})")
    if a.jobs < 1:
        p.error(f"--jobs {a.jobs}: must be at least 1")
    check_knobs(p, a.mode or "smoke", knob_overrides(a, KNOB_OPTIONS))
    for option, check in (("--scheduler", reach_scheduler), ("--out-dir", lambda d: d and writable_folder(d))):
        try:
            check(getattr(a, option[2:].replace("-", "_")))
        except ValueError as exc:
            p.error(f"{option}: {exc}")
    from ..models.encoder import EncoderError, resolve_device, resolve_encoder_name  # torch only once the cheap checks pass

    if a.timing_architecture not in (None, "specter") and not (Path(a.timing_architecture) / "config.json").is_file():
        p.error(f"--timing-architecture {a.timing_architecture}: 'specter' or a model folder with a config.json")
    for option, check in (("--encoder", resolve_encoder_name), ("--device", resolve_device)):
        try:
            check(getattr(a, option[2:]) or "auto")
        except (EncoderError, ValueError) as exc:
            p.error(f"{option}: {exc}")
    if a.fetch and a.data_dir is None:
        p.error("--fetch needs --data-dir: the folder the downloads go to (nothing is written elsewhere)")
    if a.fetch:
        from ..core.fetch import fetch_missing

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
    from ..core import results
    from ..core.data import missing_reviews

    offline()
    p = _parser()
    a = p.parse_args(argv)
    chosen = check_options(a, p)
    given = knob_overrides(a, KNOB_OPTIONS)
    for folder in ("out_dir", "data_dir"):  # absolute: papermill runs each notebook in notebooks/
        if folder in given:
            given[folder] = str(Path(given[folder]).resolve())
    s = settings(a.mode or "smoke", **given)
    missing = missing_reviews(s.data_dir)
    if missing:
        print(f"[report] reviews without text here (named in every notebook): {', '.join(missing)}", flush=True)
    executed_dir = s.out_dir / "report" / "executed"
    for d in (executed_dir, s.figures_dir, s.results_dir):
        d.mkdir(parents=True, exist_ok=True)
    if s.recompute:
        s.results_path.unlink(missing_ok=True)
    stored = len(results.read(s.results_path))
    artefacts = len(list(s.artefacts_dir.glob("*.npz")))
    print(f"[report] results table {s.results_path}: {stored} rows; {s.artefacts_dir}: {artefacts} artefacts (figure "
          "data, timings). Those whose key matches are reused, not recomputed"
          f"{'' if s.recompute else ' (--recompute recomputes them beside the stored ones)'}.", flush=True)
    ledger = Path(tempfile.mkstemp(prefix="slr-ledger-", suffix=".txt")[1])
    os.environ[results.LEDGER_ENV] = str(ledger)
    params = {"mode": s.mode, "encoder": s.encoder, "data_dir": s.data_dir, "out_dir": str(s.out_dir),
              "normalize": s.normalize, "seeds": a.seeds, "eval_cap": a.eval_cap, "reviews": a.reviews,
              "scheduler": s.scheduler, "device": s.device, "timing_architecture": s.timing_architecture,
              "country": s.country, "recompute": s.recompute}
    total = time.perf_counter()
    try:
        failed = run_all(chosen, executed_dir, params, mode=s.mode, jobs=a.jobs)
        if failed:
            return 1
        usage = results.read_usage(ledger)
    finally:
        ledger.unlink(missing_ok=True)
        os.environ.pop(results.LEDGER_ENV, None)
    from ..book.site import build_book

    index = build_book(s.out_dir, executed_dir, show_code=a.show_code, mode=s.mode)
    rows, artefacts = usage["rows"], usage["artefacts"]
    measured = sorted(set(artefacts["measured"]))
    print(f"[report] {len(chosen)} notebook(s) in {time.perf_counter() - total:.0f} s; results rows reused: "
          f"{rows['reused']}, computed: {rows['computed']}; artefacts reused: {artefacts['reused']}, computed: "
          f"{artefacts['computed']}; book: {index}", flush=True)
    if measured:
        print(f"[report] timings measured anew on this machine (no stored ones with its fingerprint): "
              f"{', '.join(measured)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
