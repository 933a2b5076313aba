import math

import pytest
import torch

from helpers.bench import inference_latency, memory_table, study_training_seconds, training_step_time
from helpers.compress import quantize_weights
from helpers.encoder import load_encoder


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
    assert t["median_step_s"] > 0
    assert study_training_seconds(2.0) == 2.0 * 160


def test_latency_over_budget_times_a_sub_batch_and_scales_it(enc):
    """A budget no forward can meet shrinks the timed batch to one example, scaled to the batch;
    a generous one times the full batch."""
    scaled = inference_latency(enc, batch_size=8, seq_len=16, repeats=5, budget_s=0.0)
    one = inference_latency(enc, batch_size=1, seq_len=16, repeats=5)
    assert scaled["measured_batch"] == 1
    assert scaled["median_s"] > 3 * one["median_s"]  # scaled by 8; unscaled it would be about 1×
    assert inference_latency(enc, batch_size=8, seq_len=16, repeats=1, budget_s=1e6)["measured_batch"] == 8
