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

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Method:
    """A ranking method: the variant it runs (helpers.methods.experiment / helpers.methods.peers)."""

    name: str
    variant_name: str
    description: str


METHODS = {m.name: m for m in (
    Method("lora", "lora", "the study's method: phase 1 (contrastive LoRA) + logistic regression"),
    Method("base", "base", "the encoder without phase 1 + logistic regression"),
    Method("tfidf", "tfidf+lr", "TF-IDF (1-2-grams) + logistic regression"),
    Method("asreview", "asreview-oneshot", "ASReview's default model (TF-IDF + SVM), fitted once"),
    Method("asreview+base", "concat:asreview+base@0.5",
           "ASReview's TF-IDF + SVM with the encoder's embeddings (weight 0.5) as extra features: "
           "notebook 08's recipe, chosen on its development reviews"),
)}
DEFAULT_METHOD = "asreview"


@dataclass
class Screened:
    """The ranked records (input columns + score, rank, labelled, label, no_abstract,
    duplicate) and what the summary reports."""

    records: pd.DataFrame
    summary: dict


# ---------------------------------------------------------------- reading

def _asreview_extension(group: str, path: Path):
    """ASReview's reader or writer (``group``) for this file's suffix; ASReview imported through
    ``peers.load_asreview``, so nothing is written into the working directory."""
    from ..methods.peers import load_asreview

    load_asreview()
    from asreview.extensions import load_extension

    return load_extension(group, path.suffix.lower())


def _reader(path: Path):
    return _asreview_extension("readers", path)


def _writer(path: Path):
    return _asreview_extension("writers", path)


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


# ---------------------------------------------------------------- ranking

def method_variant(method: str):
    """The results-table variant a method runs, so a ranking here is the sweep's ranking. Only
    the chosen method's module is imported: TF-IDF and ASReview never load torch."""
    if method not in METHODS:
        raise ScreenError(f"method {method!r} unknown; choose one of {', '.join(METHODS)}")
    if method == "tfidf":
        from ..methods.peers import TFIDF_LR
        return TFIDF_LR
    if method == "asreview":
        from ..methods.peers import ASREVIEW_ONESHOT
        return ASREVIEW_ONESHOT
    if method in ("base", "lora"):
        from ..methods.variants import Base, Lora
        return Base() if method == "base" else Lora()
    from ..methods.beyond import candidate

    return candidate(METHODS[method].variant_name)


def rank(prepared: pd.DataFrame, *, method: str = DEFAULT_METHOD, encoder: str = "auto", seed: int = 0,
         name: str = "your review") -> np.ndarray:
    """A score per unlabelled record (higher = more likely included): the chosen method
    trained on the labelled records exactly as ``helpers.methods.experiment`` trains it on a review's
    16 (included first, then excluded, each in file order)."""
    from ..core.config import SweepConfig
    from ..compute.fewshot import Split
    from ..methods.trial import ReviewData, Trial

    variant = method_variant(method)
    trial = Trial(SweepConfig(encoder=encoder), name, seed)
    sep = trial.encoder.sep_token if variant.uses_encoder else " "
    labels = prepared["label"]
    split = Split(train=np.r_[np.flatnonzero((labels == 1).fillna(False).to_numpy()),
                              np.flatnonzero((labels == 0).fillna(False).to_numpy())],
                  eval=np.flatnonzero(labels.isna().to_numpy()))
    table = prepared.assign(text=prepared["title"] + sep + prepared["abstract"], label=labels.fillna(0).astype(int))
    trial.data = ReviewData(name, table, split, seed, n_per_class=0, eval_cap=None)
    return np.asarray(variant.score(trial).scores, dtype=float)


