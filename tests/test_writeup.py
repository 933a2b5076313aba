"""Each page's "What this shows", computed on a run with one review: no page's prose may fail on a
narrow run, and every number it states is the one computed from the rows."""

import numpy as np
import pandas as pd
import pytest

from conftest import write_review
from helpers.book import figures, writeup_accuracy, writeup_cost, writeup_data, writeup_stopping
from helpers.models.compose import compositions
from helpers.compute.stats import best_by_mean, comparison, method_means, paired_against, paired_rows

REVIEW = "nsaids"
SEEDS = (0, 1, 2)


def rows_of(variants, *, seed: int = 0, review: str = REVIEW, **extra) -> pd.DataFrame:
    """Results rows of one review × 3 seeds with seeded AWSS/WSS values and the columns pages read."""
    rng = np.random.default_rng(seed)
    out = [{"review": review, "seed": s, "variant": v, "awss": rng.uniform(-0.1, 0.9), "wss": rng.uniform(-0.1, 0.8),
            "seconds": rng.uniform(0.5, 50), "few_eval_included": False, "n_eval": 300, "n_eval_included": 30,
            "labels_used": rng.integers(20, 200), **extra} for s in SEEDS for v in variants]
    return pd.DataFrame(out)


def test_screen_demo_counts_what_the_reader_reads():
    truth = np.r_[np.ones(10, int), np.zeros(90, int)]
    scores = np.r_[np.linspace(1, 0.5, 10), np.linspace(0.9, 0, 90)]
    w = writeup_data.screen_demo(method="tfidf", review=REVIEW, truth=truth, scores=scores, file_name="refs.csv")
    read = int((scores >= scores[9]).sum())
    assert f"after reading {read:,} of 100" in w.headline and "AWSS@95" in w.headline
    mine = writeup_data.screen_demo(method="tfidf", review=None, truth=None, scores=scores, file_name="refs.csv")
    assert mine.headline is None and "slr-screen refs.csv" in mine.body


def test_datasets_on_one_review(tmp_path, tiny_bert_dir):
    from transformers import AutoTokenizer

    from helpers.core.data import label_summary, share_within, token_lengths

    write_review(tmp_path, REVIEW, n=40, n_pos=10)
    labels = label_summary(tmp_path)
    lengths = token_lengths(AutoTokenizer.from_pretrained(tiny_bert_dir), [REVIEW], tmp_path)
    within = share_within(lengths, 32)
    w = writeup_data.datasets(labels, within, lengths, encoder_label="tiny", encoder_limit=24, study_limit=32)
    share = (lengths.n_tokens <= 24).mean()
    assert "1 of the study's 20 reviews have text here" in w.headline and "25.0 % (nsaids)" in w.headline
    assert f"{share:.1%} fit in 24 tokens" in w.body


def test_base_space_on_one_review():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8))
    stats = figures.base_map(vectors, [REVIEW] * 30, rng.integers(0, 2, 30))
    w = writeup_data.base_space(stats, present=[REVIEW], absent=["statins"], encoder_name="tiny", pooling="mean")
    assert f"{stats['by_review']:.2f}" in w.headline and "statins have no text here" in w.body


def test_before_after_on_one_review():
    rows = rows_of(["base", "lora"])
    blocks = pd.DataFrame({"included-included": [0.5, 0.8], "excluded-excluded": [0.4, 0.5],
                           "included-excluded": [0.45, 0.2]}, index=["Base", "After phase 1 (LoRA)"])
    w = writeup_data.before_after(rows, blocks, review=REVIEW, encoder={"name": "tiny", "pooling": "mean", "max_length": 64})
    means = rows.groupby("variant")["awss"].mean()
    assert f"Base {means['base']:.3f} → LoRA {means['lora']:.3f} over 3 seeds" in w.headline
    assert "from 0.05 (Base) to 0.60 (LoRA)" in w.body and w.tables[0][1].shape == (2, 3)


