"""A reviewer's whole loop with slr-screen, round after round, on a real shared review: rank, label
the next 40 in their own column, ask whether they may stop, re-rank — in CSV, RIS and XLSX, and
from an ASReview export. At every round the labels read are the labels written, the header has no
repeated column, the verdict is helpers.compute.stopping's on the same labels, and the input is unchanged."""

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.commands import screen, screen_input, screen_rank, screen_stopping
from helpers.compute import stopping

ROUNDS, PER_ROUND = 4, 40


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def records_of(path: Path) -> pd.DataFrame:
    return screen_input.read_references(path)


def label_next(path: Path, truth: pd.Series, n: int) -> None:
    """The reviewer reads the next ``n`` records by rank and writes each decision in the file's own
    decision column (RIS: ASReview's label note), leaving everything else as it was."""
    if path.suffix == ".ris":
        import rispy

        with open(path, encoding="utf-8") as f:
            entries = list(rispy.load(f, skip_unknown_tags=True))
        ranks = [next((int(float(note.split(":")[1])) for note in e.get("notes", []) if note.startswith("asreview_rank:")),
                      None) for e in entries]
        wanted = sorted((r, i) for i, r in enumerate(ranks) if r is not None)[:n]
        for _, i in wanted:
            title = entries[i]["title"]
            verdict = "ASReview_relevant" if truth[title] else "ASReview_irrelevant"
            entries[i]["notes"] = [verdict if note == "ASReview_not_seen" else note for note in entries[i]["notes"]]
        with open(path, "w", encoding="utf-8") as f:
            rispy.dump(entries, f)
        return
    frame = pd.read_excel(path) if path.suffix == ".xlsx" else pd.read_csv(path)
    unread = frame["rank"].notna() & frame["included"].isna()
    picked = frame[unread].sort_values("rank").index[:n]
    frame["included"] = frame["included"].astype(object)
    frame.loc[picked, "included"] = [int(truth[t]) for t in frame.loc[picked, "title"]]
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False)


def expected_sequence(path: Path) -> np.ndarray:
    """The labels in reading order, worked out from the file without slr-screen: records labelled
    before this ranking (no rank) in file order, then the ranked ones read, by rank."""
    raw = records_of(path)
    rank = raw["asreview_rank"] if "asreview_rank" in raw else raw["rank"]
    rank = pd.to_numeric(rank, errors="coerce")
    labels = raw["included"].map(lambda v: {"yes": 1, "no": 0, "1": 1, "0": 0, "1.0": 1, "0.0": 0}.get(str(v).strip().lower(),
                                                                                                      np.nan))
    before = labels[rank.isna()]
    ranked = labels[rank.notna()].iloc[np.argsort(rank[rank.notna()].to_numpy(), kind="stable")]
    return np.r_[before.to_numpy(), ranked.dropna().to_numpy()].astype(int)


def header_of(path: Path) -> list[str]:
    if path.suffix == ".ris":
        return list(records_of(path).columns)
    frame = pd.read_excel(path, nrows=0) if path.suffix == ".xlsx" else pd.read_csv(path, nrows=0)
    return list(frame.columns)


@pytest.mark.parametrize("fmt", [".csv", ".ris", ".xlsx"])
def test_four_rounds_of_rank_label_check_rerank(fmt, shared_data, tmp_path, capsys):
    first, hidden = screen_rank.demo_file("nsaids", tmp_path, seed=0, data_dir=shared_data)
    truth = dict(zip(pd.read_csv(first)["title"].str.strip(), hidden))
    current = tmp_path / f"round1{fmt}"
    assert screen.main([str(first), "--output", str(current)]) == 0
    capsys.readouterr()
    for round_ in range(1, ROUNDS + 1):
        label_next(current, pd.Series(truth), PER_ROUND)
        labels = expected_sequence(current)
        assert len(labels) == 16 + PER_ROUND * round_
        raw = records_of(current)
        prepared = screen_input.prepare(raw, path=current)
        read = screen_stopping.reading_labels(raw, prepared, path=current, order_column=None)
        assert np.array_equal(read, labels)  # the labels read are the labels written, in the order read
        before = md5(current)
        assert screen.main([str(current), "--check-stopping", "--sample-output", str(tmp_path / "sample.csv")]) == 0
        out = capsys.readouterr().out
        total = len(records_of(current))
        assert f"{len(labels):,} of {total:,} records read in order, {int(labels.sum()):,} included" in out
        decided = re.search(r"decisions read from (.*): ([\d,]+) labelled, ([\d,]+) included", out)
        assert decided and int(decided[2].replace(",", "")) == len(labels) and int(decided[3]) == labels.sum()
        verdict = stopping.recommended(labels, total)
        assert out.splitlines()[1].strip().startswith("stop:" if verdict.at is not None else "go on:")
        assert md5(current) == before  # asking changes nothing
        following = tmp_path / f"round{round_ + 1}{fmt}"
        assert screen.main([str(current), "--output", str(following)]) == 0
        summary = capsys.readouterr().out
        assert re.search(rf"decisions read from\s+.*: {len(labels):,} labelled, {int(labels.sum()):,} included", summary)
        assert md5(current) == before  # ranking changes nothing in its input
        header = [c.strip().lower() for c in header_of(following)]
        assert len(header) == len(set(header)), header  # no column twice, round after round
        current = following


def test_an_asreview_export_with_its_ranking_and_included_columns(shared_data, tmp_path, capsys):
    table = pd.read_csv(shared_data / "nsaids.csv.gz")
    order = np.random.default_rng(3).permutation(len(table))
    export = table[["record_id", "title", "abstract"]].assign(asreview_ranking=np.argsort(order) + 1)
    read_first = order[:60]
    export["included"] = pd.Series([pd.NA] * len(table), dtype="Int64")
    export.loc[read_first, "included"] = table["label"].to_numpy()[read_first]
    path = tmp_path / "asreview_export.csv"
    export.to_csv(path, index=False)
    assert screen.main([str(path), "--check-stopping"]) == 0
    out = capsys.readouterr().out
    labels = table["label"].to_numpy()[read_first]
    assert f"60 of {len(table):,} records read in order, {labels.sum()} included" in out
    assert "decisions read from column `included`: 60 labelled" in out
    verdict = stopping.recommended(labels, len(table))
    assert out.splitlines()[1].strip().startswith("stop:" if verdict.at is not None else "go on:")
    ranked = tmp_path / "ranked.csv"
    assert screen.main([str(path), "--output", str(ranked)]) == 0
    header = list(pd.read_csv(ranked, nrows=0).columns)
    assert "asreview_ranking" in header and "rank" in header and len(header) == len(set(header))
