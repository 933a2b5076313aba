"""FLOPs counted on a tiny BERT against the analytic count, the batching arithmetic of inference
and phase 1 against counting the real run, energy's provenance, and the reading-time arithmetic."""

import numpy as np
import pytest

from conftest import synthetic_texts
from helpers.analysis import cost
from helpers.models.flops import FlopCounts, LengthCost, RowWork, SplitTokens, count_flops, distillation_flops, embedding_flops, forward_cost, phase1_flops, training_cost
from helpers.analysis.power import Power, measure_power
from helpers.core.config import TrainingArgs
from helpers.models.encoder import load_encoder

FAST = TrainingArgs(n_positive=8, n_negative=8, epochs=1)


@pytest.fixture
def enc(tiny_sentence_encoder_dir):
    return load_encoder(str(tiny_sentence_encoder_dir), cache_dir=None)


def analytic(config, length: int) -> int:
    """2·m·n·k per matrix product of one BERT forward on one text of ``length`` tokens: Q, K, V and
    output projections (4·2·L·h²), attention scores and weighted values (2·2·L²·h), the
    feed-forward (2·2·L·h·i) in every layer, and the pooler's dense layer on [CLS] (2·h²)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * (8 * length * h * h + 4 * length * length * h + 4 * length * h * i) + 2 * h * h


def test_a_forward_counts_every_matrix_product_attention_included(enc):
    fitted = forward_cost(enc)
    for length in (16, 48, 100):
        assert fitted(length) == pytest.approx(analytic(enc.model.config, length), rel=1e-12)


def test_inference_flops_follow_the_embeddings_batches():
    unit = LengthCost(0.0, 1.0, 0.0)  # one FLOP per token: the padding shows
    assert embedding_flops(unit, [10, 30, 20, 5], max_length=25, batch_size=2) == 2 * 25 + 2 * 10
    assert embedding_flops(unit, [7], max_length=512) == 7


def test_phase_1_flops_equal_counting_the_real_training(enc):
    from helpers.models.contrastive import train_lora

    texts = synthetic_texts(16, seed=3)
    labels = np.r_[np.ones(8, int), np.zeros(8, int)]
    counted = count_flops(lambda: train_lora(enc, texts, labels, seed=2, args=FAST, progress=False))
    lengths = [len(ids) for ids in enc.tokenizer(texts)["input_ids"]]
    derived = phase1_flops(training_cost(enc, FAST), lengths, labels, FAST, seed=2, max_length=enc.max_length)
    assert derived == pytest.approx(counted, rel=1e-9)
    assert derived > embedding_flops(forward_cost(enc), lengths, max_length=enc.max_length)


def test_power_is_measured_or_labelled_estimated_with_the_flop_rate_kept_meanwhile():
    calls = []
    power = measure_power("embedding", lambda: calls.append(np.linalg.svd(np.random.default_rng(0).random((200, 200)))),
                               country="BRA", min_seconds=1.0, flops_per_call=1e6)
    assert power.watts > 0 and power.seconds >= 1.0 and power.country == "BRA" and power.kg_co2_per_kwh > 0
    assert power.source.startswith(("rapl", "estimated (codecarbon"))
    assert len(calls) * 1e6 / power.flops_per_second == pytest.approx(power.seconds, rel=0.1)
    assert np.isnan(measure_power("scoring", lambda: None, country="BRA", min_seconds=0.2).flops_per_second)


def test_a_row_s_energy_costs_counted_flops_at_the_machine_s_rate_and_other_work_its_recorded_seconds():
    powers = {phase: Power(phase, watts, "estimated (test)", 0.1, "BRA", 20.0, rate)
              for phase, watts, rate in (("training", 36.0, 1e9), ("embedding", 18.0, 2e9), ("scoring", 7.2, np.nan))}
    # a cached embedding recorded 0.01 s: its 4e10 counted FLOPs take 20 s at 2e9 FLOP/s, 18 W → 0.1 Wh;
    # phase 1's 3.6e9 FLOPs take 3.6 s at 36 W → 0.036 Wh; the head's 1 s left at 7.2 W → 0.002 Wh
    row = {"seconds": 6.01, "train_seconds": 5.0, "embed_seconds": 0.01}
    assert cost.row_energy(row, powers, train_flops=3.6e9, inference_flops=4e10) == pytest.approx(0.1 + 0.036 + 0.002)
    # no FLOP count (TF-IDF, setfit): the seconds it recorded, each at its phase's power
    assert cost.row_energy(row, powers) == pytest.approx((36 * 5 + 18 * 0.01 + 7.2 * 1.0) / 3600)
    assert cost.row_energy({"seconds": 10.0}, powers) == pytest.approx(7.2 * 10 / 3600)


def test_reading_time_saved_on_a_hand_made_case():
    # 1,000 records, 50 included: 48 found (TPR 0.96) after reading 48 + 95 (TNR 0.9) = 143
    hours = cost.reading_hours_saved(1000, 50, 0.96, 0.9)
    assert hours == pytest.approx((1000 - 143) * 30 / 3600)
    assert cost.reading_hours_saved(1000, 50, 0.96, 0.9, seconds_per_abstract=72) == pytest.approx(hours * 72 / 30)


def test_the_pareto_front_keeps_what_nothing_beats_on_both():
    cost_, benefit = [1, 2, 3, 4, np.nan], [0.2, 0.5, 0.4, 0.9, 1.0]
    assert cost.pareto_front(cost_, benefit).tolist() == [0, 1, 3]  # 3 costs more than 1 for less; NaN has no cost


def test_a_row_s_flops_come_from_its_settings(enc):
    import json

    from helpers.methods.peers import TFIDF_LR
    from helpers.core.config import DistillArgs, SweepConfig
    from helpers.methods.distilled import Distilled
    from helpers.methods.variants import Base, Lora, LoraQuantized

    counts = FlopCounts(enc)
    split = SplitTokens(np.full(16, 20), np.full(100, 30), np.r_[np.ones(8, int), np.zeros(8, int)],
                             np.r_[np.full(16, 20), np.full(100, 30)])
    tokens = lambda review, seed: split  # noqa: E731
    config = SweepConfig(training=FAST)

    def flops(variant):  # as cost_table sees a stored row: its settings read back from JSON
        settings = json.loads(json.dumps(variant.settings(config, "nsaids")))
        return variant.flops(RowWork("nsaids", 0, settings, counts, tokens))

    base, lora, int4, tfidf = flops(Base()), flops(Lora()), flops(LoraQuantized()), flops(TFIDF_LR)
    small = DistillArgs(steps=3, pairs=4)
    students = {teacher: flops(Distilled(layers=2, teacher=teacher, distillation=None if teacher == "none" else small))
                for teacher in ("none", "base", "lora")}
    assert base[0] == 0 and base[1] == pytest.approx(16 * counts.base()(20) + 100 * counts.base()(30)) and base[2] == "counted"
    assert lora[0] > 0 and lora[1] > base[1]  # phase 1, and LoRA's own products on every text
    assert int4[:2] == lora[:2] and int4[2].startswith("mixed (4-bit")
    assert np.isnan(tfidf[0]) and np.isnan(tfidf[1]) and tfidf[2].startswith("not measured")
    # a 2-of-4-layer student: half the layers' products on every text; its training is the distillation's steps
    # (and the teacher's: Base's embedding of the pool, or phase 1 and the adapted encoder's)
    assert students["none"][:3] == (0.0, pytest.approx(16 * counts.student(2)(20) + 100 * counts.student(2)(30)), "counted")
    assert students["base"][1] == students["none"][1] < 0.6 * base[1]
    steps = distillation_flops(counts.distillation(2), split.pool, small, max_length=enc.max_length)
    pool = lambda per_text: embedding_flops(per_text, split.pool, max_length=enc.max_length)  # noqa: E731
    assert students["base"][0] == pytest.approx(steps + pool(counts.base()))
    assert students["lora"][0] == pytest.approx(steps + lora[0] + pool(counts.adapted(FAST)))
    # the teacher's pass is embedding work: cost_table prices it at the embedding phase's rate
    assert students["lora"].teacher_pass == pytest.approx(pool(counts.adapted(FAST)))
    assert students["base"].teacher_pass == pytest.approx(pool(counts.base()))
    assert lora.teacher_pass == 0.0 and students["none"].teacher_pass == 0.0


def test_the_reader_s_table_puts_each_mean_beside_its_interval_and_shows_no_count_as_missing():
    import pandas as pd

    rows = pd.DataFrame({"review": ["a", "a", "b", "b"], "seed": [0, 1, 0, 0], "variant": ["base", "base", "base", "tfidf+lr"],
                         "flops_counted": ["counted"] * 3 + ["not measured (no torch model)"],
                         **{c: [1.0, 3.0, 4.0, np.nan] for c in ("awss", "train_flops", "inference_flops_per_citation",
                                                                   "flops_per_citation", "energy_wh", "co2_g", "hours_saved", "hours_saved_slow",
                                                                   "hours_saved_per_wh")}})
    methods = cost.method_costs(rows)
    shown = cost.readable(methods, labels=str.upper).set_index("method")
    base = methods.set_index("variant").loc["base"]
    assert base["awss"] == 3.0  # review a: mean of seeds 1 and 3; review b: 4
    assert shown.loc["BASE", "AWSS@95"] == f"3 ({base['awss_ci_low']:.3g}–{base['awss_ci_high']:.3g})"
    assert shown.loc["TFIDF+LR", "energy per review, Wh"] == "–" and shown.loc["TFIDF+LR", "training FLOPs"] == "–"


def test_the_compression_table_sets_each_cost_beside_the_reference_s():
    import pandas as pd

    methods = pd.DataFrame({"variant": ["lora", "student3-from-lora"], "awss": [0.4, 0.3], "awss_ci_low": [0.3, 0.2],
                            "awss_ci_high": [0.5, 0.4], "inference_flops_per_citation": [4e9, 2e9],
                            "energy_wh": [0.4, 0.3], "train_flops": [1e12, 2e12]})
    footprint = pd.DataFrame({"variant": ["lora", "student3-from-lora"], "seconds_per_citation": [0.04, 0.03],
                              "weights_MiB": [88.0, 66.0]})
    shown = cost.compression_table(methods, footprint, {"lora": 0.35, "student3-from-lora": 0.25}).set_index("variant")
    assert shown.loc["student3-from-lora", "FLOPs vs lora"] == 0.5
    assert shown.loc["student3-from-lora", "time vs lora"] == pytest.approx(0.75)
    assert shown.loc["student3-from-lora", "memory vs lora"] == pytest.approx(0.75)
    assert shown.loc["student3-from-lora", "ms per citation"] == pytest.approx(30.0)
    assert shown.loc["lora", "AWSS@95 (95 % CI)"] == "0.4 (0.3–0.5)" and shown.loc["lora", "WSS@95"] == 0.35
    with pytest.raises(ValueError, match="no costs for \\['lora\\+int4'\\]"):
        cost.compression_table(methods, pd.concat([footprint, pd.DataFrame({"variant": ["lora+int4"],
                                                                           "seconds_per_citation": [0.1],
                                                                           "weights_MiB": [20.0]})]), {})


def test_a_student_s_teacher_pass_is_priced_as_embedding_not_training(enc):
    import json

    import pandas as pd

    from helpers.core.config import DistillArgs, SweepConfig
    from helpers.methods.distilled import Distilled

    counts = FlopCounts(enc)
    split = SplitTokens(np.full(16, 20), np.full(50, 30), np.r_[np.ones(8, int), np.zeros(8, int)],
                             np.r_[np.full(16, 20), np.full(50, 30)])
    student = Distilled(layers=2, teacher="base", distillation=DistillArgs(steps=2, pairs=4))
    settings = student.settings(SweepConfig(), "r")
    row = {"review": "r", "seed": 0, "key": "k", "variant": "student2-from-base", "awss": 0.5, "settings": json.dumps(settings),
           "n_train": 16, "n_eval": 50, "n_eval_included": 5, "tpr": 1.0, "tnr": 0.5, "seconds": 0.0}
    powers = {phase: Power(phase, 36.0, "estimated (test)", 0.1, "BRA", 20.0, rate)
              for phase, rate in (("training", 1e9), ("embedding", 4e9), ("scoring", np.nan))}
    energy = cost.cost_table(pd.DataFrame([row]), [student], counts, lambda review, seed: split, powers)["energy_wh"].iloc[0]
    flops = student.flops(RowWork("r", 0, settings, counts, lambda review, seed: split))
    train, inference, teacher = flops.train, flops.inference, flops.teacher_pass
    assert 0 < teacher < train
    assert energy == pytest.approx(36.0 * ((train - teacher) / 1e9 + (inference + teacher) / 4e9) / 3600)


def test_sparse_work_is_counted_but_costs_the_seconds_it_recorded():
    """A lexical method's FLOPs come from its replay; its energy stays the seconds its row recorded
    (sparse arithmetic runs far below an encoder's FLOP rate, so that rate would understate it)."""
    import json

    import pandas as pd

    from helpers.compute.sparse_flops import WorkLog
    from helpers.core.config import SweepConfig
    from helpers.methods.lexical import TfidfLR

    log = WorkLog()
    log.entries = [("vectorise", "tfidf", 5000, 50, 900, 0), ("fit", "logistic", 1600, 16, 900, 12),
                   ("score", "probability", 3400, 34, 900, 0)]
    row = {"review": "r", "seed": 0, "key": "k", "variant": "tfidf+lr", "awss": 0.5,
           "settings": json.dumps(TfidfLR().settings(SweepConfig(), "r")), "n_train": 16, "n_eval": 34, "n_eval_included": 5,
           "tpr": 1.0, "tnr": 0.5, "seconds": 2.0, "train_seconds": 1.5}
    powers = {phase: Power(phase, watts, "estimated (test)", 0.1, "BRA", 20.0, rate)
              for phase, watts, rate in (("training", 40.0, 1e9), ("embedding", 30.0, 4e9), ("scoring", 20.0, np.nan))}
    table = {name: cost.cost_table(pd.DataFrame([row]), [TfidfLR()], None, None, powers, progress=False,
                                   replays=replays).iloc[0]
             for name, replays in (("counted", lambda variant, r: {"awss": 0.5, "work": log.table()}), ("none", None))}
    counted = table["counted"]
    assert counted["flops_counted"] == "counted (sparse)"
    assert counted["train_flops"] > 0 and counted["flops_per_citation"] * 50 > counted["train_flops"]
    assert np.isnan(table["none"]["train_flops"])
    assert counted["energy_wh"] == table["none"]["energy_wh"] == pytest.approx((40.0 * 1.5 + 20.0 * 0.5) / 3600)
