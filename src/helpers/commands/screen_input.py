"""slr-screen's input: a user's reference file read, checked and prepared for ranking.

Files are read with ASReview's own readers (CSV, TSV, XLSX, RIS), so ASReview's column
conventions hold: title (or primary_title), abstract, and a label column (asreview_label,
included, label, final_included, label_included, ...; RIS: ASReview's notes). Labels: 1/0,
yes/no, y/n, included/excluded, include/exclude, relevant/irrelevant, true/false; blank = not
screened yet. The decision column is chosen once (``decision_column``) and said
(``decisions_note``). Nothing is dropped: records without abstract are flagged, duplicates are
kept and flagged. Every problem is a ``ScreenError`` naming the file, column and value, raised
before any ranking. Apart from ranking, writing and the command line so that what is read, and
how, is decided in one place that the ranking (``screen_rank``) and the stopping check
(``screen_stopping``) share.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute.fewshot import STUDY_PER_CLASS

POSITIVE = {"1", "1.0", "yes", "y", "true", "included", "include", "relevant"}
NEGATIVE = {"0", "0.0", "no", "n", "false", "excluded", "exclude", "irrelevant"}
SUFFIXES = (".csv", ".tsv", ".tab", ".xlsx", ".ris", ".txt")


class ScreenError(ValueError):
    """A reference file that cannot be screened; the message names file, column and value."""


# The columns slr-screen writes. Its training labels have a name of their own, so a later round
# never reads them as the reviewer's decisions; a file that already holds any of these (the output
# of an earlier round) has them replaced, and the summary says so.
TRAINING_LABEL = "slr_training_label"
OWN_COLUMNS = ("score", "rank", "labelled", TRAINING_LABEL, "no_abstract", "duplicate", "position")


def asreview_extension(group: str, path: Path):
    """ASReview's reader or writer (``group``) for this file's suffix; ASReview imported through
    ``asreview_peers.load_asreview``, so nothing is written into the working directory."""
    from ..methods.asreview_peers import load_asreview

    load_asreview()
    from asreview.extensions import load_extension

    return load_extension(group, path.suffix.lower())


def _reader(path: Path):
    return asreview_extension("readers", path)


def read_references(path: Path) -> pd.DataFrame:
    """The file's records as ASReview reads them (raw columns), after checks that name the
    file: it exists, has a supported format, is not empty, and text files are UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ScreenError(f"{path}: file not found")
    if path.suffix.lower() not in SUFFIXES:
        raise ScreenError(f"{path}: unsupported format {path.suffix!r}; use one of {', '.join(SUFFIXES)}")
    data = path.read_bytes()
    if not data.strip():
        raise ScreenError(f"{path}: the file is empty")
    if path.suffix.lower() != ".xlsx":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScreenError(f"{path}: not UTF-8 at byte {exc.start} ({data[exc.start:exc.end]!r}); "
                              "save the file as UTF-8 and try again") from exc
    duplicated = _duplicated_columns(path, data)
    if duplicated:  # pandas would silently rename the second one to `<name>.1`
        raise ScreenError(f"{path}: column(s) {duplicated} appear more than once in the header; rename or remove "
                          "the extra one(s)")
    try:
        raw = _reader(path).read_data(path)
    except Exception as exc:  # each reader raises its own kinds
        raise ScreenError(f"{path}: cannot be read as {path.suffix} ({type(exc).__name__}: {exc})") from exc
    if raw.empty:
        raise ScreenError(f"{path}: no records")
    if path.suffix.lower() in (".ris", ".txt"):
        raw = _with_ris_notes(raw, path)
    return raw


