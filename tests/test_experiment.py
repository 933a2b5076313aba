from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import write_review
from helpers.core import results
from helpers.models.compose import Hybrid, PeftMerge
from helpers.core.config import SweepConfig, TrainingArgs
from helpers.methods.experiment import sweep, top_reviews
from helpers.compute.metrics import work_saved
from helpers.methods.trial import Trial, metrics_record, prepare_review
from helpers.methods.heads import LogisticHead
from helpers.methods.skills import ComposedSkills
from helpers.methods.variants import STUDY_VARIANTS, Base, Lora

BASE, LORA = Base(), Lora()

FAST = TrainingArgs(n_positive=8, n_negative=8, epochs=1)  # one step: the code path, not the study's numbers


@pytest.fixture
def tiny(tiny_bert_dir, tmp_path, monkeypatch):
    """A tiny BERT, two small synthetic reviews and a fresh cache."""
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    write_review(data, "nsaids", n=60, n_pos=14, seed=0)
    write_review(data, "adhd", n=50, n_pos=12, seed=1)
    return SweepConfig(encoder=str(tiny_bert_dir), training=FAST, data_dir=str(data)), tmp_path / "results.csv"


def test_eval_cap_keeps_every_included_and_enough_excluded(tmp_path):
    write_review(tmp_path, "oral_hypoglycemics", n=300, n_pos=150)
    full = prepare_review("oral_hypoglycemics", seed=0, data_dir=tmp_path)
    capped = prepare_review("oral_hypoglycemics", seed=0, eval_cap=120, data_dir=tmp_path)
    assert np.array_equal(capped.split.train, full.split.train)
    assert capped.eval.label.sum() == full.eval.label.sum() == 142  # no included dropped
    assert (capped.eval.label == 0).sum() == 60  # at least cap // 2 excluded kept
    write_review(tmp_path, "nsaids", n=600, n_pos=150)
    exact = prepare_review("nsaids", seed=0, eval_cap=400, data_dir=tmp_path)
    assert len(exact.eval) == 400  # cap - included = 258 > cap // 2: the cap is met exactly
    a = set(prepare_review("nsaids", seed=0, eval_cap=200, data_dir=tmp_path).split.eval)
    b = set(prepare_review("nsaids", seed=1, eval_cap=200, data_dir=tmp_path).split.eval)
    assert len(a & b) > 0.9 * len(a)  # only the training draws differ
    with pytest.raises(ValueError, match="eval_cap must be at least 2"):
        prepare_review("nsaids", seed=0, eval_cap=1, data_dir=tmp_path)


def test_base_fits_on_train_and_scores_eval(tiny):
    config, _ = tiny
    trial = Trial(config, "nsaids", 0)
    scored = BASE.score(trial)
    emb = trial.base_embeddings
    assert emb.train.shape == (16, 128) and scored.scores.shape == (len(trial.data.eval),)
    model = LogisticHead().fit(trial.encoder.embed(trial.data.train["text"].tolist(), progress=False),
                               trial.data.train_labels, seed=0)
    expected = model.predict_proba(trial.encoder.embed(trial.data.eval["text"].tolist(), progress=False))[:, 1]
    np.testing.assert_allclose(scored.scores, expected)
    record = metrics_record(trial.data, scored.scores)
    assert record["awss"] == work_saved(trial.data.eval["label"], scored.scores).awss
    assert record["n_eval"] == 44 and record["n_eval_included"] == 6 and not record["few_eval_included"]


def test_trial_records_of_the_study_variants(tiny):
    config, _ = tiny
    trial = Trial(config, "nsaids", 0)
    records = {v.name: trial.record(v) for v in STUDY_VARIANTS}
    assert set(records) == {"base", "lora", "lora+int4", "lora+wanda50"}
    for name, r in records.items():
        assert r["variant"] == name and r["review"] == "nsaids" and r["key"] == trial.key(next(
            v for v in STUDY_VARIANTS if v.name == name)).hash
        assert -1 <= r["awss"] <= 1 and r["seconds"] > 0 and r["machine"]
    assert records["lora"]["train_seconds"] > 0 and records["lora"]["trainable_parameters"] == 3 * 2 * 2 * 128 * 4
    assert records["lora+wanda50"]["compress_seconds"] > 0
    assert records["base"]["settings"] != records["lora"]["settings"]  # LoRA's key holds the training arguments
    assert '"learning_rate":0.007' in records["lora"]["settings"]
    # compressed variants are scored with the head fitted after phase 1, as the study does
    head = LogisticHead()
    fresh = Trial(config, "nsaids", 0)  # fitted from the 16 training embeddings alone, no pass over the evaluation set
    np.testing.assert_array_equal(fresh.lora_classifier(head).coef_, trial.lora_classifier(head).coef_)
    assert "lora_embeddings" not in fresh.__dict__
    lora_scores = head.scores(trial.lora_classifier(head), trial.lora_embeddings.eval)
    np.testing.assert_allclose(LORA.score(trial).scores, lora_scores)