def screen(input_path: str | Path, *, label_column: str | None = None, method: str = DEFAULT_METHOD,
           encoder: str = "auto", seed: int = 0) -> Screened:
    """Read, check, rank. ``records`` keeps the file's own columns plus score, rank, labelled,
    label, no_abstract and duplicate; unlabelled records come first by score (rank 1 = read
    first), then the labelled ones (no score: they are screened already)."""
    path = Path(input_path)
    start = time.perf_counter()
    raw = read_references(path)
    prepared = prepare(raw, path=path, label_column=label_column)
    check_labels(prepared, path=path)
    replaced = own_columns(raw, path=path)
    labelled = prepared["label"].notna().to_numpy()
    scores = np.full(len(prepared), np.nan)
    from ..methods.peers import NoUsableText

    try:
        scores[~labelled] = rank(prepared, method=method, encoder=encoder, seed=seed, name=path.stem)
    except NoUsableText as exc:
        raise ScreenError(f"{path}: {exc} (columns title, abstract); --method {method} cannot rank this file, "
                          "--method base or lora read any text") from exc
    out = raw.drop(columns=replaced)
    out["score"] = scores
    out["labelled"] = labelled
    out[TRAINING_LABEL] = prepared["label"].to_numpy()
    out["no_abstract"] = prepared["no_abstract"].to_numpy()
    out["duplicate"] = prepared["duplicate"].to_numpy()
    order = np.r_[np.flatnonzero(~labelled)[np.argsort(-scores[~labelled], kind="stable")], np.flatnonzero(labelled)]
    out = out.iloc[order]
    out["rank"] = pd.array([*range(1, int((~labelled).sum()) + 1)] + [pd.NA] * int(labelled.sum()), dtype="Int64")
    summary = {"file": path.name, "records": len(raw), "decisions read from": decisions_note(prepared),
               "labelled included": int((prepared["label"] == 1).sum()),
               "labelled excluded": int((prepared["label"] == 0).sum()), "to rank": int((~labelled).sum()),
               "without abstract (ranked on title)": int(prepared["no_abstract"].sum()),
               "duplicates (kept, flagged)": int(prepared["duplicate"].sum()), "method": method,
               "encoder": (_encoder_label(encoder) if method_variant(method).uses_encoder
                           else "– (TF-IDF, no encoder)"),
               "seconds": round(time.perf_counter() - start, 1)}
    if replaced:
        summary["replaced (an earlier round's)"] = ", ".join(map(str, replaced))
    return Screened(out, summary)


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


SHOWN_COLUMNS = ["title", "rank", "score", "labelled", TRAINING_LABEL, "no_abstract", "duplicate"]


def screen_stored(input_path: str | Path, *, folder: Path, recompute: bool = False, label_column: str | None = None,
                  method: str = DEFAULT_METHOD, encoder: str = "auto", seed: int = 0) -> Screened:
    """``screen`` as a keyed artefact (helpers.core.artefacts) for notebook 00: the ranking of this
    file's exact content by this method, seed and encoder is computed once and redrawn from
    then on. The records keep the columns the page shows, with the file's record positions as
    their index."""
    import hashlib

    from ..core.artefacts import stored

    path = Path(input_path)
    identity = None
    if method_variant(method).uses_encoder:
        from ..core.config import SweepConfig
        from ..methods.trial import encoder_for

        identity = encoder_for(SweepConfig(encoder=encoder)).identity()
    key = {"file": hashlib.sha256(path.read_bytes()).hexdigest(), "method": method, "label_column": label_column,
           "seed": seed, "encoder": identity, "columns": SHOWN_COLUMNS}

    def compute() -> dict:
        result = screen(path, label_column=label_column, method=method, encoder=encoder, seed=seed)
        records = result.records.reindex(columns=SHOWN_COLUMNS).rename_axis("position").reset_index()
        return {"records": records.astype({TRAINING_LABEL: float, "rank": float}), "summary": result.summary}

    values = stored("00_ranking", key, compute, folder=folder, recompute=recompute)
    return Screened(values["records"].set_index("position").rename_axis(None), values["summary"])


def _encoder_label(encoder: str) -> str:
    from ..core.config import SweepConfig
    from ..methods.trial import encoder_for

    return encoder_for(SweepConfig(encoder=encoder)).label


