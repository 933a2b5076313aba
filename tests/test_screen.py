import json
import subprocess
import sys
import zipfile
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import write_review
from helpers.commands import screen, screen_input, screen_output, screen_rank, screen_stopping
from helpers.core.config import SweepConfig
from helpers.methods.trial import Trial
from helpers.commands.screen_input import ScreenError


def references(n: int = 40, n_pos: int = 12, labelled=(4, 4), seed: int = 0) -> pd.DataFrame:
    """A user's export: title, abstract, an 'included' column with some records labelled."""
    rng = np.random.default_rng(seed)
    words = np.array("drug trial placebo randomized patients dose efficacy safety outcome review cohort".split())
    df = pd.DataFrame({"title": [" ".join(rng.choice(words, 5)) for _ in range(n)],
                       "abstract": [" ".join(rng.choice(words, 20)) for _ in range(n)],
                       "included": [""] * n})
    df.loc[: labelled[0] - 1, "included"] = "yes"
    df.loc[n_pos: n_pos + labelled[1] - 1, "included"] = "no"
    return df


def write(df: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".xlsx":
        df.to_excel(path, index=False)
    elif path.suffix == ".ris":
        import rispy

        entries = [{"type_of_reference": "JOUR", "title": t, "abstract": a,
                    "notes": [{"yes": "ASReview_relevant", "no": "ASReview_irrelevant"}.get(l, "ASReview_not_seen")]}
                   for t, a, l in zip(df.title, df.abstract, df.included)]
        with open(path, "w") as f:
            rispy.dump(entries, f)
    else:
        df.to_csv(path, index=False, sep="\t" if path.suffix == ".tsv" else ",")
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".ris"])
def test_each_format_is_read_ranked_and_written_back_in_its_format(tmp_path, suffix):
    path = write(references(), tmp_path / f"refs{suffix}")
    before = path.read_bytes()
    with pytest.warns(UserWarning, match="the study uses 8 per class"):
        result = screen_rank.screen(path, method="tfidf")
    r = result.records
    assert len(r) == 40 and r["labelled"].sum() == 8 and result.summary["to rank"] == 32
    assert r["rank"].tolist()[:32] == list(range(1, 33)) and r["rank"].isna().sum() == 8
    assert r["score"].iloc[:32].is_monotonic_decreasing and r["score"].iloc[32:].isna().all()
    out = screen_output.write(result, screen_output.default_output(path), input_path=path)
    assert out.name == f"refs.ranked{suffix}" and path.read_bytes() == before  # input untouched
    back = screen_input.read_references(out)
    assert len(back) == 40
    if suffix == ".ris":  # extra fields travel as ASReview notes, labels as its relevant/irrelevant notes
        text = out.read_text()
        assert "N1  - asreview_rank: 1\n" in text and text.count("ASReview_relevant") == 4
    else:
        assert {"score", "rank", "labelled", "no_abstract", "duplicate"} <= set(back.columns)
        # each ranked row names the input record it is: its position there (1 = the first)
        given = screen_input.read_references(path)
        assert back["position"].tolist() != list(range(1, 41))  # ranked, not in the input's order
        assert back["title"].tolist() == given["title"].to_numpy()[back["position"] - 1].tolist()


def test_records_without_abstract_are_ranked_on_title_and_duplicates_kept_and_flagged(tmp_path):
    df = references()
    df.loc[20, "abstract"] = ""
    df.loc[21] = df.loc[22]
    result = screen_rank.screen(write(df, tmp_path / "refs.csv"), method="tfidf")
    r = result.records.set_index(result.records.index)
    assert r.loc[20, "no_abstract"] and np.isfinite(r.loc[20, "score"])
    assert r.loc[22, "duplicate"] and not r.loc[21, "duplicate"] and len(r) == 40
    assert result.summary["without abstract (ranked on title)"] == 1 and result.summary["duplicates (kept, flagged)"] == 1


