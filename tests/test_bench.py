import math

import pytest
import torch

from helpers.analysis.bench import inference_latency, memory_table, study_training_seconds, training_step_time
from helpers.models.compress import quantize_weights
from helpers.models.encoder import load_encoder


@pytest.fixture
def enc(tiny_bert_dir, tmp_path):
    return load_encoder(str(tiny_bert_dir), cache_dir=tmp_path)


def test_memory_table_matches_saved_files(enc):
    rows = {(r["part"], r["bits"]): r for r in memory_table(enc)}
    n = sum(p.numel() for p in enc.model.parameters())
    assert rows[("encoder", 32)]["parameters"] == n
    assert rows[("LoRA", 32)]["parameters"] == 3 * 2 * 2 * 128 * 4  # last 3 of 4 layers, key+value, rank 4
    for key in [("encoder", b) for b in (32, 16, 8, 4)] + [("LoRA", 32), ("LoRA", 16)]:
        r = rows[key]
        # saved files add headers and per-channel/group scales: a few percent on this tiny model
        assert r["saved_file_MiB"] == pytest.approx(r["computed_MiB"], rel=0.12, abs=4 / 1024), key
    assert rows[("encoder", 4)]["computed_MiB"] < rows[("encoder", 8)]["computed_MiB"] < rows[("encoder", 16)]["computed_MiB"]
    assert math.isnan(rows[("LoRA", 4)]["saved_file_MiB"])


def test_latency_and_training_timers_run_every_precision(enc):
    for variant, dtype in ((enc, None), (quantize_weights(enc), None), (enc, torch.bfloat16)):
        r = inference_latency(variant, batch_size=2, seq_len=16, repeats=2, autocast_dtype=dtype)
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["measured_batch"] == 2
    t = training_step_time(enc, n_steps=1, seq_len=16)
    assert t["median_step_s"] > 0 and t["measured_pairs"] == t["pairs"] == 16
    assert study_training_seconds(2.0) == 2.0 * 160


def test_a_training_step_over_budget_times_fewer_pairs_and_scales_them(enc):
    scaled = training_step_time(enc, n_steps=2, seq_len=16, pairs_per_batch=16, budget_s=1e-6)
    assert scaled["measured_pairs"] == 2 and scaled["pairs"] == 16 and scaled["steps_measured"] == 1  # the probe alone
    full = training_step_time(enc, n_steps=1, seq_len=16, pairs_per_batch=8, budget_s=1e6)
    assert full["measured_pairs"] == 8 and full["steps_measured"] == 1


def test_the_budget_plan_keeps_a_cell_near_its_budget():
    from helpers.analysis.bench import _plan

    assert _plan(32, 3, None, probe=None, smallest=1).measured == 32
    assert _plan(32, 3, 100.0, probe=0.1, smallest=1).measured == 32  # everything fits
    fitted = _plan(32, 3, 10.0, probe=0.5, smallest=1)
    assert fitted.measured == 4 and (fitted.repeats + 1) * fitted.measured * 0.5 <= 10.0 - 0.5
    fewer = _plan(32, 3, 10.0, probe=3.0, smallest=1)  # one example, fewer repeats
    assert (fewer.measured, fewer.repeats, fewer.runs) == (1, 1, None)
    alone = _plan(32, 3, 10.0, probe=8.0, smallest=1)  # the probe is the measurement
    assert alone.runs == [8.0]
    assert _plan(16, 2, 20.0, probe=1.0, smallest=2).measured % 2 == 0  # pairs come in whole batches of both kinds


def test_latency_over_budget_times_a_sub_batch_and_scales_it(enc):
    """A budget no forward can meet shrinks the timed batch to one example, scaled to the batch;
    a generous one times the full batch."""
    scaled = inference_latency(enc, batch_size=8, seq_len=16, repeats=5, budget_s=0.0)
    one = inference_latency(enc, batch_size=1, seq_len=16, repeats=5)
    assert scaled["measured_batch"] == 1
    assert scaled["median_s"] > 3 * one["median_s"]  # scaled by 8; unscaled it would be about 1×
    assert inference_latency(enc, batch_size=8, seq_len=16, repeats=1, budget_s=1e6)["measured_batch"] == 8


def test_footprints_give_each_variant_its_architecture_s_latency_and_bytes(enc):
    from conftest import synthetic_texts
    from helpers.analysis.bench import footprint_table
    from helpers.core.config import DistillArgs, SweepConfig
    from helpers.methods.distilled import distilled_variants
    from helpers.methods.variants import STUDY_VARIANTS

    students = distilled_variants(DistillArgs(), layers=2)
    table = footprint_table(STUDY_VARIANTS + students, enc, SweepConfig(), batch=4, repeats=1, budget_s=None,
                            calibration_texts=synthetic_texts(4, seed=0)).set_index("variant")
    assert (table.seconds_per_citation > 0).all() and table.architecture.nunique() == 5
    same = table.loc[["student2", "student2-from-lora", "student2-from-base"]]
    assert same.seconds_per_citation.nunique() == 1 and same.weights_MiB.nunique() == 1  # one measurement for one shape
    assert table.loc["student2", "parameters"] < table.loc["base", "parameters"]
    assert table.loc["student2", "weights_MiB"] < table.loc["base", "weights_MiB"]
    assert table.loc["lora+int4", "weights_MiB"] < table.loc["lora", "weights_MiB"]
    assert table.loc["lora+wanda50", "weights_MiB"] == pytest.approx(table.loc["lora", "weights_MiB"], rel=1e-3)  # zeros stay


def test_a_variant_without_a_stand_in_is_named(enc):
    from helpers.core.config import SweepConfig
    from helpers.methods.peers import TFIDF_LR

    with pytest.raises(ValueError, match="no stand-in for variant 'tfidf\\+lr'"):
        TFIDF_LR.stand_in(enc, SweepConfig(), calibration_texts=[])