def test_latency_tables_from_the_helpers(tiny_bert_dir, tmp_path):
    from helpers.analysis.bench import memory_table
    from helpers.models.encoder import load_encoder

    enc = load_encoder(str(tiny_bert_dir), cache_dir=None)
    standin = "tiny config, random weights (timing only)"
    precisions = ["FP32", "FP16", "BF16", "INT8 (dynamic)", "4-bit (quanto, weight-only)"]
    latency = pd.DataFrame({"encoder": standin, "device": "cpu", "precision": precisions,
                            "median_s": [1.0, 4.0, 3.0, 0.5, 1.25], "batch": 32, "measured_batch": [32, 4, 32, 32, 32]})
    training = pd.DataFrame({"encoder": standin, "precision": ["FP32", "BF16 autocast"], "pairs": 16,
                             "measured_pairs": [16, 2], "extrapolated_study_minutes": [12.0, 48.0]})
    memory = pd.DataFrame(memory_table(enc)).assign(encoder=standin)
    w = writeup_cost.latency(latency, training, memory, standin=standin, shape_note="32 × 512", machine="x86_64",
                        threads=2, train_steps=2)
    assert "tiny-size inference runs 0.33× as fast as FP32 in BF16, 2.00× in INT8 and 0.25× in FP16" in w.headline
    assert "BF16 training 0.25×" in w.headline and "about 12 min" in w.headline
    assert "**Scaled cells** (2): " in w.body and "tiny FP16 inference" in w.body.replace(standin, "tiny")


def test_awss_per_review_on_one_review():
    rows = rows_of(["base", "lora", "lora+int4", "lora+wanda50"])
    means = method_means(rows)
    tests = paired_against(rows, "lora", ["base", "lora+int4", "lora+wanda50"])
    norm = {flag: rows_of(["base", "lora"], seed=k) for k, flag in enumerate((False, True))}
    norm_tests = pd.DataFrame([{"variant": label, **paired_rows(norm[True][norm[True].variant == v],
                                                                norm[False][norm[False].variant == v])}
                               for v, label in (("base", "Base"), ("lora", "LoRA (study)"))])
    w = writeup_accuracy.awss_per_review(rows, means, tests, norm_tests, reviews=[REVIEW], missing=["statins"], flagged=set(),
                                seeds=SEEDS, encoder={"name": "tiny", "normalize": True}, few=5)
    mean = dict(zip(means.variant, means["mean"]))
    assert f"Over 1 review × 3 seeds, LoRA's mean AWSS@95 is {mean['lora']:.3f} against Base {mean['base']:.3f}" \
        in w.headline
    assert "(s)" not in w.headline + w.body  # counted nouns agree with their number
    assert f"On {REVIEW} the difference is" in w.body  # one review: no best and worst to name
    assert f"{comparison(tests, 'lora − base').wins} of 3" in w.body


def test_hybrid_on_one_review():
    names = [c.name for c in compositions()]
    rows = rows_of(names + ["lora", "base"])
    summary = rows.groupby(["review", "variant"])["awss"].agg(["mean", "std", "count"]).reset_index()
    tests = paired_against(rows, "hybrid-sqrt", [n for n in names if n != "hybrid-sqrt"] + ["lora", "base"])
    blocks = pd.DataFrame({"included-included": [0.7, 0.6], "included-excluded": [0.3, 0.35]},
                          index=["Fine-tuned (own LoRA)", "Hybrid"])
    w = writeup_accuracy.hybrid(summary, tests, blocks, top=[REVIEW], names=names, cosine_review=REVIEW, encoder={"name": "tiny"},
                       seeds=SEEDS)
    hybrid = rows[rows.variant == "hybrid-sqrt"]["awss"].mean()
    assert f"top 1 reviews scores {hybrid:.3f}" in w.headline and "less tightly than" in w.body


def test_peers_on_one_review():
    names = ["base", "lora", "tfidf+lr", "asreview-oneshot"]
    rows = rows_of(names + ["asreview-al"])
    means = method_means(rows).set_index("variant").loc[names + ["asreview-al"]]
    tests = paired_against(rows, "lora", [n for n in names if n != "lora"] + ["asreview-al"])
    cost = rows.groupby("variant").agg(seconds=("seconds", "mean"), awss=("awss", "mean"))
    w = writeup_accuracy.peers(rows, means, tests, cost, names=names, al_name="asreview-al", n_reviews=1)
    winner = means.loc[names, "mean"].idxmax()
    assert f"mean AWSS@95 {means.loc[winner, 'mean']:.3f}" in w.headline
    assert w.body.count("LoRA **") == 3


