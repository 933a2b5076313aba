"""The results table: one row per review × variant × seed × settings, identified by a key of
every setting that changes its numbers. This is the only code that reads or writes
``results/results.csv``; notebooks and sweeps use ``read``, ``select``, ``done`` and ``append``.

A row stores its identity twice: as readable columns (review, data checksum, split, encoder
fingerprint, pooling, max length, normalisation, and the variant's own settings as JSON:
training arguments, compression, composition, peer configuration) and as one hash of all
of them, ``key``, which is what matching uses. A row written before keys existed has no
``key`` and so is never matched: it counts as not done.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from .io import atomic_path, file_lock

SCHEMA = 3  # bump when the meaning of a key changes: every older row then counts as not done
# (3: variants as dataclasses; rows of schema 2 were rewritten by helpers.commands.migrate, numbers untouched)
LEDGER_ENV = "SLR_RESULTS_LEDGER"


class ResultsError(RuntimeError):
    """The results table cannot be read or written; the message names the file."""


def canonical_json(settings: dict) -> str:
    """One spelling per settings dict, so equal settings give equal keys."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=_plain)


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    raise TypeError(f"setting of type {type(value).__name__} cannot be written to a key: {value!r}")


@dataclass(frozen=True)
class RowKey:
    """Everything that identifies a row's numbers. Encoder fields are empty for methods that
    use no encoder (TF-IDF, ASReview), so their rows serve every encoder's comparison."""

    review: str
    data_checksum: str
    variant: str
    seed: int
    n_per_class: int
    eval_cap: int | None
    settings: str = "{}"             # canonical JSON of the variant's own settings
    encoder: str = ""
    encoder_fingerprint: str = ""
    pooling: str = ""
    max_length: int | None = None
    normalize: bool | None = None

    @property
    def hash(self) -> str:
        return self.hash_at(SCHEMA)

    def hash_at(self, schema: int) -> str:
        """The key under a given schema (the current one, or an older one a migration reads)."""
        fields = asdict(self) | {"schema": schema}
        return hashlib.blake2b(json.dumps(fields, sort_keys=True).encode(), digest_size=12).hexdigest()

    def columns(self) -> dict:
        """The readable identity columns of a row, plus ``key``."""
        return {**asdict(self), "key": self.hash}


def make_key(*, review: str, data_checksum: str, variant: str, seed: int, n_per_class: int,
             eval_cap: int | None, settings: dict, encoder: dict | None = None) -> RowKey:
    """A row key; ``encoder`` is ``Encoder.identity()`` or None for encoder-free methods."""
    return RowKey(review=review, data_checksum=data_checksum, variant=variant, seed=int(seed),
                  n_per_class=int(n_per_class), eval_cap=None if eval_cap is None else int(eval_cap),
                  settings=canonical_json(settings), **(encoder or {}))


def key_of_row(row) -> RowKey:
    """The key a stored row's identity columns spell (CSV turns empty strings into NaN and
    integers beside NaN into floats; this undoes both), so a table can be checked or migrated."""
    def text(v) -> str:
        return "" if pd.isna(v) else str(v)

    def whole(v) -> int | None:
        return None if pd.isna(v) else int(v)

    normalize = row.get("normalize")
    return RowKey(review=str(row["review"]), data_checksum=str(row["data_checksum"]), variant=str(row["variant"]),
                  seed=int(row["seed"]), n_per_class=int(row["n_per_class"]), eval_cap=whole(row["eval_cap"]),
                  settings=str(row["settings"]), encoder=text(row.get("encoder")),
                  encoder_fingerprint=text(row.get("encoder_fingerprint")), pooling=text(row.get("pooling")),
                  max_length=whole(row.get("max_length")),
                  normalize=None if pd.isna(normalize) else str(normalize).lower() == "true")


def read(path: Path) -> pd.DataFrame:
    """The table (empty if there is none yet), one row per key: where a key was appended twice
    (a task run again after its worker died), the last row stands. An unreadable file is an
    error naming it, never silently replaced: it may hold hours of computation. Read under a
    shared lock, since rows are appended in place: a reader never sees half a row; a last line
    without its end (a writer killed mid-row) is left out with a warning, never read as done."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["key"])
    with file_lock(path, shared=True):
        text = path.read_bytes()
    if text and not text.endswith(b"\n") and b"\n" in text:
        warnings.warn(f"{path}: its last line was cut off mid-row (a writer was killed); read without it "
                      "— its task will be recomputed", stacklevel=2)
        text = text[:text.rfind(b"\n") + 1]
    try:
        # round_trip: floats read back exactly as written, so rewriting the table never moves a digit
        table = pd.read_csv(io.BytesIO(text), dtype={"key": str, "settings": str, "data_checksum": str}, float_precision="round_trip")
    except Exception as exc:  # pandas raises many kinds for broken CSV
        raise ResultsError(f"{path}: cannot be read as a results table ({type(exc).__name__}: {exc}); "
                           "move it aside to start a new one") from exc
    if "review" not in table.columns or "variant" not in table.columns:
        raise ResultsError(f"{path}: not a results table (columns {list(table.columns)[:8]}); "
                           "move it aside to start a new one")
    if "key" not in table.columns:  # written before keys existed: never matched
        table["key"] = pd.NA
    keyed = table["key"].notna()
    if table.loc[keyed, "key"].duplicated().any():
        latest = table[keyed].drop_duplicates("key", keep="last")
        table = pd.concat([table[~keyed], latest]).sort_index().reset_index(drop=True)
    return table


def done(table: pd.DataFrame, keys: list[RowKey]) -> list[bool]:
    """For each key, whether the table already holds its row (so a re-run skips it)."""
    present = set(table["key"].dropna())
    return [k.hash in present for k in keys]


def select(table: pd.DataFrame, keys: list[RowKey]) -> pd.DataFrame:
    """The rows of these keys, in the keys' order (keys without a row are left out)."""
    by_key = table.dropna(subset=["key"]).drop_duplicates("key", keep="last").set_index("key")
    hashes = [k.hash for k in keys if k.hash in by_key.index]
    return by_key.loc[hashes].reset_index()


