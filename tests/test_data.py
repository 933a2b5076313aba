import pandas as pd
import pytest

from conftest import write_review
from helpers.data import (DataError, REVIEWS, available_reviews, label_summary, load_review,
                          missing_reviews, resolve_data_dir)


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


def test_no_data_anywhere_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="No review data found.*fetch"):
        resolve_data_dir(tmp_path / "empty")


@pytest.mark.parametrize("overrides,match", [
    ({"label": ["1"] * 12 + ["x"] * 48}, "column 'label' has unknown value.*'x'"),
    ({"label": [0] * 60}, "no included rows"),
    ({"label": [1] * 60}, "no excluded rows"),
])
def test_bad_labels_name_file_and_column(tmp_path, overrides, match):
    write_review(tmp_path, "nsaids", **overrides)
    with pytest.raises(DataError, match=f"nsaids.*{match}"):
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


def test_empty_abstracts_are_kept_and_counted(tmp_path):
    write_review(tmp_path, "nsaids", abstract=[""] * 5 + ["some words"] * 55)
    df = load_review("nsaids", tmp_path)
    assert len(df) == 60 and df.attrs["n_missing_abstract"] == 5
