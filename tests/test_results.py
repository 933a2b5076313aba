import multiprocessing as mp

import pandas as pd
import pytest

from helpers.core import results


def key(**changes):
    base = dict(review="nsaids", data_checksum="abc", variant="lora", seed=0, n_per_class=8, eval_cap=None,
                settings={"training": {"learning_rate": 0.007, "epochs": 2}},
                encoder={"encoder": "m", "encoder_fingerprint": "f", "pooling": "mean", "max_length": 256,
                         "normalize": True})
    return results.make_key(**{**base, **changes})


def row(k, awss=0.5):
    return {**k.columns(), "awss": awss}


def test_every_identity_field_changes_the_key_and_equal_settings_give_equal_keys():
    k = key()
    assert key().hash == k.hash
    assert key(settings={"training": {"epochs": 2, "learning_rate": 0.007}}).hash == k.hash  # order does not matter
    changed = [key(review="adhd"), key(data_checksum="abd"), key(variant="base"), key(seed=1), key(n_per_class=4),
               key(eval_cap=200), key(settings={"training": {"learning_rate": 0.001, "epochs": 2}}),
               key(settings={"training": {"learning_rate": 0.007, "epochs": 3}}),
               key(encoder={"encoder": "m", "encoder_fingerprint": "g", "pooling": "mean", "max_length": 256, "normalize": True}),
               key(encoder={"encoder": "m", "encoder_fingerprint": "f", "pooling": "cls", "max_length": 256, "normalize": True}),
               key(encoder={"encoder": "m", "encoder_fingerprint": "f", "pooling": "mean", "max_length": 128, "normalize": True}),
               key(encoder={"encoder": "m", "encoder_fingerprint": "f", "pooling": "mean", "max_length": 256, "normalize": False}),
               key(encoder=None)]
    assert len({c.hash for c in changed} | {k.hash}) == len(changed) + 1


def test_append_replaces_by_key_and_done_and_select_follow_keys(tmp_path):
    path = tmp_path / "results.csv"
    a, b = key(), key(seed=1)
    results.append(path, [row(a, 0.1)])
    results.append(path, [row(a, 0.2), row(b, 0.3)])
    table = results.read(path)
    assert len(table) == 2
    assert results.done(table, [a, b, key(seed=2)]) == [True, True, False]
    picked = results.select(table, [b, key(seed=2), a])
    assert picked["awss"].tolist() == [0.3, 0.2] and picked["key"].tolist() == [b.hash, a.hash]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_rows_with_known_columns_are_appended_in_place_and_earlier_bytes_never_move(tmp_path):
    path = tmp_path / "results.csv"
    results.append(path, [row(key(seed=i), i / 7) for i in range(3)])
    before = path.read_bytes()
    results.append(path, [row(key(seed=9), 1 / 3)])
    after = path.read_bytes()
    assert after.startswith(before) and after.count(b"\n") == before.count(b"\n") + 1  # one line added, none rewritten
    assert results.read(path).set_index("seed").loc[9, "awss"] == 1 / 3  # read back exactly
    results.append(path, [{**row(key(seed=10), 0.5), "train_seconds": 2.0}])  # a new column: the table is rewritten
    table = results.read(path)
    assert len(table) == 5 and table.set_index("seed").loc[10, "train_seconds"] == 2.0
    assert pd.isna(table.set_index("seed").loc[9, "train_seconds"])
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # a writer killed mid-row: the last row's number is cut short
    with pytest.warns(UserWarning, match="cut off mid-row"):
        assert 10 not in results.read(path)["seed"].tolist()  # never read as done with a cut number
    with pytest.warns(UserWarning, match="cut off mid-row"):
        results.append(path, [row(key(seed=11), 0.25)])
    table = results.read(path).set_index("seed")
    assert sorted(table.index) == [0, 1, 2, 9, 11] and table.loc[11, "awss"] == 0.25  # the torn row is gone, not glued
    assert path.read_bytes().endswith(b"\n")


def test_a_reader_waits_for_a_writer_holding_the_lock(tmp_path):
    """Appends are in place, so ``read`` takes the shared lock: it never parses half a row."""
    import threading
    import time

    from helpers.core.io import file_lock

    path = tmp_path / "results.csv"
    results.append(path, [row(key(seed=0), 0.5)])
    seen = []
    with file_lock(path):  # a writer, mid-append
        reader = threading.Thread(target=lambda: seen.append(len(results.read(path))))
        reader.start()
        time.sleep(0.3)
        assert seen == []  # still waiting
        with open(path, "a") as f:
            f.write(path.read_text().splitlines()[1].replace(key(seed=0).hash, "x" * 16) + "\n")
    reader.join(5)
    assert seen == [2]


def test_rows_without_keys_from_an_older_version_are_never_matched(tmp_path):
    path = tmp_path / "results.csv"
    pd.DataFrame([{"review": "nsaids", "variant": "lora", "seed": 0, "encoder": "m", "max_length": 256,
                   "eval_cap": -1, "awss": 0.436}]).to_csv(path, index=False)
    table = results.read(path)
    assert results.done(table, [key()]) == [False] and results.select(table, [key()]).empty
    results.append(path, [row(key(), 0.57)])
    table = results.read(path)
    assert len(table) == 2 and results.select(table, [key()])["awss"].tolist() == [0.57]


def _append_many(path, start):
    for i in range(start, start + 25):
        results.append(path, [row(key(seed=i), i / 100)])


def test_two_processes_appending_at_once_lose_no_row(tmp_path):
    path = tmp_path / "results.csv"
    ctx = mp.get_context("spawn")  # fork after torch/OpenMP started can hang the child
    procs = [ctx.Process(target=_append_many, args=(path, s)) for s in (0, 25, 50, 75)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    table = results.read(path)
    assert len(table) == 100 and results.done(table, [key(seed=i) for i in range(100)]) == [True] * 100


def test_a_garbage_results_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "results.csv"
    path.write_bytes(b"\x00\x01garbage\xff\n\x00,,\n")
    with pytest.raises(results.ResultsError, match=f"{path}: .*move it aside"):
        results.read(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(results.ResultsError, match="not a results table"):
        results.read(path)


def test_usage_ledger_sums_what_notebooks_reused_and_computed(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv(results.LEDGER_ENV, str(ledger))
    results.note_usage(reused=3, computed=1)
    results.note_usage(reused=2, computed=0)
    results.note_usage(kind="artefacts", reused=1, computed=0)
    results.note_usage(kind="artefacts", reused=0, computed=1, name="04_latency")
    usage = results.read_usage(ledger)
    assert (usage["rows"]["reused"], usage["rows"]["computed"]) == (5, 1)
    assert usage["artefacts"] == {"reused": 1, "computed": 1, "measured": ["04_latency"]}
    monkeypatch.delenv(results.LEDGER_ENV)
    results.note_usage(reused=9, computed=9)  # no ledger: nothing written
    assert results.read_usage(ledger)["rows"]["computed"] == 1