def append(path: Path, records: list[dict]) -> None:
    """Add rows (a row with a key already present replaces it: ``read`` keeps a key's last row).
    Under a file lock, so concurrent writers lose nothing. Rows whose columns the table already
    has are appended in place, in one write — O(rows added), not O(table), and a killed run
    leaves every earlier row as it was (a last line left without its end by a writer killed
    mid-write is cut off with a warning, never glued to the next row); a row with a new column
    rewrites the table through a temp file renamed into place, so a killed run never truncates it."""
    if not records:
        return
    if any("key" not in r for r in records):
        raise ValueError("every record needs a 'key' column (build it with results.make_key)")
    path = Path(path)
    new = pd.DataFrame(records)
    with file_lock(path):
        header = _header(path)
        if header is not None and set(new.columns) <= set(header):
            text = new.reindex(columns=header).to_csv(index=False, header=False)
            with open(path, "rb+") as f:
                _cut_torn_last_line(f, path)
                f.seek(0, os.SEEK_END)
                f.write(text.encode())
            return
        old = read(path)
        # all-NA columns (e.g. training seconds of a Base row) are left out of the concat
        # and restored by the reindex, so pandas never guesses their dtype
        columns = list(dict.fromkeys([*old.columns, *new.columns]))
        parts = [f.dropna(axis=1, how="all") for f in (old, new) if len(f)]
        table = pd.concat(parts, ignore_index=True).reindex(columns=columns)
        keyed = table["key"].notna()
        latest = table[keyed].drop_duplicates("key", keep="last")
        table = pd.concat([table[~keyed], latest]) if (~keyed).any() else latest
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)


def _cut_torn_last_line(f, path: Path) -> None:
    """A table whose last line lacks its end was left by a writer killed mid-row: that row is
    incomplete (its numbers may be cut), so it is removed, with a warning naming the file —
    its task is simply recomputed — rather than kept or glued to the next row."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - 1))
    if size == 0 or f.read(1) == b"\n":
        return
    block = 1 << 16
    end = size
    while end > 0:  # the last line end, reading backwards
        start = max(0, end - block)
        f.seek(start)
        chunk = f.read(end - start)
        at = chunk.rfind(b"\n")
        if at >= 0:
            f.seek(start + at + 1)
            torn = f.read()
            f.truncate(start + at + 1)
            warnings.warn(f"{path}: its last line was cut off mid-row (a writer was killed); "
                          f"removed it ({len(torn)} bytes) — its task will be recomputed", stacklevel=3)
            return
        end = start
    raise ResultsError(f"{path}: no complete line (not even the header); move it aside to start a new one")


def _header(path: Path) -> list[str] | None:
    """The table's column names as its first line spells them; None where there is no table yet."""
    import csv

    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, newline="") as f:
        return next(csv.reader(f), None)


def note_usage(*, reused: int, computed: int, kind: str = "rows", name: str | None = None) -> None:
    """Tell the report runner how many results rows (or artefacts, ``kind="artefacts"``) a
    notebook reused and computed: a line in the ledger file $SLR_RESULTS_LEDGER names; nothing
    when run on its own. ``name``: a machine-keyed artefact measured anew on this machine."""
    ledger = os.environ.get(LEDGER_ENV)
    if ledger:
        with open(ledger, "a") as f:
            f.write(json.dumps({"kind": kind, "reused": reused, "computed": computed, "name": name}) + "\n")


def read_usage(ledger: Path) -> dict:
    """Per kind (rows, artefacts): reused and computed counts summed over a ledger, and the
    names of the timings measured anew."""
    usage = {kind: {"reused": 0, "computed": 0, "measured": []} for kind in ("rows", "artefacts")}
    if Path(ledger).is_file():
        for line in Path(ledger).read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                counts = usage[entry["kind"]]
                counts["reused"] += entry["reused"]
                counts["computed"] += entry["computed"]
                if entry.get("name"):
                    counts["measured"].append(entry["name"])
    return usage
