import io
import json
import urllib.error

import pandas as pd
import pytest

from helpers.core import fetch
from helpers.core.data import table_checksum, validate_review_table

ONLINE = b"""record_id,pubmedID,title,authors,abstract,year,label_included,label_abstract_screening
1,111,First title,A B,First abstract,1999.0,0,1
2,222,,,,,1,1
3,333,Third title,C D,,2000.0,0,0
"""
TEXT = b"""pubmedID,title,abstract
222,Second title,Second abstract
111,ignored,ignored
"""
PUBMED = b"""<?xml version="1.0"?>
<PubmedArticleSet>
 <PubmedArticle><MedlineCitation><PMID Version="1">222</PMID><Article>
   <ArticleTitle>Bisphenol <i>A</i> exposure</ArticleTitle>
   <Abstract><AbstractText Label="BACKGROUND">Why.</AbstractText><AbstractText Label="RESULTS">What.</AbstractText></Abstract>
 </Article></MedlineCitation></PubmedArticle>
 <PubmedArticle><MedlineCitation><PMID Version="1">111</PMID><Article>
   <ArticleTitle>No abstract here</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>"""


def test_cohen_keeps_order_and_fills_only_empty_text():
    df = fetch.parse_cohen(ONLINE, TEXT)
    assert df["record_id"].tolist() == ["1", "2", "3"] and df["label"].tolist() == ["0", "1", "0"]
    assert df.loc[0, "title"] == "First title"  # not overwritten
    assert (df.loc[1, "title"], df.loc[1, "abstract"]) == ("Second title", "Second abstract")
    assert df.loc[2, "abstract"] == ""  # stays empty, row kept
    assert len(validate_review_table(df, "fixture")) == 3


def test_swift_sheet_keeps_duplicate_refids():
    sheet = pd.DataFrame({"Refid": [10, 11, 10], "Bibliography": ["", "", ""], "Title": ["a", "b", "a"],
                          "Abstract": ["x", "", "x"], "Included": ["INCLUDED", "EXCLUDED", "INCLUDED"]})
    buf = io.BytesIO()
    sheet.to_excel(buf, sheet_name="Fluoride", index=False)
    df = fetch.parse_swift_sheet(buf.getvalue())
    assert df["record_id"].tolist() == ["10", "11", "10-2"] and df["label"].tolist() == ["1", "0", "1"]


def test_pubmed_xml_and_join_keep_every_id():
    records = fetch.parse_pubmed_xml(PUBMED)
    assert records["222"] == ("Bisphenol A exposure", "Why. What.")
    assert records["111"] == ("No abstract here", "")
    ids = pd.DataFrame({"record_id": ["r1", "r2", "r3"], "pmid": ["111", "222", "999"], "doi": "", "label": ["0", "1", "0"]})
    df = fetch.complete_from_pubmed(ids, records)
    assert len(df) == 3 and df.loc[2, "title"] == "" and df.loc[1, "abstract"] == "Why. What."


def test_checksums_match_the_prepared_copies(shared_data):
    expected = json.loads(fetch.checksums_path().read_text())
    for slug in ("nsaids", "fluoride"):
        df = pd.read_csv(shared_data / f"{slug}.csv.gz", dtype=str, keep_default_na=False)
        assert table_checksum(df) == expected[slug]
        fetch._verify(slug, df)
        with pytest.raises(fetch.ChecksumError, match=slug):
            fetch._verify(slug, df.iloc[1:])


def test_offline_fetch_raises_oserror_and_writes_nothing(tmp_path, monkeypatch):
    def no_network(url, retries=3):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(fetch, "_download", no_network)
    monkeypatch.setattr(fetch, "candidate_data_dirs", lambda data_dir=None: [])
    with pytest.raises(OSError):
        fetch.fetch_missing(tmp_path / "target")
    assert not (tmp_path / "target").exists()


def test_fetch_writes_only_into_the_named_folder(tmp_path, monkeypatch):
    from conftest import write_review
    from helpers.core.data import REVIEWS

    elsewhere = tmp_path / "elsewhere"
    for slug in list(REVIEWS)[1:]:
        write_review(elsewhere, slug)
    first = next(iter(REVIEWS))
    monkeypatch.setattr(fetch, "candidate_data_dirs", lambda data_dir=None: [elsewhere])
    monkeypatch.setattr(fetch, "_download", lambda url, retries=3: b"")
    monkeypatch.setattr(fetch, "build_review", lambda slug, ids_dir: pd.read_csv(write_review(tmp_path / "src", slug),
                                                                                 dtype=str))
    monkeypatch.setattr(fetch, "_verify", lambda slug, df: None)
    assert fetch.fetch_missing(tmp_path / "target") == [first]
    assert [p.name for p in (tmp_path / "target").iterdir()] == [f"{first}.csv.gz"]
    assert len(list(elsewhere.iterdir())) == len(REVIEWS) - 1
