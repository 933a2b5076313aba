"""The 20 screening reviews: registry, data-folder resolution, loading and validation.

No torch import here, so notebooks and tests that only look at the data stay light.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .project import project_root

REQUIRED_COLUMNS = ("record_id", "pmid", "title", "abstract", "label")
DEFAULT_SEP = "[SEP]"


class DataError(ValueError):
    """A review file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Review:
    slug: str
    name: str
    source: str
    study_total: int
    study_included: int


COHEN = "Cohen et al. 2006"
SWIFT = "SWIFT-Review, Howard et al. 2016"

REVIEWS: dict[str, Review] = {
    r.slug: r
    for r in [
        Review("ace_inhibitors", "ACE Inhibitors", COHEN, 2544, 41),
        Review("adhd", "ADHD", COHEN, 851, 20),
        Review("antihistamines", "Antihistamines", COHEN, 310, 16),
        Review("atypical_antipsychotics", "Atypical Antipsychotics", COHEN, 1120, 146),
        Review("beta_blockers", "Beta Blockers", COHEN, 2072, 42),
        Review("calcium_channel_blockers", "Calcium Channel Blockers", COHEN, 1218, 100),
        Review("estrogens", "Estrogens", COHEN, 368, 80),
        Review("nsaids", "NSAIDs", COHEN, 393, 41),
        Review("opioids", "Opioids", COHEN, 1915, 15),
        Review("oral_hypoglycemics", "Oral Hypoglycemics", COHEN, 503, 136),
        Review("proton_pump_inhibitors", "Proton Pump Inhibitors", COHEN, 1333, 51),
        Review("skeletal_muscle_relaxants", "Skeletal Muscle Relaxants", COHEN, 1643, 9),
        Review("statins", "Statins", COHEN, 3465, 85),
        Review("triptans", "Triptans", COHEN, 671, 24),
        Review("urinary_incontinence", "Urinary Incontinence", COHEN, 327, 40),
        Review("bpa", "Bisphenol A (BPA)", SWIFT, 7700, 111),
        Review("fluoride", "Fluoride and Neurotoxicity", SWIFT, 4479, 51),
        Review("neuropathic_pain", "Neuropathic Pain", SWIFT, 29207, 5011),
        Review("pfos_pfoa", "PFOS/PFOA", SWIFT, 6331, 95),
        Review("transgenerational", "Transgenerational", SWIFT, 48638, 765),
    ]
}


def candidate_data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where review files are looked for, in order: the argument, $SLR_DATA_DIR,
    ``../shared/data/slr`` (next to the checkout), then ``data/slr`` of the checkout."""
    if data_dir is not None:
        return [Path(data_dir)]
    root = project_root()
    dirs = [root.parent / "shared" / "data" / "slr", root / "data" / "slr"]
    if os.environ.get("SLR_DATA_DIR"):
        dirs.insert(0, Path(os.environ["SLR_DATA_DIR"]))
    return dirs


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """First candidate folder that holds at least one review file.

    Raises DataError listing every place looked, so a user knows where to put the data.
    """
    candidates = candidate_data_dirs(data_dir)
    for folder in candidates:
        if folder.is_dir() and any(folder.glob("*.csv.gz")):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"No review data found (looked in: {looked}). Put the prepared `<slug>.csv.gz` files "
        "in one of these folders, set SLR_DATA_DIR, or run `python data/fetch.py` on a "
        "machine with internet (see data/README.md)."
    )


def review_path(slug: str, data_dir: str | os.PathLike | None = None) -> Path:
    if slug not in REVIEWS:
        raise DataError(f"Unknown review {slug!r}; known: {', '.join(REVIEWS)}")
    return resolve_data_dir(data_dir) / f"{slug}.csv.gz"


def available_reviews(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Reviews (in registry order) whose text file is present; the rest are missing."""
    try:
        folder = resolve_data_dir(data_dir)
    except DataError:
        return []
    return [slug for slug in REVIEWS if (folder / f"{slug}.csv.gz").is_file()]


def missing_reviews(data_dir: str | os.PathLike | None = None) -> list[str]:
    present = set(available_reviews(data_dir))
    return [slug for slug in REVIEWS if slug not in present]


