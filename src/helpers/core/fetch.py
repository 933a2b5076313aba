"""Download the public sources of the reviews (needs internet) and build `<slug>.csv.gz`.

Sources and pinned versions are those of ``../shared/data/slr/SOURCES.md``. Each built table
is verified against the checksum of the prepared copy (``data/checksums.json``); text fetched
from PubMed for the ids-only reviews cannot have a fixed checksum (PubMed records change), so
those are verified by their row and inclusion counts instead. Parsing is pure and tested
offline on small fixtures; only ``_download`` touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd

from .project import project_root
from .data import REVIEWS, candidate_data_dirs, table_checksum
from .io import atomic_path
from .progress import progress as progress_bar

RAW = "https://raw.githubusercontent.com"
SYNERGY = f"{RAW}/asreview/synergy-dataset"
COHEN_LABELS_COMMIT = "36eae72604f7211b07eb3fc6dd7e2b585521b401"
COHEN_TEXT_COMMIT = "00a45fedc7f35139496052d28fbaec7be820ea72"
SWIFT_XLSX = (f"{RAW}/rvdinter/multichannel-cnn-citation-screening/"
              "11c252bcd8f89c78477e9d983f8791af9bee75a4/datasets/13643_2016_263_MOESM1_ESM.xlsx")
SWIFT_XLSX_SHA256 = "0d326731f82e41a665a036bcca3d72ce1ee2b3d4af9e783a3dea319c31556462"
EFETCH = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/efetch.fcgi"
COHEN_NAMES = {
    "ace_inhibitors": "ACEInhibitors", "adhd": "ADHD", "antihistamines": "Antihistamines",
    "atypical_antipsychotics": "AtypicalAntipsychotics", "beta_blockers": "BetaBlockers",
    "calcium_channel_blockers": "CalciumChannelBlockers", "estrogens": "Estrogens",
    "nsaids": "NSAIDS", "opioids": "Opiods", "oral_hypoglycemics": "OralHypoglycemics",
    "proton_pump_inhibitors": "ProtonPumpInhibitors", "skeletal_muscle_relaxants": "SkeletalMuscleRelaxants",
    "triptans": "Triptans", "urinary_incontinence": "UrinaryIncontinence",
}
PUBMED_REVIEWS = ("statins", "bpa", "pfos_pfoa", "transgenerational")


class ChecksumError(RuntimeError):
    """A download or a built table does not match what the study's copy holds."""


def checksums_path() -> Path:
    return project_root() / "data" / "checksums.json"


# ---------------------------------------------------------------- parsing (offline, tested)

def parse_cohen(online_csv: bytes, text_csv: bytes) -> pd.DataFrame:
    """Cohen review from the synergy-dataset CSVs: order, ids and final labels from the
    `online` file; empty titles/abstracts there filled from the `output` file by PubMed id."""
    online = pd.read_csv(io.BytesIO(online_csv), dtype=str, keep_default_na=False)
    text = pd.read_csv(io.BytesIO(text_csv), dtype=str, keep_default_na=False)
    pmid_col = "pubmedID" if "pubmedID" in text.columns else "pmid"
    by_pmid = text.drop_duplicates(pmid_col).set_index(pmid_col)
    out = pd.DataFrame({"record_id": online["record_id"], "pmid": online["pubmedID"],
                        "title": online["title"], "abstract": online["abstract"],
                        "label": online["label_included"].astype(int).astype(str)})
    for col in ("title", "abstract"):
        empty = out[col] == ""
        out.loc[empty, col] = out.loc[empty, "pmid"].map(by_pmid[col]).fillna("")
    return out


def parse_swift_sheet(xlsx: bytes, sheet: str = "Fluoride") -> pd.DataFrame:
    """Fluoride sheet (Refid, Bibliography, Title, Abstract, Included); duplicate Refids get
    a `-2` suffix so no row is dropped."""
    raw = pd.read_excel(io.BytesIO(xlsx), sheet_name=sheet, dtype=str).fillna("")
    refid = raw["Refid"].astype(str)
    dup = refid.duplicated()
    refid = refid.where(~dup, refid + "-2")
    return pd.DataFrame({"record_id": refid, "pmid": "", "title": raw["Title"].str.strip(),
                         "abstract": raw["Abstract"].str.strip(),
                         "label": (raw["Included"].str.upper() == "INCLUDED").astype(int).astype(str)})


def parse_pubmed_xml(xml: bytes) -> dict[str, tuple[str, str]]:
    """PMID -> (title, abstract) from an efetch `PubmedArticleSet`; structured abstracts are
    joined section by section."""
    out = {}
    for art in ET.fromstring(xml).iter("PubmedArticle"):
        pmid = art.findtext(".//MedlineCitation/PMID", default="").strip()
        title = "".join(art.find(".//ArticleTitle").itertext()).strip() if art.find(".//ArticleTitle") is not None else ""
        parts = ["".join(a.itertext()).strip() for a in art.iter("AbstractText")]
        out[pmid] = (title, " ".join(p for p in parts if p))
    return out


