from dataclasses import replace

import numpy as np
import pytest
from peft import get_peft_model_state_dict
from scipy.stats import ortho_group

from conftest import write_review
from helpers.methods import beyond
from helpers.compute.cka import linear_cka, most_changed
from helpers.core.config import SweepConfig, TrainingArgs
from helpers.methods.trial import Trial
from helpers.compute.fewshot import all_pairs
from helpers.compute.fusion import concatenate, rank_average


def direct_cka(x, y):
    """Kornblith et al. (2019), eq. for linear kernels: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def test_linear_cka_equals_a_direct_computation_and_has_its_invariances():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 6)), rng.normal(size=(16, 9))
    assert linear_cka(x, y) == pytest.approx(direct_cka(x, y), rel=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0)
    q = ortho_group.rvs(6, random_state=1)
    assert linear_cka(x, 3.7 * x @ q) == pytest.approx(1.0)  # orthogonal transform and isotropic scaling
    assert linear_cka(x, y) == pytest.approx(linear_cka(x @ q, 0.2 * y))
    with pytest.raises(ValueError, match="same rows"):
        linear_cka(x, y[:5])


def test_constant_representations_have_undefined_cka_and_are_chosen_last():
    x = np.random.default_rng(0).normal(size=(10, 4))
    assert np.isnan(linear_cka(x, np.ones((10, 3))))
    assert most_changed(np.array([np.nan, 0.9, 0.5]), 2) == (1, 2)


def test_most_changed_layers_are_the_lowest_cka_in_layer_order():
    assert most_changed(np.array([0.99, 0.5, 0.98, 0.4, 0.7, 0.5]), 3) == (1, 3, 5)


def test_fusions_are_defined_functions_of_their_inputs():
    np.testing.assert_allclose(rank_average(np.array([0.1, 0.9, 0.5]), np.array([3.0, 1.0, 2.0])),
                               [(1 / 3 + 1) / 2, (1 + 1 / 3) / 2, (2 / 3 + 2 / 3) / 2])
    np.testing.assert_allclose(rank_average(np.array([1.0, 1.0, 2.0])), [0.5, 0.5, 1.0])  # ties share ranks
    m = concatenate(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.5], [0.25]]), weight=2.0).toarray()
    np.testing.assert_allclose(m, [[1, 0, 1.0], [0, 1, 0.5]])


def test_all_pairs_of_eight_plus_eight():
    pairs = all_pairs(np.r_[np.ones(8, int), np.zeros(8, int)])
    assert len(pairs) == 120 and pairs[:, 2].sum() == 56 and len({tuple(p[:2]) for p in pairs}) == 120


@pytest.fixture
def trials(tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLR_CACHE_DIR", str(tmp_path / "cache"))
    for k, slug in enumerate(("nsaids", "adhd", "triptans")):
        write_review(tmp_path / "data", slug, n=50, n_pos=12, seed=k)
    config = SweepConfig(encoder=str(tiny_bert_dir), training=TrainingArgs(n_positive=8, n_negative=8, epochs=1),
                         data_dir=str(tmp_path / "data"))
    return config


def test_cka_layer_choice_is_deterministic_for_a_seed(trials):
    first, change = beyond.cka_layers(Trial(trials, "nsaids", 0), n_layers=3, short_epochs=1)
    assert len(first) == 3 and first == tuple(sorted(first)) and all(0 <= i < 4 for i in first)
    assert len(change) == 4 and set(first) == set(np.argsort(change, kind="stable")[:3])
    again, change_again = beyond.cka_layers(Trial(trials, "nsaids", 0), n_layers=3, short_epochs=1)
    assert again == first and np.array_equal(change_again, change)


def test_naming_the_default_layers_reuses_the_studys_adapter_instead_of_training_again(trials):
    trial = Trial(trials, "nsaids", 0)
    study, study_log = trial.phase1
    n_layers = trial.encoder.model.config.num_hidden_layers
    named, named_log = trial.phase1_with(replace(trials.training, layers=(n_layers - 1, n_layers - 3, n_layers - 2)))
    assert named_log["train_seconds"] == study_log["train_seconds"]  # loaded, not trained again
    other, other_log = trial.phase1_with(replace(trials.training, layers=(0, 1, 2)))
    assert other_log["train_seconds"] != study_log["train_seconds"]
    weights = {k: v.tolist() for k, v in get_peft_model_state_dict(study.model).items()}
    assert {k: v.tolist() for k, v in get_peft_model_state_dict(named.model).items()} == weights
    assert set(get_peft_model_state_dict(other.model)) != set(weights)


@pytest.mark.parametrize("variant", beyond.ONE_SHOT_CANDIDATES + beyond.ACTIVE_LEARNING_CANDIDATES,
                         ids=lambda v: v.name)
def test_every_candidate_is_a_variant_with_its_own_key(trials, variant):
    trial = Trial(trials, "nsaids", 0)
    record = trial.record(variant)
    assert record["variant"] == variant.name and -1 <= record["awss"] <= 1
    assert record["n_eval"] == 34 and record["key"] not in {trial.key(v).hash for v in beyond.ONE_SHOT_CANDIDATES
                                                            if v.name != variant.name}


def test_weighted_rank_average_and_weighted_names():
    np.testing.assert_allclose(rank_average(np.array([1.0, 2.0]), np.array([2.0, 1.0]), weights=(3, 1)), [0.625, 0.875])
    names = [v.name for v in beyond.ONE_SHOT_CANDIDATES]
    assert "concat:asreview+base@0.5" in names and "rankavg:asreview+lora@0.333333" in names
    assert {"lora-lr0.002", "lora-all-pairs", "lora-4-epochs", "lora-all-layers", "loo-hybrid-sqrt+phase1"} <= set(names)
    assert len(names) == len(set(names))