def test_beyond_on_one_held_out_review():
    peers = ["base", "lora", "tfidf+lr", "asreview-oneshot"]
    dev = rows_of(peers + ["base+svm", "lora-cka3"], layers="3 4 5")
    ranking = best_by_mean(dev, peers + ["base+svm", "lora-cka3"])
    held = rows_of(peers + ["base+svm"], seed=1, review="adhd")
    held_al = rows_of(["asreview-al", "al-embeddings"], seed=2, review="adhd")
    means = method_means(held).set_index("variant").loc[peers + ["base+svm"]]
    tests = paired_against(held, "base+svm", peers)
    al_means = method_means(held_al).set_index("variant")
    al_test = paired_against(held_al, "al-embeddings", ["asreview-al"])
    w = writeup_accuracy.beyond(ranking, dev, means, tests, al_means, al_test, chosen="base+svm", chosen_al="al-embeddings",
                       peers=peers, al_peer="asreview-al", n_held_out=1, seeds=SEEDS, cap_note="all citations",
                       study_layers="3 4 5")
    assert f"held-out mean AWSS@95 {means.loc['base+svm', 'mean']:.3f}" in w.headline
    assert "tested once on 1 held-out review," in w.headline and "(1 review × 3 seeds" in w.body
    assert "picked layers 3 4 5 in 3 of 3" in w.body and "the study's own last 3" in w.body
    with pytest.raises(KeyError):  # a peer missing from the held-out rows is an error, not silence
        writeup_accuracy.beyond(ranking, dev, means.drop("tfidf+lr"), tests, al_means, al_test, chosen="base+svm",
                       chosen_al="al-embeddings", peers=peers, al_peer="asreview-al", n_held_out=1, seeds=SEEDS,
                       cap_note="all citations", study_layers="3 4 5")


def stopping_runs(reviews, seeds):
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"review": r, "seed": s, "variant": v, "n_train": 16, "n_total": 416, "scores": None,
                          "labels": np.r_[[1] * 8 + [0] * 8, (rng.random(400) < np.linspace(0.4, 0.0, 400)).astype(int)]}
                         for r in reviews for s in seeds for v in ("asreview-al", "base")])


def test_when_to_stop_on_one_review():
    from helpers.compute.stopping_evaluation import evaluate, summarise
    from helpers.compute.stopping_settings import Consecutive, Knee, Statistical

    evaluated = evaluate(stopping_runs([REVIEW], SEEDS), (Consecutive(20), Knee(), Statistical(check_every=5)))
    summary = summarise(evaluated)
    w = writeup_stopping.when_to_stop(summary, evaluated, recall_target=0.95, confidence=0.95, n_reviews=1, seeds=SEEDS)
    stat = evaluated[evaluated.rule.str.startswith("statistical")]
    oracle = evaluated[evaluated.rule.str.startswith("oracle")]
    assert f"saves {stat.work_saved.mean():.1%} of the reading where the oracle would save {oracle.work_saved.mean():.1%}" \
        in w.body
    assert f"missed the target in {int(stat.below_target.sum())} of 6 runs" in w.body
    assert w.body.startswith("Over 1 review × 3 seeds, counted on the records after the training records")
    assert w.headline is None  # the page's finding is the safe stop's