def complete_from_pubmed(ids: pd.DataFrame, records: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Join fetched PubMed text onto an ids-only table; PMIDs PubMed did not return keep empty
    text (counted, never dropped)."""
    pmid = ids["pmid"].astype(str)
    return pd.DataFrame({"record_id": ids["record_id"].astype(str), "pmid": pmid,
                         "title": pmid.map(lambda p: records.get(p, ("", ""))[0]),
                         "abstract": pmid.map(lambda p: records.get(p, ("", ""))[1]),
                         "label": ids["label"].astype(str)})


# ---------------------------------------------------------------- network

def _download(url: str, retries: int = 3) -> bytes:
    for attempt in range(retries):
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.read()
        except OSError:
            if attempt == retries - 1:
                raise
            time.sleep(2 ** attempt)
    raise AssertionError("unreachable")


def _write_table(df: pd.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        with gzip.open(tmp, "wt", encoding="utf-8", newline="") as f:
            df.to_csv(f, index=False)


def _verify(slug: str, df: pd.DataFrame) -> None:
    expected = json.loads(checksums_path().read_text()).get(slug)
    rev = REVIEWS[slug]
    if expected:
        got = table_checksum(df)
        if got != expected:
            raise ChecksumError(f"{slug}: built table checksum {got[:12]}… != expected {expected[:12]}…")
    elif (len(df), int(df["label"].astype(int).sum())) != (rev.study_total, rev.study_included):
        raise ChecksumError(f"{slug}: {len(df)} rows / {df['label'].astype(int).sum()} included, "
                            f"the study has {rev.study_total} / {rev.study_included}")


def build_review(slug: str, ids_dir: Path | None = None) -> pd.DataFrame:
    if slug in COHEN_NAMES:
        name = COHEN_NAMES[slug]
        online = _download(f"{SYNERGY}/{COHEN_LABELS_COMMIT}/datasets/Cohen_2006/output/online/{name}.csv")
        text = _download(f"{SYNERGY}/{COHEN_TEXT_COMMIT}/datasets/Cohen_2006/output/{name}.csv")
        return parse_cohen(online, text)
    if slug == "fluoride":
        xlsx = _download(SWIFT_XLSX)
        if hashlib.sha256(xlsx).hexdigest() != SWIFT_XLSX_SHA256:
            raise ChecksumError(f"{SWIFT_XLSX}: sha256 mismatch")
        return parse_swift_sheet(xlsx)
    if slug in PUBMED_REVIEWS:
        ids_file = (ids_dir or Path()) / "ids_only" / f"{slug}.ids.csv.gz"
        if not ids_file.is_file():
            raise FileNotFoundError(f"{ids_file}: the PMID list is needed to fetch {slug} from PubMed")
        ids = pd.read_csv(ids_file, dtype=str, keep_default_na=False)
        pmids, records = ids["pmid"].tolist(), {}
        for s in progress_bar(range(0, len(pmids), 200), desc=f"PubMed {slug}"):
            records.update(parse_pubmed_xml(_download(
                f"{EFETCH}?db=pubmed&retmode=xml&id={','.join(pmids[s:s + 200])}")))
            time.sleep(0.34)  # NCBI: at most 3 requests per second without an API key
        return complete_from_pubmed(ids, records)
    raise FileNotFoundError(f"{slug}: no automatic source (neuropathic_pain: download Additional file 2 "
                            "of Howard et al. 2016 by hand; see data/README.md)")


def fetch_missing(target_dir: str | Path) -> list[str]:
    """Build every review that no data folder holds into ``target_dir`` (a folder the user
    named for it; never another) and return the slugs built. The PMID lists of the ids-only
    reviews are read from whichever data folder has ``ids_only/``. Raises OSError when there
    is no internet, before anything is written."""
    target = Path(target_dir)
    folders = [target, *candidate_data_dirs()]
    missing = [s for s in REVIEWS if not any((f / f"{s}.csv.gz").is_file() for f in folders)]
    if not missing:
        return []
    ids_dir = next((f for f in folders if (f / "ids_only").is_dir()), None)
    _download("https://eutils.ncbi.nlm.nih.gov/", retries=1)  # fail fast without internet
    built = []
    for slug in progress_bar(missing, desc="fetch reviews"):
        try:
            df = build_review(slug, ids_dir)
        except FileNotFoundError as exc:
            print(f"[fetch] skipped {slug}: {exc}")
            continue
        _verify(slug, df)
        _write_table(df, target / f"{slug}.csv.gz")
        built.append(slug)
    return built