def demo_file(review: str, folder: Path, *, seed: int = 0, n_per_class: int = STUDY_PER_CLASS,
              data_dir=None) -> tuple[Path, pd.Series]:
    """A shared review as a user's export with every label hidden except the seeded 8 + 8 the
    experiments train on (the same split as ``helpers.methods.experiment`` for that seed). Returns the
    CSV and the hidden labels (by record position) for checking the ranking afterwards."""
    from ..core.data import load_review
    from ..compute.fewshot import fewshot_split

    table = load_review(review, data_dir)
    split = fewshot_split(table["label"].to_numpy(), n_per_class=n_per_class, seed=seed)
    shown = pd.Series("", index=table.index, dtype=object)
    shown.iloc[split.train] = table["label"].iloc[split.train].map({1: "yes", 0: "no"})
    path = Path(folder) / f"{review}_{n_per_class}+{n_per_class}_seed{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table[["record_id", "title", "abstract"]].assign(included=shown.to_numpy()).to_csv(path, index=False)
    return path, table["label"]


# ---------------------------------------------------------------- writing

def default_output(input_path: Path) -> Path:
    return input_path.with_name(f"{input_path.stem}.ranked{input_path.suffix}")


def write(screened: Screened, output_path: Path, *, input_path: Path) -> Path:
    """Write the ranked records in the output's format (ASReview's writers), atomically, and
    never over the input."""
    from ..core.io import atomic_path

    output_path = check_output(output_path, input_path=input_path)
    records = screened.records
    if output_path.suffix.lower() in (".ris", ".txt"):  # RIS keeps extra fields as ASReview notes
        records = records.rename(columns={c: f"asreview_{c}" for c in ("score", "rank", "labelled", "no_abstract",
                                                                         "duplicate")})
        def optional_ints(values) -> pd.Series:  # None stays None (ASReview's "not seen"), not NaN
            return pd.Series([None if pd.isna(v) else int(v) for v in values], index=records.index, dtype=object)

        records = records.drop(columns=["included", TRAINING_LABEL], errors="ignore").assign(
            asreview_label=optional_ints(records[TRAINING_LABEL]), asreview_rank=optional_ints(records["asreview_rank"]))
    if output_path.suffix.lower() == ".xlsx":
        records, cleaned = xlsx_safe(records)
        if cleaned:
            screened.summary["control characters removed (XLSX cannot hold them)"] = cleaned
    with atomic_path(output_path) as tmp:
        writer = _writer(output_path)
        target = tmp.with_suffix(output_path.suffix)  # ASReview's writers pick the format by suffix
        try:
            if output_path.suffix.lower() in (".ris", ".txt", ".xlsx"):
                writer.write_data(records.reset_index(drop=True), target)
            else:
                writer.write_data(records.reset_index(drop=True).rename_axis("position"), target)
            target.replace(tmp)
        finally:
            target.unlink(missing_ok=True)
    return output_path