def test_safe_stop_reports_the_development_choice_once_on_held_out_reviews():
    from helpers.compute.stopping_evaluation import choose, evaluate, summarise
    from helpers.compute.stopping_settings import Consecutive, Statistical

    rules = (Statistical(check_every=5), Statistical(check_every=5, confidence=0.8), Consecutive(40))
    evaluated = evaluate(stopping_runs(["dev1", "dev2", "held1", "held2"], range(8)), rules)
    dev = summarise(evaluated[evaluated.review.str.startswith("dev")], by=("rule",))
    held = summarise(evaluated[evaluated.review.str.startswith("held")], by=("rule",))
    by_method = summarise(evaluated[evaluated.review.str.startswith("held")])
    chosen = choose(dev, rules, goal=0.2)
    assert chosen == rules[0].name  # the one eligible: labels only, the reviewer's target and confidence
    w = writeup_stopping.safe_stop(dev, held, by_method, chosen=chosen, recommended=chosen, statistical=rules[0].name,
                          recall_target=0.95,
                          confidence=0.95, dev_reviews=("dev1", "dev2"), held_out=("held1", "held2"), seeds=range(8),
                          goal=0.2, literature=writeup_stopping.literature_beside(summarise(evaluated, by=("rule",))))
    c, s = held.set_index("rule").loc[chosen], held.set_index("rule").loc[rules[0].name]
    assert f"it saved {c.work_saved:.1%} of the reading ({c.work_saved / s.work_saved:.1f}× the statistical rule's " \
           f"{s.work_saved:.1%}" in w.headline
    assert f"recall fell below 95% in {int(c.below_target)} runs" in w.body and "**ASReview's active learning**" in w.body
    assert [caption.split(":")[0] for caption, _, _ in w.tables] == ["held-out reviews, pooled over the ranking methods",
                                                                     "study vs literature"]
    literature = w.tables[1][1].set_index("here: rule")
    assert literature.loc[rules[0].name, "here: work saved"].iloc[0] == \
        f"{summarise(evaluated, by=('rule',)).set_index('rule').loc[rules[0].name, 'work_saved']:.1%}"
    vetoed = writeup_stopping.safe_stop(dev, held, by_method, chosen=rules[1].name, recommended=rules[0].name,
                               statistical=rules[0].name, recall_target=0.95, confidence=0.95, dev_reviews=("dev1",),
                               held_out=("held1", "held2"), seeds=range(8))
    assert vetoed.headline.startswith("No rule saves twice the statistical rule's reading while keeping 95% recall")
    assert f"**Follow the statistical rule** ({rules[0].name})" in vetoed.body
    none = writeup_stopping.safe_stop(dev, held, by_method, chosen=None, recommended=rules[0].name, statistical=rules[0].name,
                             recall_target=0.95,
                             confidence=0.95, dev_reviews=("dev1",), held_out=("held1",), seeds=range(8))
    assert none.headline.startswith("No stopping rule's share of development runs below 95% recall stayed under 5%")


