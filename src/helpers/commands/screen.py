"""Screen your own review: a reference file with some records labelled → every record ranked.

    slr-screen refs.ris                                   # writes refs.ranked.ris
    slr-screen refs.csv --method lora --output ranked.xlsx
    python -m helpers.commands.screen refs.tsv --label-column decision

Files are read and written with ASReview's own readers and writers (CSV, TSV, XLSX, RIS), so
ASReview's column conventions hold: title (or primary_title), abstract, and a label column
(asreview_label, included, label, final_included, label_included, ...; RIS: ASReview's notes).
Labels: 1/0, yes/no, y/n, included/excluded, include/exclude, relevant/irrelevant,
true/false; blank = not screened yet. The labelled records train the chosen method; every
record gets a score, the unlabelled ones a rank (1 = read first). Nothing is dropped: records
without abstract are ranked on their title and flagged, duplicates are kept and flagged. The
input file is never modified; the output is written atomically and never over the input.
"""

# slr-screen's command line alone: its options, checked before any work, and what it prints. The
# docstring above is its --help; the work is done by screen_input (reading and checking the file),
# screen_rank (ranking), screen_output (writing) and screen_stopping (--check-stopping).

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .screen_input import ScreenError
from .screen_output import check_output, default_output, write
from .screen_rank import DEFAULT_METHOD, METHODS, screen
from .screen_stopping import ORDER_COLUMNS, check_stopping


def skip_slow_optional_imports() -> None:
    """For the command's own process: ASReview's readers import jsonschema, whose optional IRI
    format checker (``rfc3987_syntax``) compiles a grammar at import — a second of a 3 s run —
    and nothing here validates IRIs; marking it absent lets jsonschema skip it, as it does
    where the package is not installed."""
    sys.modules.setdefault("rfc3987_syntax", None)


def check_options(a: argparse.Namespace) -> None:
    """Every option and path checked before any work: each problem is a ScreenError naming it."""
    path = Path(a.input_path)
    if path.is_dir():
        raise ScreenError(f"{path}: is a folder; give the reference file itself")
    if not path.is_file():
        raise ScreenError(f"{path}: file not found")
    if a.seed < 0:
        raise ScreenError(f"--seed {a.seed}: must be >= 0")
    if a.check_stopping:
        for option in ("recall_target", "confidence"):
            if not 0 < getattr(a, option) < 1:
                raise ScreenError(f"--{option.replace('_', '-')} {getattr(a, option)}: must be between 0 and 1")
        if a.consecutive < 1:
            raise ScreenError(f"--consecutive {a.consecutive}: must be at least 1 (excluded records in a row)")
        check_output(Path(a.sample_output) if a.sample_output else path.with_name(f"{path.stem}.sample.csv"),
                     input_path=path, option="--sample-output", suffixes=(".csv",))
    else:
        check_output(Path(a.output) if a.output else default_output(path), input_path=path)


def _parser() -> argparse.ArgumentParser:
    from ..core.cli import CommandParser

    p = CommandParser(prog="slr-screen", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input_path", help="CSV, TSV, XLSX or RIS file with some records labelled")
    p.add_argument("--label-column", default=None,
                   help="the column of your decisions (default: the one column with an ASReview label name)")
    p.add_argument("--method", default=DEFAULT_METHOD, choices=list(METHODS),
                   help=f"ranking method (default {DEFAULT_METHOD}: " + METHODS[DEFAULT_METHOD].description + ")")
    p.add_argument("--output", default=None, help="output file (default: <input>.ranked.<ext>); its suffix picks the format")
    p.add_argument("--encoder", default="auto", help="for lora/base: hub id in the local cache or a folder")
    p.add_argument("--seed", type=int, default=0, help="the ranking's (and the stopping sample's) random seed")
    p.add_argument("--check-stopping", action="store_true",
                   help="instead of ranking: say for each stopping rule whether the records labelled so far, read in "
                        "the file's order, allow stopping (and which records to sample at random if not)")
    p.add_argument("--order-column", default=None,
                   help=f"with --check-stopping: the reading order (default: {', '.join(ORDER_COLUMNS)})")
    p.add_argument("--recall-target", type=float, default=0.95, help="with --check-stopping (default 0.95)")
    p.add_argument("--confidence", type=float, default=0.95, help="with --check-stopping (default 0.95)")
    p.add_argument("--consecutive", type=int, default=50,
                   help="with --check-stopping: excluded records in a row that end screening (default 50)")
    p.add_argument("--sample-output", default=None,
                   help="with --check-stopping: where the records to sample go (default: <input>.sample.csv)")
    return p


def main(argv: list[str] | None = None) -> int:
    from ..core.cli import offline

    offline()
    skip_slow_optional_imports()
    a = _parser().parse_args(argv)
    try:
        check_options(a)
        if a.check_stopping:
            return _print_stopping(a)
        result = screen(a.input_path, label_column=a.label_column, method=a.method, encoder=a.encoder, seed=a.seed)
        out = write(result, Path(a.output) if a.output else default_output(Path(a.input_path)),
                    input_path=Path(a.input_path))
    except ScreenError as exc:  # one line: a reader's message may span several
        print("slr-screen: " + " ".join(part.strip() for part in str(exc).splitlines() if part.strip()), file=sys.stderr)
        return 2
    width = max(map(len, result.summary))
    for k, v in result.summary.items():
        print(f"{k:<{width}}  {v:,}" if isinstance(v, int) else f"{k:<{width}}  {v}")
    print(f"{'written':<{width}}  {out}")
    return 0


def _print_stopping(a) -> int:
    check = check_stopping(a.input_path, label_column=a.label_column, order_column=a.order_column,
                           recall_target=a.recall_target, confidence=a.confidence, consecutive=a.consecutive,
                           seed=a.seed, sample_output=a.sample_output)
    print(f"{check.file}: {check.read:,} of {check.total:,} records read in order, {check.found:,} included "
          f"(decisions read from {check.decisions_from})")
    print(f"  {check.recommendation}")
    print(f"  {check.test_now}")
    print("  heuristics, without a recall guarantee:")
    for rule, decision, detail in check.decisions:
        print(f"  {decision:<6} {rule}: {detail}")
    if check.sample_size:
        print(f"  to settle the statistical rule: screen {check.sample_size:,} records drawn at random from the unread "
              f"ones (seed {a.seed}); if all are excluded it says stop. Written: {check.sample_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