@pytest.mark.parametrize("change,message", [
    (lambda df: df.drop(columns=["title", "abstract"]), "no title or abstract column"),
    (lambda df: df.assign(included=[""] * 40).pipe(lambda d: d.assign(included=["yes"] + [""] * 39)),
     r"1 record\(s\) labelled included; at least 2"),
    (lambda df: df.assign(included=df.included.replace({"no": "maybe"})), r"column 'included' has label value\(s\) \['maybe'\]"),
    (lambda df: df.drop(columns=["included"]), "no label column"),
])
def test_bad_input_names_file_column_and_value(tmp_path, change, message):
    path = write(change(references()), tmp_path / "refs.csv")
    with pytest.raises(ScreenError, match=f"refs.csv: {message}"):
        screen_rank.screen(path, method="tfidf")


def test_empty_file_undecodable_bytes_and_named_label_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    with pytest.raises(ScreenError, match="empty.csv: the file is empty"):
        screen_rank.screen(empty)
    bad = tmp_path / "latin.csv"
    bad.write_bytes("title,abstract,included\nna\xefve,x,yes\n".encode("latin-1"))
    with pytest.raises(ScreenError, match=r"latin.csv: not UTF-8 at byte 26 \(b'\\xef'\)"):
        screen_rank.screen(bad)
    df = references().rename(columns={"included": "decision"})
    df["decision"] = df["decision"].replace({"yes": "Included", "no": "EXCLUDED"})
    path = write(df, tmp_path / "refs.csv")
    with pytest.raises(ScreenError, match="no label column"):
        screen_rank.screen(path, method="tfidf")
    with pytest.raises(ScreenError, match="no column 'verdict'"):
        screen_rank.screen(path, method="tfidf", label_column="verdict")
    with pytest.warns(UserWarning):
        assert screen_rank.screen(path, method="tfidf", label_column="decision").summary["labelled included"] == 4


def test_output_never_overwrites_the_input(tmp_path):
    path = write(references(), tmp_path / "refs.csv")
    with pytest.warns(UserWarning):
        result = screen_rank.screen(path, method="tfidf")
    with pytest.raises(ScreenError, match="would overwrite the input"):
        screen_output.write(result, path, input_path=path)