def test_cost_of_screening_on_one_review(tiny_sentence_encoder_dir):
    import json

    from helpers.analysis import cost
    from helpers.models.flops import FlopCounts, SplitTokens
    from helpers.analysis.power import Power
    from helpers.core.config import DistillArgs, SweepConfig, TrainingArgs
    from helpers.models.encoder import load_encoder
    from helpers.book.plots import method_label
    from helpers.compute.sparse_flops import WorkLog
    from helpers.methods.peers import ASREVIEW_AL, ASREVIEW_ONESHOT, TFIDF_LR
    from helpers.methods.distilled import Distilled
    from helpers.methods.variants import Base, Lora, LoraQuantized

    config = SweepConfig(training=TrainingArgs(n_positive=8, n_negative=8, epochs=1))
    variants = {v.name: v for v in (Base(), Lora(), LoraQuantized(), Distilled(distillation=DistillArgs(steps=2, pairs=4)),
                                    TFIDF_LR, ASREVIEW_ONESHOT, ASREVIEW_AL)}
    rows = rows_of(list(variants)).assign(
        settings=lambda t: [json.dumps(variants[v].settings(config, REVIEW)) for v in t.variant],
        key=lambda t: [f"k{i}" for i in range(len(t))], n_train=16, tpr=0.96, tnr=0.5, train_seconds=np.where(rows_of(list(variants)).variant.str.startswith("lora"), 20.0, np.nan),
        embed_seconds=np.where(rows_of(list(variants)).variant.isin(["base", "lora", "lora+int4"]), 5.0, np.nan))
    counts = FlopCounts(load_encoder(str(tiny_sentence_encoder_dir), cache_dir=None))
    tokens = SplitTokens(np.full(16, 40), np.full(284, 60), np.r_[np.ones(8, int), np.zeros(8, int)],
                              np.r_[np.full(16, 40), np.full(284, 60)])
    split = lambda review, seed: tokens  # noqa: E731
    power = {phase: Power(phase, 30.0, "estimated (test)", 0.1, "BRA", 1.0, rate)
             for phase, rate in (("training", 1e9), ("embedding", 2e9), ("scoring", np.nan))}
    def replays(variant, row):  # a stored replay's work log: active learning refits 40 times
        log = WorkLog()
        log.entries = [("vectorise", "tfidf", 30000, 300, 5000, 0)] + [
            entry for t in range(40 if variant.name == "asreview-al" else 1)
            for entry in (("fit", "svm", 100 * (16 + t), 16 + t, 5000, 8), ("score", "decision", 100 * (284 - t), 284 - t, 5000, 0))]
        return {"awss": row["awss"], "work": log.table()}

    per_row = cost.cost_table(rows, list(variants.values()), counts, split, power, replays=replays, progress=False)
    assert per_row["key"].tolist() == rows["key"].tolist()  # each cost joins its results row by key
    methods = cost.method_costs(per_row)
    w = writeup_cost.cost_of_screening(methods, power, counts=counts, timings={}, country="BRA", seconds_per_abstract=30,
                                  n_reviews=1)
    all_flops = methods.set_index("variant")["flops_per_citation"]
    assert all_flops.notna().all() and all_flops["asreview-al"] > all_flops["asreview-oneshot"]
    assert (f"Base's forward alone costs {all_flops['base'] / all_flops['asreview-al']:,.0f}× what ASReview's active "
            f"learning spends") in w.body
    front = methods["variant"].to_numpy()[cost.cost_fronts(methods)["flops_per_citation"]]
    assert "**Every method on the FLOP axis**" in w.body and " → ".join(
        f"{method_label(v)} ({all_flops[v]:.3g}" for v in front[:1]) in w.body
    assert "every retraining of active learning included" in w.after
    per_wh = methods.set_index("variant")["hours_saved_per_wh"]
    assert f"({per_wh.max():,.1f} h of reading per Wh)" in w.headline and "estimated energy" in w.headline
    assert "Energy is codecarbon's estimate" in w.after and "(1 GFLOP/s training, 2 GFLOP/s embedding)" in w.body
    ratio = per_row.groupby("variant").inference_flops_per_citation.mean()
    assert f"({ratio['student3-from-lora'] / ratio['lora']:.2f} of LoRA's)" in w.body


def test_distillation_on_one_review():
    from helpers.core.config import DistillArgs

    names = ["student3-from-lora", "lora", "base", "student3"]
    rows = rows_of(names)
    tests = paired_against(rows, "student3-from-lora", names[1:])
    means = method_means(rows).set_index("variant")
    compared = pd.DataFrame({"variant": names, "AWSS@95": [means.loc[v, "mean"] for v in names],
                             "GFLOPs per citation": [2.0, 4, 4, 2], "FLOPs vs lora": [0.5, 1, 1, 0.5],
                             "ms per citation": [20.0, 41, 40, 20], "time vs lora": [0.49, 1, 0.98, 0.49],
                             "weights, MiB": [60.0, 88, 87, 60], "memory vs lora": [0.68, 1, 0.99, 0.68],
                             "energy per review, Wh": [0.3, 0.4, 0.3, 0.1], "training GFLOPs": [2000.0, 1000, 0, 0]})
    w = writeup_accuracy.distillation(compared, tests, student="student3-from-lora", distill_args=DistillArgs(steps=30, pairs=16),
                             estimated=True)
    vs_teacher = comparison(tests, "student3-from-lora − lora")
    assert f"{means.loc['student3-from-lora', 'mean']:.3f} against its teacher's {means.loc['lora', 'mean']:.3f}" in w.headline
    assert "0.50 of the FLOPs per citation, 0.49 of the time and 0.68 of the memory" in w.headline
    assert f"ahead in {vs_teacher.wins} of 3" in w.headline and w.headline.startswith(("Yes", "No", "Not shown"))
    assert "repay that only after about 500 further citations" in w.headline  # (2,000 − 1,000) / (4 − 2) GFLOPs
    assert "**Against 3 layers, not distilled**" in w.body and "estimated energy" in w.body and "30 distillation steps" in w.body
    assert "2 GFLOPs per citation against 4 (counted" in w.body and "(2,000 GFLOPs: phase 1" in w.body