def xlsx_safe(records: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The records with the control characters an XLSX cell cannot hold removed from every text
    value, and how many values had any."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cleaned = 0
    out = records.copy()
    for column in out.columns:
        if out[column].dtype == object:
            text = out[column].map(lambda v: v if not isinstance(v, str) else ILLEGAL_CHARACTERS_RE.sub("", v))
            cleaned += int((text != out[column]).sum() - (text.isna() & out[column].isna()).sum())
            out[column] = text
    return out, cleaned


def skip_slow_optional_imports() -> None:
    """For the command's own process: ASReview's readers import jsonschema, whose optional IRI
    format checker (``rfc3987_syntax``) compiles a grammar at import — a second of a 3 s run —
    and nothing here validates IRIs; marking it absent lets jsonschema skip it, as it does
    where the package is not installed."""
    sys.modules.setdefault("rfc3987_syntax", None)


# ---------------------------------------------------------------- when to stop

ORDER_COLUMNS = ("rank", "asreview_rank", "asreview_ranking")  # slr-screen's (CSV, RIS notes), ASReview's export


@dataclass
class StoppingCheck:
    """Where a partly screened file stands under each stopping rule."""

    file: str
    read: int                 # records read so far (labelled, in reading order)
    total: int                # records in the file
    found: int                # included records among those read
    decisions_from: str       # where the decisions were read from, and how many
    recommendation: str       # the recommended rule's verdict, in one sentence
    decisions: list           # the heuristics' verdicts: (rule, "stop" | "go on", detail)
    test_now: str             # the statistical test on every record read so far: its p-value and recall bound
    sample_size: int          # random draws from the unread records the statistical rule needs (0: none)
    sample_path: Path | None  # where those records were written


def reading_labels(raw: pd.DataFrame, prepared: pd.DataFrame, *, path: Path, order_column: str | None) -> np.ndarray:
    """The labels of the records read, in reading order: records labelled before the ranking (no
    order value) first, in file order, then by the order column. The labelled records must be the
    first ones of that order; a gap, an unreadable or repeated order value, or a labelled record
    without one is an error naming the file, column and record."""
    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    column = (by_lower.get(order_column.strip().lower()) if order_column else
              next((by_lower[c] for c in ORDER_COLUMNS if c in by_lower), None))
    if column is None:
        wanted = f"no column {order_column!r} (order_column)" if order_column else \
            f"no reading order (a column {' / '.join(ORDER_COLUMNS)}; name yours with --order-column)"
        raise ScreenError(f"{path}: {wanted}; columns: {list(raw.columns)}")
    text = raw[column].map(lambda v: "" if pd.isna(v) else str(v).strip())
    numbers = pd.to_numeric(text.replace("", np.nan), errors="coerce")
    bad = np.flatnonzero(((text != "") & (numbers.isna() | (numbers != numbers.round()))).to_numpy())
    values = numbers.to_numpy(dtype=float)
    if len(bad):
        raise ScreenError(f"{path}: column {column!r} has order value {raw[column].iloc[bad[0]]!r} at record "
                          f"{bad[0] + 1}, not a whole number")
    labelled = prepared["label"].notna().to_numpy()
    ranked = ~np.isnan(values)
    before = np.flatnonzero(~ranked)
    if (~labelled[before]).any():
        record = before[~labelled[before]][0]
        raise ScreenError(f"{path}: record {record + 1} has no {column!r} and no label: every record without an order "
                          "value must have been labelled before the ranking")
    order = np.flatnonzero(ranked)[np.argsort(values[ranked], kind="stable")]
    repeated = pd.Series(values[order]).duplicated()
    if repeated.any():
        record = order[int(np.flatnonzero(repeated.to_numpy())[0])]
        raise ScreenError(f"{path}: column {column!r} gives {int(values[record])} to more than one record "
                          f"(record {record + 1})")
    read_flags = labelled[order]
    if read_flags.any() and not read_flags[:read_flags.sum()].all():
        gap = order[int(np.argmin(read_flags))]
        later = order[len(read_flags) - 1 - int(np.argmax(read_flags[::-1]))]
        raise ScreenError(f"{path}: record {gap + 1} ({column} {int(values[gap])}) is not labelled but record "
                          f"{later + 1} ({column} {int(values[later])}) is: labels must follow the reading order "
                          "without gaps")
    sequence = np.r_[before, order[:int(read_flags.sum())]]
    return prepared["label"].to_numpy()[sequence].astype(int)


def check_stopping(input_path: str | Path, *, label_column: str | None = None, order_column: str | None = None,
                   recall_target: float = 0.95, confidence: float = 0.95, consecutive: int = 50, seed: int = 0,
                   sample_output: Path | None = None) -> StoppingCheck:
    """Each rule's verdict on a file screened in reading order so far, with the statistical
    rule's p-value and the recall it is confident of; where it says go on, the number of records
    to draw at random from the unread ones (all of them turning out excluded would let it stop)
    and which ones (seeded), written atomically beside the input."""
    from ..compute import stopping
    from ..core.io import atomic_path

    path = Path(input_path)
    raw = read_references(path)
    prepared = prepare(raw, path=path, label_column=label_column)
    labels = reading_labels(raw, prepared, path=path, order_column=order_column)
    if labels.sum() == 0:
        raise ScreenError(f"{path}: no included record among the {len(labels)} read; no rule can estimate recall yet")
    total = len(raw)
    recommendation = recommended_verdict(labels, total, recall_target=recall_target, confidence=confidence)
    p = stopping.p_missed(labels, total, recall_target=recall_target)
    bound = stopping.recall_bound(labels, total, confidence=confidence)
    test_now = (f"p = {p:.3g} that recall is below {recall_target:.0%} after all {len(labels):,} read; recall ≥ "
                f"{bound:.1%} with {confidence:.0%} confidence (the rule above tests every "
                f"{stopping.RECOMMENDED.check_every} records)")
    run = len(labels) - 1 - int(np.flatnonzero(labels)[-1])
    ratio = stopping.knee_ratio(labels)[-1]
    heuristics = [(stopping.Consecutive(consecutive), f"the last {run} read are excluded"),
                  (stopping.Knee(), f"slope ratio {ratio:.1f}, needs {stopping.knee_threshold(int(labels.sum()))} "
                                    "(Cormack & Grossman)")]
    decisions = [(rule.name, "go on" if rule.stop(labels, total).at is None else "stop", detail)
                 for rule, detail in heuristics]
    sample_size = stopping.random_sample_needed(labels, total, recall_target=recall_target, confidence=confidence)
    sample_path = None
    if sample_size:
        read_rows = set(np.flatnonzero(prepared["label"].notna().to_numpy()))
        unread = np.array([i for i in range(total) if i not in read_rows])
        picked = np.sort(np.random.default_rng(seed).choice(unread, size=min(sample_size, len(unread)), replace=False))
        sample_path = check_output(Path(sample_output) if sample_output else path.with_name(f"{path.stem}.sample.csv"),
                                   input_path=path, option="--sample-output", suffixes=(".csv",))
        with atomic_path(sample_path) as tmp:
            raw.iloc[picked].assign(record=picked + 1).to_csv(tmp, index=False)
    return StoppingCheck(path.name, len(labels), total, int(labels.sum()), decisions_note(prepared), recommendation,
                         decisions, test_now, sample_size, sample_path)


def recommended_verdict(labels: np.ndarray, total: int, *, recall_target: float, confidence: float) -> str:
    """The recommended rule (``helpers.compute.stopping.recommended``) in one plain sentence: stop, or how
    many more records (all excluded) it needs; with the most included records that may still be
    unread at that confidence."""
    from ..compute import stopping

    rule = stopping.recommended_rule(recall_target=recall_target, confidence=confidence)
    found = int(labels.sum())
    bound = stopping.recall_bound(labels, total, confidence=confidence, bias=rule.bias)
    unread = (f"at most {max(math.floor(found / bound - found + 1e-9), 0):,} included records are still unread "
              f"({confidence:.0%} confidence)" if bound > 0 else "it cannot yet bound the included records still unread")
    if rule.stop(labels, total).at is not None:
        return f"stop: recall ≥ {recall_target:.0%} with {confidence:.0%} confidence ({rule.name}); {unread}"
    to_go = rule.records_to_go(labels, total)
    ahead = ("no point before the last record lets it stop: screen every record" if to_go is None else
             f"about {to_go:,} more records, all excluded, before this rule can stop")
    return f"go on: {ahead} ({rule.name}); {unread}"


def check_output(output_path: Path, *, input_path: Path, option: str = "--output",
                 suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """An output path that can be written: a format it is written in (``suffixes``), not the
    input, not a folder, in a folder that exists (or can be made) and is writable — checked
    before any work, and again where it is written."""
    from ..core.config import writable_folder

    output_path, input_path = Path(output_path), Path(input_path)
    if output_path.is_dir():
        raise ScreenError(f"{option} {output_path}: is a folder; name a file")
    if output_path.suffix.lower() not in suffixes:
        raise ScreenError(f"{option} {output_path}: unsupported format {output_path.suffix!r}; use one of {', '.join(suffixes)}")
    if output_path.resolve() == input_path.resolve():
        raise ScreenError(f"{option} {output_path}: would overwrite the input; choose another file")
    try:
        writable_folder(output_path.parent)
    except ValueError as exc:
        raise ScreenError(f"{option} {exc}") from None
    return output_path


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
    from ..core.config import CommandParser

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
    from ..core.config import offline

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
