"""slr-screen's output: where the ranked records may be written, and writing them.

The output is written with ASReview's own writers, in the format its suffix names (RIS keeps
slr-screen's columns as ASReview notes; XLSX loses the control characters it cannot hold),
atomically and never over the input. ``check_output`` is the one check of an output path, made
before any work (by the command line) and again where a file is written (the ranking, the
stopping check's sample). Apart from reading and ranking so that every path written is checked
in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .screen_input import SUFFIXES, TRAINING_LABEL, ScreenError, asreview_extension

if TYPE_CHECKING:
    from .screen_rank import Screened


def _writer(path: Path):
    return asreview_extension("writers", path)


def default_output(input_path: Path) -> Path:
    return input_path.with_name(f"{input_path.stem}.ranked{input_path.suffix}")


def write(screened: Screened, output_path: Path, *, input_path: Path) -> Path:
    """Write the ranked records in the output's format (ASReview's writers), atomically, and
    never over the input. A CSV, TSV or XLSX leads with ``position``: each record's place in the file
    that was read (1 = its first record, as the stopping check's sample numbers them), so a
    ranked row can be found again in the input."""
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
            if output_path.suffix.lower() in (".ris", ".txt"):  # RIS has no column for it
                writer.write_data(records.reset_index(drop=True), target)
            else:
                writer.write_data(records.set_axis(records.index + 1).rename_axis("position"), target)
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


def check_output(output_path: Path, *, input_path: Path, option: str = "--output",
                 suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """An output path that can be written: a format it is written in (``suffixes``), not the
    input, not a folder, in a folder that exists (or can be made) and is writable — checked
    before any work, and again where it is written."""
    from ..core.project import writable_folder

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