def _with_ris_notes(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """ASReview's RIS reader drops the ``asreview_<name>: <value>`` notes its writer stores extra
    columns in (slr-screen's rank and score among them); they are read back here as columns
    ``asreview_<name>``, so a ranked RIS file keeps its reading order for the next round."""
    import json

    import rispy

    with open(path, encoding="utf-8-sig") as f:
        entries = list(rispy.load(f, skip_unknown_tags=True))
    columns: dict[str, list] = {}
    for i, entry in enumerate(entries):
        for note in entry.get("notes", []) or []:
            name, sep, value = str(note).partition(":")
            if sep and name.startswith("asreview_") and name != "asreview_label":
                try:
                    parsed = json.loads(value.strip())
                except ValueError:
                    parsed = value.strip()
                columns.setdefault(name.strip(), [None] * len(entries))[i] = parsed
    if columns and len(entries) != len(raw):
        raise ScreenError(f"{path}: ASReview read {len(raw)} records but the RIS file has {len(entries)} entries, so its "
                          f"notes ({', '.join(sorted(columns))}) cannot be matched to records; export it as CSV instead")
    return raw.assign(**columns) if columns else raw


def _duplicated_columns(path: Path, data: bytes) -> list[str]:
    """Header names that occur more than once (compared as ASReview compares them: trimmed,
    case-insensitive), in a CSV, TSV or XLSX file; RIS has no header."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".tab"):
        import csv
        import io

        text = data.decode("utf-8-sig")
        delimiter = "," if suffix == ".csv" else "\t"
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(path, read_only=True).worksheets[0]
            header = [str(c) for c in next(sheet.iter_rows(max_row=1, values_only=True), ()) if c is not None]
        except Exception as exc:  # zipfile, openpyxl and XML parsers each raise their own kinds
            raise ScreenError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc}); save it from "
                              "Excel as .xlsx, or as .csv") from exc
    else:
        return []
    names = [h.strip().lower() for h in header]
    return sorted({h for h, n in zip(header, names) if n and names.count(n) > 1})


def decision_column(raw: pd.DataFrame, label_column: str | None, path: Path) -> str | None:
    """The one column holding the reviewer's decisions, chosen once per file: the one named, else
    the single column with one of ASReview's label names (``included``, ``label_included``, ...;
    slr-screen's own ``slr_training_label`` is never one). Two such columns that disagree — one
    labels a record the other does not, or labels it otherwise — are an error naming both and the
    first record where they differ; where they agree, the first in ASReview's order is read. None:
    no column (RIS files carry decisions in ASReview's notes)."""
    from asreview.data.base import BaseReader

    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    if label_column is not None:
        if label_column.strip().lower() not in by_lower:
            raise ScreenError(f"{path}: no column {label_column!r} (--label-column); columns: {list(raw.columns)}")
        return by_lower[label_column.strip().lower()]
    names = BaseReader.__alternative_column_names__["included"]
    found = [by_lower[n] for n in names if n in by_lower and n not in OWN_COLUMNS]
    if len(found) > 1:
        first = parse_labels(raw[found[0]], path=path, column=str(found[0]))
        for other in found[1:]:
            values = parse_labels(raw[other], path=path, column=str(other))
            differ = np.flatnonzero((first.fillna(-1) != values.fillna(-1)).to_numpy())
            if len(differ):
                i = int(differ[0])
                shown = lambda v: "blank" if pd.isna(v) else repr(v)  # noqa: E731
                raise ScreenError(f"{path}: columns {found[0]!r} and {other!r} both hold decisions and differ at record "
                                  f"{i + 1} ({found[0]}: {shown(raw[found[0]].iloc[i])}, {other}: "
                                  f"{shown(raw[other].iloc[i])}); name the one to read with --label-column")
    return found[0] if found else None


def parse_labels(values: pd.Series, *, path: Path, column: str) -> pd.Series:
    """1 / 0 / <NA> per record; a value it cannot read is an error naming it and its rows."""
    text = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower())
    text = text.replace({"<na>": "", "nan": "", "none": ""})
    bad = ~text.isin(POSITIVE | NEGATIVE | {""})
    if bad.any():
        shown = sorted(set(values[bad].astype(str)))[:5]
        rows = [int(i) + 1 for i in np.flatnonzero(bad.to_numpy())[:5]]
        raise ScreenError(f"{path}: column {column!r} has label value(s) {shown} it cannot read (record(s) {rows}); "
                          f"use 1/0, yes/no, included/excluded, or leave it blank for records not screened yet")
    return text.map(lambda t: 1 if t in POSITIVE else 0 if t in NEGATIVE else pd.NA).astype("Int64")


def prepare(raw: pd.DataFrame, *, path: Path, label_column: str | None = None) -> pd.DataFrame:
    """Title, abstract, label per record (ASReview's column conventions) and the flags."""
    reader = _reader(path)
    source = decision_column(raw, label_column, path)
    clean = reader.clean_data(raw.copy())
    if "title" not in clean.columns and "abstract" not in clean.columns:
        raise ScreenError(f"{path}: no title or abstract column (ASReview's names: title/primary_title, "
                          f"abstract/notes_abstract); columns: {list(raw.columns)}")
    if source is None and "included" not in clean.columns:
        raise ScreenError(f"{path}: no label column (e.g. 'included' or 'label_included'); name yours with "
                          f"label_column / --label-column; columns: {list(raw.columns)}")
    labels = parse_labels(raw[source] if source is not None else clean["included"], path=path,
                          column=str(source if source is not None else "included (RIS notes)"))
    out_source = str(source) if source is not None else "ASReview's label notes"
    text = pd.DataFrame({col: clean[col].fillna("").astype(str).str.strip() if col in clean.columns else ""
                         for col in ("title", "abstract")})
    if ((text["title"] == "") & (text["abstract"] == "")).all():
        raise ScreenError(f"{path}: every record's title and abstract are empty; nothing to rank on")
    out = text.assign(label=labels.to_numpy(), no_abstract=text["abstract"] == "")
    out.attrs["decisions"] = out_source
    key = (out["title"].str.lower().str.split().str.join(" ") + "\x1f" +
           out["abstract"].str.lower().str.split().str.join(" "))
    out["duplicate"] = key.duplicated(keep="first") & (key != "\x1f")
    return out


def check_labels(prepared: pd.DataFrame, *, path: Path) -> None:
    """At least 2 labelled records per class (phase 1 needs pairs); a warning below the
    study's 8 per class."""
    counts = {cls: int((prepared["label"] == cls).sum()) for cls in (1, 0)}
    for cls, name in ((1, "included"), (0, "excluded")):
        if counts[cls] < 2:
            raise ScreenError(f"{path}: {counts[cls]} record(s) labelled {name}; at least 2 per class are needed")
    if min(counts.values()) < STUDY_PER_CLASS:
        warnings.warn(f"{path}: {counts[1]} included and {counts[0]} excluded labels; the study uses "
                      f"{STUDY_PER_CLASS} per class, fewer make the ranking less reliable", stacklevel=2)
    if counts[1] + counts[0] == len(prepared):
        raise ScreenError(f"{path}: every record is labelled; nothing is left to rank")


def own_columns(raw: pd.DataFrame, *, path: Path) -> list:
    """The columns an earlier round of slr-screen wrote, to be replaced: only in a file that is
    recognisably its output: it has ``slr_training_label``, or the columns are ``asreview_<name>``
    notes of a RIS file (ASReview's writer stores our columns so; RIS has no columns of its own). A
    reviewer's own column of one of these names in any other file is an error naming it — never
    dropped, and never mistaken for ours."""
    named = [c for c in raw.columns if str(c).strip().lower().removeprefix("asreview_") in OWN_COLUMNS]
    ours = (any(str(c).strip().lower().removeprefix("asreview_") == TRAINING_LABEL for c in raw.columns)
            or (path.suffix.lower() in (".ris", ".txt") and all(str(c).startswith("asreview_") for c in named)))
    if named and not ours:
        raise ScreenError(f"{path}: column {named[0]!r} has a name slr-screen writes ({', '.join(OWN_COLUMNS)}), but the "
                          f"file is not an earlier round's output (no {TRAINING_LABEL!r}); rename it so it is kept")
    return named


def decisions_note(prepared: pd.DataFrame) -> str:
    """Where the decisions were read from, and how many: "column `label_included`: 76 labelled,
    10 included"."""
    labels = prepared["label"]
    source = prepared.attrs.get("decisions", "?")
    where = source if source.startswith("ASReview") else f"column `{source}`"
    return f"{where}: {int(labels.notna().sum()):,} labelled, {int((labels == 1).sum()):,} included"