def split_available(wanted, data_dir: str | os.PathLike | None = None) -> tuple[list[str], list[str]]:
    """(reviews with text, reviews without) among ``wanted`` (None: all 20), in registry order:
    a notebook runs on the first and names the second, so the study never shrinks silently."""
    present = set(available_reviews(data_dir))
    unknown = [r for r in (wanted or []) if r not in REVIEWS]
    if unknown:
        raise DataError(f"unknown review(s) {unknown}; known: {', '.join(REVIEWS)}")
    chosen = [r for r in REVIEWS if wanted is None or r in wanted]
    return [r for r in chosen if r in present], [r for r in chosen if r not in present]


def load_review(
    slug: str, data_dir: str | os.PathLike | None = None, sep_token: str = DEFAULT_SEP
) -> pd.DataFrame:
    """Validated table of one review: record_id, pmid, title, abstract, label (1 = included),
    text (title + sep_token + abstract, SPECTER's input convention), empty_text (flag).

    Missing abstracts become "" and are counted in ``df.attrs["n_missing_abstract"]``:
    they are kept, because dropping them would change the review's prevalence.
    """
    path = review_path(slug, data_dir)
    return validate_review_table(_read_csv(path), str(path), sep_token=sep_token)


@lru_cache(maxsize=64)
def _checksum(path: Path, mtime_ns: int) -> str:
    return validate_review_table(_read_csv(path), str(path)).attrs["checksum"]


def review_checksum(slug: str, data_dir: str | os.PathLike | None = None) -> str:
    """The review file's content checksum (what every results key names), computed once per
    version of the file."""
    path = review_path(slug, data_dir)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return _checksum(path, path.stat().st_mtime_ns)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), [])
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas and gzip raise many kinds for broken files
        raise DataError(f"{path}: cannot be read as CSV ({exc})") from exc
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:  # pandas would silently rename the second one to `<name>.1`
        raise DataError(f"{path}: column(s) {duplicated} appear more than once in the header")
    return table


def table_checksum(df: pd.DataFrame) -> str:
    """sha256 of a review's content (the columns of REQUIRED_COLUMNS as text, in row order),
    independent of CSV quoting or compression: the data's identity in every results key."""
    h = hashlib.sha256()
    for row in df[list(REQUIRED_COLUMNS)].astype(str).itertuples(index=False):
        h.update("\x1f".join(row).encode("utf-8") + b"\x1e")
    return h.hexdigest()


def _where(positions, from_file: bool) -> str:
    """Rows named as a user finds them: spreadsheet rows of the file (header = row 1), or
    the table's own index for an in-memory table."""
    shown = [int(p) + 2 for p in positions[:5]] if from_file else list(positions[:5])
    more = f" and {len(positions) - 5} more" if len(positions) > 5 else ""
    return ("file row(s) " if from_file else "index ") + ", ".join(map(str, shown)) + more


def _label_text(value) -> str:
    """A label cell as text: '1'/'0' for 1, 0, 1.0, ' 1 '; '' for missing; else its text."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) in (0.0, 1.0):
        return str(int(value))
    return str(value).strip()


def validate_review_table(raw: pd.DataFrame, source: str, *, sep_token: str = DEFAULT_SEP,
                          from_file: bool = True) -> pd.DataFrame:
    """Check columns, labels and ids and build the text column; ``source`` names the file in
    errors and ``from_file`` says whether rows are named as file rows or by the index.

    Rows with neither title nor abstract are kept (dropping them would change the review) and
    flagged in the ``empty_text`` column, counted in ``df.attrs["n_empty_text"]``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; found {list(raw.columns)}")
    if raw.empty:
        raise DataError(f"{source}: no rows")
    raw = raw.reset_index(drop=True) if from_file else raw
    labels = raw["label"].map(_label_text)
    bad = ~labels.isin(["0", "1"])
    if bad.any():
        values = sorted({v if v else "<empty>" for v in labels[bad]})
        raise DataError(
            f"{source}: column 'label' has unknown value(s) {values[:5]} at "
            f"{_where(list(raw.index[bad.to_numpy()]), from_file)}; expected 1 = included, 0 = excluded"
        )
    ids = raw["record_id"].astype(str)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"{source}: column 'record_id' repeats value(s) {sorted(set(ids[dup]))[:5]} at "
                        f"{_where(list(raw.index[dup]), from_file)}; every record needs its own id")
    df = pd.DataFrame(
        {
            "record_id": ids.to_numpy(),
            "pmid": raw["pmid"].astype(str).to_numpy(),
            "title": raw["title"].fillna("").astype(str).str.strip().to_numpy(),
            "abstract": raw["abstract"].fillna("").astype(str).str.strip().to_numpy(),
            "label": labels.astype(int).to_numpy(),
        }
    )
    for cls, name in ((1, "included"), (0, "excluded")):
        if not (df["label"] == cls).any():
            raise DataError(f"{source}: no {name} rows (label {cls}); screening needs both classes")
    df["empty_text"] = (df["title"] == "") & (df["abstract"] == "")
    if df["empty_text"].all():
        raise DataError(f"{source}: every title and abstract is empty")
    df["text"] = df["title"] + sep_token + df["abstract"]
    df.attrs.update(n_missing_abstract=int((df["abstract"] == "").sum()),
                    n_empty_text=int(df["empty_text"].sum()), source=source,
                    checksum=table_checksum(df))
    return df