def test_same_seed_same_numbers(tiny):
    config, _ = tiny
    a = Trial(config, "adhd", 3).record(LORA)
    b = Trial(config, "adhd", 3).record(LORA)
    assert (a["awss"], a["threshold"], a["key"]) == (b["awss"], b["threshold"], b["key"])


def test_sweep_skips_what_is_done_and_recomputes_when_any_setting_changes(tiny, monkeypatch):
    config, path = tiny
    first = sweep(config, ["nsaids", "adhd"], [0, 1], (BASE, LORA), path, progress=False)
    assert len(first) == 8 and set(first.variant) == {"base", "lora"}
    calls = []
    import helpers.methods.experiment as experiment

    real = experiment.run_task
    monkeypatch.setattr(experiment, "run_task", lambda *a: calls.append(a[1:3]) or real(*a))
    again = sweep(config, ["nsaids", "adhd"], [0, 1], (BASE, LORA), path, progress=False)
    assert calls == [] and again["awss"].tolist() == first["awss"].tolist()
    changed = replace(config, training=replace(FAST, learning_rate=0.001))
    redone = sweep(changed, ["nsaids"], [0], (BASE, LORA), path, progress=False)
    assert calls == [("nsaids", 0)]  # base is reused; the LoRA row of the new learning rate is computed
    assert redone.set_index("variant").loc["base", "key"] == first.set_index(["review", "seed", "variant"]).loc[
        ("nsaids", 0, "base"), "key"]
    assert len(results.read(path)) == 9
    sweep(replace(config, eval_cap=30), ["nsaids"], [0], (BASE,), path, progress=False)
    sweep(replace(config, n_per_class=4), ["nsaids"], [0], (BASE,), path, progress=False)
    sweep(replace(config, normalize=True), ["nsaids"], [0], (BASE,), path, progress=False)
    assert len(calls) == 4 and len(results.read(path)) == 12


def test_changed_data_is_a_new_row(tiny):
    config, path = tiny
    sweep(config, ["nsaids"], [0], (BASE,), path, progress=False)
    write_review(Path(config.data_dir), "nsaids", n=60, n_pos=14, seed=0, label=[0] * 46 + [1] * 14)  # labels shuffled
    sweep(config, ["nsaids"], [0], (BASE,), path, progress=False)
    assert len(results.read(path)) == 2


def test_a_failing_task_is_named_and_the_others_are_saved(tiny, monkeypatch):
    config, path = tiny
    import helpers.methods.experiment as experiment
    from helpers.methods.distributed import TaskFailures

    real = experiment.run_task

    def flaky(config, review, seed, variants, orders_folder=None):  # noqa: ANN001
        if review == "adhd":
            raise RuntimeError("boom")
        return real(config, review, seed, variants, orders_folder)

    monkeypatch.setattr(experiment, "run_task", flaky)
    with pytest.raises(TaskFailures, match=r"(?s)1 of 2 task\(s\) failed.*adhd, seed 0: RuntimeError: boom"):
        sweep(config, ["nsaids", "adhd"], [0], (BASE,), path, progress=False)
    assert results.read(path)["review"].tolist() == ["nsaids"]


def test_compositions_read_the_top_reviews_from_the_table_and_skip_when_done(tiny):
    config, path = tiny
    with pytest.raises(LookupError, match="run notebook 05"):
        top_reviews(config, ["nsaids", "adhd"], [0], path)
    sweep(config, ["nsaids", "adhd"], [0], (BASE, LORA), path, progress=False)
    top = top_reviews(config, ["nsaids", "adhd"], [0], path, n=2)
    assert list(top.index) == sorted(top.index, key=lambda r: -top[r]) and len(top) == 2
    sweep(config, ["nsaids", "adhd"], [1], (LORA,), path, progress=False)
    lora = results.read(path).query("variant == 'lora'")
    assert top_reviews(config, ["nsaids", "adhd"], [0], path, n=2).to_dict() == pytest.approx(
        lora.groupby("review")["awss"].mean().to_dict())  # every stored seed, not only the one asked for
    composed = tuple(ComposedSkills(c, reviews=tuple(top.index)) for c in (Hybrid(), PeftMerge("cat")))
    rows = sweep(config, list(top.index), [0], composed + (BASE, LORA), path, progress=False)
    assert set(rows.variant) == {"hybrid-sqrt", "peft-cat", "base", "lora"} and len(rows) == 8
    n = len(results.read(path))
    sweep(config, list(top.index), [0], composed, path, progress=False)
    assert len(results.read(path)) == n
    sweep(config, list(top.index), [0], (ComposedSkills(Hybrid(quantile=0.5), reviews=tuple(top.index)),), path,
          progress=False)
    assert len(results.read(path)) == n + 2  # another quantile: new rows
