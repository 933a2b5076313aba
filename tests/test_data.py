import numpy as np
import pandas as pd
import pytest

from conftest import write_review
from helpers.core.data import (DataError, REVIEWS, available_reviews, label_summary, load_review, missing_reviews,
                               resolve_data_dir, split_available, table_checksum, validate_review_table)


def test_registry_has_the_20_reviews_with_study_counts():
    assert len(REVIEWS) == 20
    assert REVIEWS["nsaids"].study_total == 393 and REVIEWS["nsaids"].study_included == 41


def test_real_review_loads_and_keeps_missing_abstracts(shared_data):
    df = load_review("nsaids", shared_data)
    assert len(df) == 393 and df["label"].sum() == 41
    assert df.attrs["n_missing_abstract"] == (df["abstract"] == "").sum() > 0
    assert (df["text"] == df["title"] + "[SEP]" + df["abstract"]).all()


def test_real_label_summary_matches_study_and_lists_missing(shared_data):
    s = label_summary(shared_data)
    ok = s[s.status == "ok"]
    assert len(s) == 20 and len(ok) == len(available_reviews(shared_data)) >= 15
    assert (ok.diff_total == 0).all() and (ok.diff_included == 0).all()
    assert set(s[s.status == "missing"].review) == set(missing_reviews(shared_data))


def test_data_dir_order_argument_then_env(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    write_review(a, "nsaids")
    write_review(b, "adhd")
    monkeypatch.setenv("SLR_DATA_DIR", str(b))
    assert resolve_data_dir() == b
    assert resolve_data_dir(a) == a
    assert split_available(["adhd", "nsaids", "bpa"], a) == (["nsaids"], ["adhd", "bpa"])
    with pytest.raises(DataError, match="unknown review"):
        split_available(["nope"], a)


def test_no_data_anywhere_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="No review data found.*fetch"):
        resolve_data_dir(tmp_path / "empty")


@pytest.mark.parametrize("overrides,match", [
    ({"label": ["1"] * 12 + ["x"] * 48}, r"column 'label' has unknown value\(s\) \['x'\] at file row\(s\) 14, 15"),
    ({"label": ["1"] * 12 + [""] + ["0"] * 47}, r"unknown value\(s\) \['<empty>'\] at file row\(s\) 14;"),
    ({"label": [0] * 60}, "no included rows"),
    ({"label": [1] * 60}, "no excluded rows"),
    ({"record_id": [1, 2, 3, 1] + list(range(5, 61))}, r"'record_id' repeats value\(s\) \['1'\] at file row\(s\) 2, 5"),
])
def test_bad_values_name_file_column_and_file_row(tmp_path, overrides, match):
    write_review(tmp_path, "nsaids", **overrides)
    with pytest.raises(DataError, match=f"nsaids.*{match}"):
        load_review("nsaids", tmp_path)


def test_duplicated_header_is_refused_not_renamed(tmp_path):
    path = write_review(tmp_path, "nsaids")
    df = pd.read_csv(path)
    df.insert(5, "label_copy", df["label"])
    df.to_csv(path, index=False, header=list(df.columns[:5]) + ["label"])
    with pytest.raises(DataError, match=r"nsaids.csv.gz: column\(s\) \['label'\] appear more than once"):
        load_review("nsaids", tmp_path)


def test_missing_column_and_empty_file_and_missing_file(tmp_path):
    path = write_review(tmp_path, "nsaids")
    pd.read_csv(path).drop(columns="abstract").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"nsaids.csv.gz: missing column\(s\) \['abstract'\]"):
        load_review("nsaids", tmp_path)
    pd.DataFrame(columns=["record_id", "pmid", "title", "abstract", "label"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="nsaids.csv.gz: no rows"):
        load_review("nsaids", tmp_path)
    with pytest.raises(DataError, match="adhd.csv.gz: file not found"):
        load_review("adhd", tmp_path)
    with pytest.raises(DataError, match="Unknown review 'nope'"):
        load_review("nope", tmp_path)
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="nsaids.csv.gz: cannot be read as CSV"):
        load_review("nsaids", tmp_path)


def test_empty_abstracts_are_kept_and_counted_and_empty_texts_flagged(tmp_path):
    write_review(tmp_path, "nsaids", abstract=[""] * 5 + ["some words"] * 55,
                 title=["", ""] + ["a title"] * 58)
    df = load_review("nsaids", tmp_path)
    assert len(df) == 60 and df.attrs["n_missing_abstract"] == 5
    assert df.attrs["n_empty_text"] == 2 and df["empty_text"].tolist()[:3] == [True, True, False]


def test_in_memory_table_accepts_numbers_and_names_index_of_a_nan_label():
    raw = pd.DataFrame({"record_id": ["a", "b", "c"], "pmid": "", "title": ["x", "y", "z"], "abstract": "",
                        "label": [1.0, 0.0, 1]}, index=[10, 11, 12])
    assert validate_review_table(raw, "memory", from_file=False)["label"].tolist() == [1, 0, 1]
    raw.loc[11, "label"] = np.nan
    with pytest.raises(DataError, match=r"memory: column 'label' has unknown value\(s\) \['<empty>'\] at index 11"):
        validate_review_table(raw, "memory", from_file=False)


def test_checksum_follows_content_not_file_format(tmp_path):
    path = write_review(tmp_path, "nsaids")
    first = load_review("nsaids", tmp_path).attrs["checksum"]
    pd.read_csv(path).to_csv(path, index=False, quoting=1)  # same content, every field quoted
    assert load_review("nsaids", tmp_path).attrs["checksum"] == first
    write_review(tmp_path, "nsaids", label=[0] * 48 + [1] * 12)  # shuffled labels
    assert load_review("nsaids", tmp_path).attrs["checksum"] != first


def test_checksum_of_a_prepared_copy_equals_the_pinned_one(shared_data):
    import json

    from helpers.core.fetch import checksums_path

    expected = json.loads(checksums_path().read_text())
    assert load_review("nsaids", shared_data).attrs["checksum"] == expected["nsaids"]
    assert table_checksum(pd.read_csv(shared_data / "nsaids.csv.gz", dtype=str, keep_default_na=False)) == expected["nsaids"]
