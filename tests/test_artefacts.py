"""Keyed artefacts: stored once, read back exactly, recomputed when the key changes or asked to."""

import numpy as np
import pandas as pd
import pytest

from helpers.core import artefacts, results


def values(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"points": rng.normal(size=(5, 2)).astype(np.float32), "labels": np.array([1, 0, 1, 1, 0]),
            "names": np.array(["a", "b"]), "table": pd.DataFrame({"x": [1, 2], "y": [0.1 + 0.2, np.nan],
                                                                 "z": ["u", "v"], "flag": [True, False]}),
            "mean": 0.25, "note": "text", "counts": {"a": 1}}


def test_values_come_back_exactly_and_only_a_changed_key_computes_again(tmp_path, monkeypatch):
    ledger = tmp_path / "ledger.txt"
    monkeypatch.setenv(results.LEDGER_ENV, str(ledger))
    calls = []

    def compute(seed=0):
        calls.append(seed)
        return values(seed)

    first = artefacts.stored("02_map", {"per_class": 3}, compute, folder=tmp_path / "a")
    again = artefacts.stored("02_map", {"per_class": 3}, compute, folder=tmp_path / "a")
    assert calls == [0]
    for k, v in first.items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(again[k], v) and again[k].dtype == v.dtype
        elif isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(again[k], v, check_exact=True)
        else:
            assert again[k] == v
    artefacts.stored("02_map", {"per_class": 4}, lambda: compute(1), folder=tmp_path / "a")
    artefacts.stored("02_map", {"per_class": 3}, lambda: compute(2), folder=tmp_path / "a", recompute=True)
    assert calls == [0, 1, 2] and len(list((tmp_path / "a").glob("02_map-*.npz"))) == 2
    assert artefacts.stored_key(artefacts.path_of("02_map", {"per_class": 4}, tmp_path / "a"))["key"] == {"per_class": 4}
    usage = results.read_usage(ledger)["artefacts"]
    assert (usage["reused"], usage["computed"], usage["measured"]) == (1, 3, [])
    artefacts.stored("04_latency", {"machine": {"cpu": "x"}}, lambda: {"t": 1.0}, folder=tmp_path / "a")
    assert results.read_usage(ledger)["artefacts"]["measured"] == ["04_latency"]


def test_a_damaged_artefact_is_reported_and_computed_again(tmp_path):
    path = artefacts.path_of("03_x", {"k": 1}, tmp_path)
    artefacts.stored("03_x", {"k": 1}, lambda: {"v": np.arange(3)}, folder=tmp_path)
    path.write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match=f"{path}: cannot be read"):
        assert artefacts.stored("03_x", {"k": 1}, lambda: {"v": np.arange(4)}, folder=tmp_path)["v"].tolist() == [0, 1, 2, 3]
    assert artefacts.read(path)["v"].tolist() == [0, 1, 2, 3]


def test_object_arrays_and_unkeyable_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="Python objects"):
        artefacts.stored("x", {"k": 1}, lambda: {"v": np.array([{}, 1], dtype=object)}, folder=tmp_path)
    with pytest.raises(TypeError, match="column 'c' of 't' holds Python objects"):
        artefacts.stored("x", {"k": 2}, lambda: {"t": pd.DataFrame({"c": ["a", None]})}, folder=tmp_path)
    with pytest.raises(TypeError, match="a key cannot hold"):
        artefacts.key_hash("x", {"k": object()})


def test_the_machine_fingerprint_names_cpu_cores_torch_and_device():
    fp = artefacts.machine_fingerprint("cpu")
    assert set(fp) == {"cpu", "cores", "torch", "device"} and fp["cores"] >= 1 and fp["cpu"]