def label_summary(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per review of the registry: counts found here beside the study's counts.

    Reviews without text keep their row (status 'missing'), so the study never shrinks silently.
    """
    rows = []
    present = set(available_reviews(data_dir))
    for slug, rev in REVIEWS.items():
        row = {"review": slug, "name": rev.name, "source": rev.source,
               "study_total": rev.study_total, "study_included": rev.study_included}
        if slug in present:
            df = load_review(slug, data_dir)
            n, inc = len(df), int(df["label"].sum())
            row.update(status="ok", total=n, included=inc, excluded=n - inc,
                       included_pct=100 * inc / n, excluded_pct=100 * (n - inc) / n,
                       no_abstract=df.attrs["n_missing_abstract"], empty_text=df.attrs["n_empty_text"],
                       diff_total=n - rev.study_total, diff_included=inc - rev.study_included)
        else:
            row.update(status="missing")
        rows.append(row)
    return pd.DataFrame(rows)


def token_lengths(tokenizer, slugs: list[str], data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Untruncated token count of every citation's input text (title + sep + abstract, special
    tokens included), one row per citation: review, label, n_tokens. The tokenizer is passed
    in so this module stays free of model imports."""
    frames = []
    for slug in slugs:
        df = load_review(slug, data_dir, tokenizer.sep_token)
        ids = tokenizer(df["text"].tolist(), truncation=False, verbose=False)["input_ids"]
        frames.append(pd.DataFrame({"review": slug, "label": df["label"].to_numpy(),
                                    "n_tokens": [len(x) for x in ids]}))
    return pd.concat(frames, ignore_index=True)


def share_within(lengths: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Share of texts with at most ``limit`` tokens, per review and overall."""
    within = lengths.assign(within=lengths["n_tokens"] <= limit)
    per = within.groupby("review", sort=False)["within"].agg(["mean", "size"]).reset_index()
    overall = pd.DataFrame([{"review": "ALL", "mean": within["within"].mean(), "size": len(within)}])
    out = pd.concat([per, overall], ignore_index=True)
    return out.rename(columns={"mean": f"share_within_{limit}", "size": "n_texts"})


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of what decides a token count: the tokenizer's kind, its vocabulary and its special
    tokens (a key part of stored token counts)."""
    h = hashlib.blake2b(type(tokenizer).__name__.encode(), digest_size=12)
    h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    h.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True).encode())
    return h.hexdigest()


def stored_token_lengths(tokenizer, slugs: list[str], *, data_dir, folder, recompute: bool = False) -> pd.DataFrame:
    """``token_lengths`` of these reviews, stored as an artefact keyed by the tokenizer and each
    review's data (notebooks 01, 05 and 09 share it)."""
    from .artefacts import stored

    order = sorted(slugs)
    return stored("01_token_lengths", {"tokenizer": tokenizer_fingerprint(tokenizer),
                                       "data": {r: review_checksum(r, data_dir) for r in order}},
                  lambda: {"lengths": token_lengths(tokenizer, order, data_dir)}, folder=folder,
                  recompute=recompute)["lengths"]