@pytest.mark.parametrize("method", ["lora", "tfidf", "asreview+base"])
def test_ranking_equals_the_experiments_on_the_same_split(tiny_bert_dir, tmp_path, method):
    review = write_review(tmp_path / "data", "nsaids", n=60, n_pos=14, seed=3)
    config = SweepConfig(encoder=str(tiny_bert_dir), data_dir=str(tmp_path / "data"))
    trial = Trial(config, "nsaids", 0)
    table = pd.read_csv(review)
    labels = pd.Series([""] * len(table), dtype=object)
    labels.iloc[trial.data.split.train] = table["label"].iloc[trial.data.split.train].map({1: "1", 0: "0"})
    refs = write(table[["title", "abstract"]].assign(included=labels.to_numpy()), tmp_path / "refs.csv")
    result = screen_rank.screen(refs, method=method, encoder=str(tiny_bert_dir))
    from helpers.methods.beyond import candidate
    from helpers.methods.peers import TFIDF_LR
    from helpers.methods.variants import Lora

    variant = {"lora": Lora(), "tfidf": TFIDF_LR, "asreview+base": candidate("concat:asreview+base@0.5")}[method]
    expected = variant.score(trial).scores
    got = result.records.sort_index()["score"].to_numpy()[trial.data.split.eval]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_command_prints_the_summary_and_fails_clearly(tmp_path, capsys):
    path = write(references(n=40, labelled=(8, 8)), tmp_path / "refs.tsv")
    assert screen.main([str(path), "--method", "asreview", "--output", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr().out
    assert "records" in out and "40" in out and "method" in out and "asreview" in out and "out.csv" in out
    assert screen.main([str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: file not found" in capsys.readouterr().err


def test_asreview_simulate_runs_with_the_project_feature_extractor(tmp_path, tiny_bert_dir):
    df = references(n=30, n_pos=8, labelled=(0, 0)).assign(included=[1] * 8 + [0] * 22)
    data = write(df, tmp_path / "fixture.csv")
    asreview = Path(sys.executable).with_name("asreview")
    config = tmp_path / "cycle.json"  # (ASReview 3.0.8 opens TOML config files in text mode, which fails)
    config.write_text(json.dumps({"querier": "max", "classifier": "svm", "balancer": "balanced",
                                  "feature_extractor": "slr-embeddings",
                                  "feature_extractor_param": {"encoder": str(tiny_bert_dir)}}))
    listed = subprocess.run([str(asreview), "algorithms"], capture_output=True, text=True, cwd=tmp_path)
    assert "slr-embeddings" in listed.stdout
    subprocess.run([str(asreview), "simulate", str(data), "--config-file", str(config), "--prior-idx", "0", "1",
                    "9", "10", "--n-stop", "-1", "--seed", "0", "-o", str(tmp_path / "sim.asreview")],
                   check=True, capture_output=True, cwd=tmp_path)
    with zipfile.ZipFile(tmp_path / "sim.asreview") as z:
        z.extract("results.db", tmp_path)
    order = [r[0] for r in sqlite3.connect(tmp_path / "results.db").execute("select record_id from results order by rowid")]
    assert sorted(order[:4]) == [0, 1, 9, 10] and sorted(order) == list(range(30))


def test_a_duplicated_header_or_a_file_without_usable_text_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("title,abstract,included,Included\na,b,yes,\n")
    with pytest.raises(ScreenError, match=r"dup.csv: column\(s\) \['Included', 'included'\] appear more than once"):
        screen_rank.screen(path)
    letters = references(n=20, n_pos=6, labelled=(3, 3)).assign(title=list("abcdefghijklmnopqrst"), abstract="")
    short = write(letters, tmp_path / "letters.csv")
    for method in ("tfidf", "asreview"):
        assert screen.main([str(short), "--method", method]) == 2
        err = capsys.readouterr().err
        assert "letters.csv: no title or abstract holds a word" in err and "Traceback" not in err, err
    empty = write(letters.assign(title=""), tmp_path / "empty_text.csv")
    with pytest.raises(ScreenError, match="every record's title and abstract are empty"):
        screen_rank.screen(empty, method="tfidf")


def test_ranking_a_file_without_an_encoder_never_imports_torch(tmp_path):
    path = write(references(n=40, labelled=(8, 8)), tmp_path / "refs.csv")
    code = (f"import sys; from helpers.commands import screen; screen.main([{str(path)!r}, '--method', 'tfidf', '--output', "
            f"{str(tmp_path / 'out.csv')!r}]); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False") and (tmp_path / "out.csv").is_file()


def screened_so_far(tmp_path, read: int, *, gap: bool = False) -> tuple[Path, pd.DataFrame]:
    """slr-screen's own ranked output of a shared-like review after reading its first ``read``
    ranks (labels filled in from the hidden truth)."""
    review = write_review(tmp_path / "data", "nsaids", n=300, n_pos=20, seed=4)
    table = pd.read_csv(review)
    shown = pd.Series([""] * len(table), dtype=object)
    shown.iloc[[0, 1, 2, 3, 100, 101, 102, 103]] = table["label"].iloc[[0, 1, 2, 3, 100, 101, 102, 103]].astype(str)
    refs = write(table[["title", "abstract"]].assign(included=shown.to_numpy()), tmp_path / "refs.csv")
    with pytest.warns(UserWarning):
        ranked = screen_rank.screen(refs, method="tfidf")
    out = screen_output.write(ranked, tmp_path / "ranked.csv", input_path=refs)
    done = pd.read_csv(out)
    truth = table["label"].to_numpy()[done["position"] - 1]  # position: 1 = the input's first record
    reading = done["rank"].le(read) & done["rank"].notna()
    if gap:
        reading &= done["rank"] != 2
    done["included"] = done["included"].astype(object)
    done.loc[reading, "included"] = truth[reading.to_numpy()]  # the reviewer's decisions, in the file's own column
    done.to_csv(out, index=False)
    return out, done


def test_a_stopping_check_reads_the_order_and_says_stop_or_go_on_and_what_to_sample(tmp_path, capsys):
    path, done = screened_so_far(tmp_path, read=40)
    check = screen_stopping.check_stopping(path, recall_target=0.95, confidence=0.95, seed=3)
    assert (check.read, check.total) == (48, 300) and check.found == int(pd.to_numeric(done["included"]).sum())
    assert [d[0] for d in check.decisions] == ["50 excluded in a row", "knee"]  # the heuristics, as notebook 10 names them
    assert check.test_now.startswith("p = ") and check.sample_size > 0
    from helpers.compute import stopping

    prepared = screen_input.prepare(screen_input.read_references(path), path=path)
    labels = screen_stopping.reading_labels(pd.read_csv(path), prepared, path=path, order_column=None)
    to_go = stopping.records_to_go(labels, 300)
    assert stopping.recommended(labels, 300).at is None  # the verdict is helpers.compute.stopping's on the same labels
    assert check.recommendation.startswith(f"go on: about {to_go:,} more records, all excluded, before this rule can "
                                           f"stop ({stopping.RECOMMENDED.name})")
    assert "included records are still unread (95% confidence)" in check.recommendation
    sample = pd.read_csv(check.sample_path)
    assert len(sample) == min(check.sample_size, 252) and sample["record"].between(1, 300).all()
    assert set(sample["record"] - 1).isdisjoint(set(np.flatnonzero(done["included"].notna())))  # unread only
    again = screen_stopping.check_stopping(path, seed=3)
    assert pd.read_csv(again.sample_path).equals(sample)  # seeded
    assert screen.main([str(path), "--check-stopping", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "48 of 300 records read in order" in out and "go on" in out and "random" in out
    assert out.splitlines()[1].strip() == check.recommendation  # it leads
    assert out.splitlines()[2].strip() == check.test_now and "without a recall guarantee" in out


def test_labels_out_of_reading_order_or_a_file_without_order_are_errors_naming_the_record(tmp_path):
    path, _ = screened_so_far(tmp_path, read=10, gap=True)
    with pytest.raises(ScreenError, match=r"ranked.csv: record \d+ \(rank 2\) is not labelled but record \d+ \(rank 10\)"):
        screen_stopping.check_stopping(path)
    no_order = write(references(), tmp_path / "plain.csv")
    with pytest.raises(ScreenError, match="plain.csv: no reading order"):
        screen_stopping.check_stopping(no_order)
    frame = pd.read_csv(path)
    frame.loc[frame["rank"] == 5, "rank"] = "fifth"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ScreenError, match=r"bad.csv: column 'rank' has order value 'fifth' at record \d+"):
        screen_stopping.check_stopping(tmp_path / "bad.csv")


def test_each_bad_input_or_option_is_named_before_any_work_and_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    refs = write(references(), tmp_path / "refs.csv")
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("not a folder")
    workbook = tmp_path / "book.xlsx"
    pd.read_csv(refs).to_excel(workbook, index=False)
    cases = {
        "random.xlsx": (lambda p: p.write_bytes(bytes(range(256)) * 4), [], "not a readable Excel workbook"),
        "renamed_csv.xlsx": (lambda p: p.write_bytes(refs.read_bytes()), [], "not a readable Excel workbook"),
        "truncated.xlsx": (lambda p: p.write_bytes(workbook.read_bytes()[:700]), [], "not a readable Excel workbook"),
    }
    for name, (make, extra, message) in cases.items():
        make(tmp_path / name)
        assert screen.main([str(tmp_path / name), *extra]) == 2
        assert message in capsys.readouterr().err
    ranked_once = []
    monkeypatch.setattr(screen_rank, "rank", lambda *a, **k: ranked_once.append(1) or pytest.fail("ranked before checking"))
    for argv, message in [
        ([str(refs), "--output", str(tmp_path / "folder")], "folder: is a folder; name a file"),
        ([str(refs), "--output", str(tmp_path / "a_file" / "out.csv")], "is a file, not a folder"),
        ([str(refs), "--output", str(refs)], "would overwrite the input"),
        ([str(tmp_path / "folder")], "is a folder; give the reference file itself"),
        ([str(refs), "--check-stopping", "--consecutive", "-5"], "--consecutive -5: must be at least 1"),
        ([str(refs), "--check-stopping", "--sample-output", str(tmp_path / "folder")], "--sample-output " + str(tmp_path / "folder") + ": is a folder"),
        ([str(refs), "--check-stopping", "--sample-output", str(tmp_path / "s.xlsx")], "use one of .csv"),
    ]:
        assert screen.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not ranked_once


def test_control_characters_are_removed_for_xlsx_and_said_so_and_no_temp_is_left(tmp_path, capsys):
    frame = pd.read_csv(write(references(), tmp_path / "refs.csv"))
    frame.loc[0, "title"] = "a title with a bell \x07 inside"
    frame.to_csv(tmp_path / "bell.csv", index=False)
    assert screen.main([str(tmp_path / "bell.csv"), "--output", str(tmp_path / "out.xlsx")]) == 0
    assert "control characters removed (XLSX cannot hold them)  1" in capsys.readouterr().out
    assert "a title with a bell  inside" in pd.read_excel(tmp_path / "out.xlsx")["title"].tolist()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_two_decision_columns_that_disagree_are_an_error_naming_both_and_the_record(tmp_path):
    frame = pd.read_csv(write(references(), tmp_path / "refs.csv"))
    frame["label_included"] = frame["included"]
    frame.to_csv(tmp_path / "agree.csv", index=False)
    prepared = screen_input.prepare(screen_input.read_references(tmp_path / "agree.csv"), path=tmp_path / "agree.csv")
    assert screen_input.decisions_note(prepared).startswith("column `included`: ")  # they agree: ASReview's first name is read
    frame.loc[20, "label_included"] = "yes"
    frame.to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(ScreenError, match=r"two.csv: columns 'included' and 'label_included' both hold decisions and "
                                          r"differ at record 21 \(included: blank, label_included: 'yes'\); name the one"):
        screen_input.prepare(screen_input.read_references(tmp_path / "two.csv"), path=tmp_path / "two.csv")
    chosen = screen_input.prepare(screen_input.read_references(tmp_path / "two.csv"), path=tmp_path / "two.csv",
                            label_column="label_included")
    assert screen_input.decisions_note(chosen).startswith("column `label_included`: ")


def test_a_reviewers_own_column_named_like_ours_is_an_error_not_dropped(tmp_path, capsys):
    frame = pd.read_csv(write(references(), tmp_path / "refs.csv"))
    frame["score"] = range(len(frame))  # e.g. a quality score of the reviewer's own
    frame.to_csv(tmp_path / "own.csv", index=False)
    assert screen.main([str(tmp_path / "own.csv"), "--method", "tfidf"]) == 2
    assert "own.csv: column 'score' has a name slr-screen writes" in capsys.readouterr().err
    assert not (tmp_path / "own.ranked.csv").exists()
    assert screen.main([str(tmp_path / "refs.csv"), "--method", "tfidf"]) == 0  # our own output, read again: replaced
    assert screen.main([str(tmp_path / "refs.ranked.csv"), "--method", "tfidf", "--output", str(tmp_path / "r2.csv")]) == 0
    assert "replaced (an earlier round's)" in capsys.readouterr().out
    assert list(pd.read_csv(tmp_path / "r2.csv").columns).count("score") == 1


def test_the_commands_that_touch_asreview_leave_no_file_they_were_not_asked_to_write(tmp_path):
    """ASReview's dataset module installs a requests cache that writes ``synergy_cache.sqlite``
    into the working directory at import; run from a scratch directory, slr-screen (ranking with
    ASReview's model, reading and writing RIS and XLSX, the stopping check) and an ASReview
    one-shot ranking leave only the files they were asked to write."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    write(references(n=60, labelled=(8, 8)), scratch / "refs.csv")
    slr_screen = Path(sys.executable).with_name("slr-screen")
    for argv in (["refs.csv", "--method", "asreview", "--output", "ranked.csv"],
                 ["refs.csv", "--method", "tfidf", "--output", "ranked.ris"],
                 ["ranked.ris", "--method", "tfidf", "--output", "ranked.xlsx"],
                 ["ranked.csv", "--check-stopping", "--sample-output", "sample.csv"]):
        subprocess.run([str(slr_screen), *argv], check=True, capture_output=True, cwd=scratch)
    code = ("from helpers.methods.asreview_peers import load_asreview; load_asreview(); "
            "from asreview.extensions import load_extension; load_extension('models.stoppers', 'slr-stop')")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=scratch)
    assert sorted(p.name for p in scratch.iterdir()) == ["ranked.csv", "ranked.ris", "ranked.xlsx", "refs.csv", "sample.csv"]
