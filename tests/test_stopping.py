"""Stopping rules on hand-made sequences with known answers, and against the reference codes:
the statistical rule's p-values equal buscarpy's (Callaghan & Müller-Hansen's own package), the
knee's ratio is tarexp's formula."""

import math

import numpy as np
import pytest
from scipy.stats import hypergeom

from helpers import stopping


def ranked(n: int, prevalence: float, bias: float, seed: int) -> np.ndarray:
    """A reading order like a ranking's: included records drawn ``bias`` times as often."""
    import buscarpy

    return buscarpy.generate_dataset(N=n, prevalence=prevalence, bias=bias, random_seed=seed)["relevant"].to_numpy()


def test_consecutive_irrelevant_counts_a_run_of_excluded_records():
    assert stopping.consecutive_irrelevant([1, 0, 0, 1, 0, 0, 0], 3).at == 7
    assert stopping.consecutive_irrelevant([1, 0, 0, 1, 0, 0, 0], 4).at is None
    assert stopping.consecutive_irrelevant([0, 0, 1], 2).at == 2
    with pytest.raises(ValueError, match="0 \\(excluded\\) and 1"):
        stopping.consecutive_irrelevant([1, 2], 3)


def tarexp_knee(labels) -> bool:
    """tarexp 0.1.4's KneeStoppingRule.checkStopping, one record a round, transcribed."""
    pos_found = np.cumsum(labels)
    n_rounds = len(labels)
    rho_s = -1
    for i in range(n_rounds):
        rho = (pos_found[i] / (i + 1)) / ((1 + pos_found[-1] - pos_found[i]) / (n_rounds - i))
        rho_s = max(rho_s, rho)
    return rho_s >= 156 - min(pos_found[-1], 150)


@pytest.mark.parametrize("seed", range(4))
def test_the_knee_stops_where_tarexps_rule_first_says_stop(seed):
    y = ranked(600, 0.3, 30, seed)
    stop = stopping.knee(y).at
    first = next((s for s in range(1, len(y) + 1) if tarexp_knee(y[:s])), None)
    assert stop == first and stop is not None


def test_the_knee_needs_a_sharper_bend_with_few_included_records():
    many = np.r_[np.ones(150, int), np.zeros(1000, int)]
    assert stopping.knee(many).at < 200  # ρ ≥ 6 soon after 150 included
    few = np.r_[np.ones(5, int), np.zeros(100, int)]
    assert stopping.knee(few).at is None  # ρ would have to reach 151


@pytest.mark.parametrize("seed", range(6))
def test_p_values_equal_buscarpy_on_random_cases(seed):
    import buscarpy

    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 3000))
    y = ranked(n, float(rng.uniform(0.01, 0.2)), float(rng.uniform(1, 20)), seed)
    for read in sorted(rng.integers(10, n, 5)):
        for target in (0.8, 0.95, 0.99):
            ours = stopping.p_missed(y[:read], n, recall_target=target)
            theirs = buscarpy.calculate_h0(y[:read], n, recall_target=target)
            if np.isnan(theirs):  # H0 would need more included records than there are: impossible
                assert ours == 0
            else:
                assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_the_statistical_rule_stops_once_missing_the_target_is_unlikely_and_says_how_sure():
    y = np.r_[np.ones(40, int), np.zeros(2000, int)]  # every included record first
    stop = stopping.statistical(y, len(y), recall_target=0.95, confidence=0.95)
    assert stop.at is not None and stop.p_value < 0.05
    assert stopping.p_missed(y[:stop.at - 1], len(y)) >= 0.05  # the first record where it holds
    assert 0.95 <= stop.recall_bound < 1
    bound = stop.recall_bound
    assert stopping.p_missed(y[:stop.at], len(y), recall_target=bound) < 0.05
    assert stopping.p_missed(y[:stop.at], len(y), recall_target=min(bound + 0.01, 0.999)) >= 0.05
    coarse = stopping.statistical(y, len(y), check_every=25)
    assert coarse.at % 25 == 0 and 0 <= coarse.at - stop.at < 25
    assert stopping.statistical(y[:45], len(y)).at is None  # 5 excluded after them prove nothing yet


def test_a_random_sample_of_the_unread_records_that_would_settle_it():
    y = np.r_[np.ones(19, int), np.zeros(30, int)]
    n_total = 5000
    need = stopping.random_sample_needed(y, n_total)
    unread, remaining = n_total - len(y), math.floor(19 / 0.95 + 1 - 19)
    assert hypergeom.pmf(0, unread, remaining, need) < 0.05 <= hypergeom.pmf(0, unread, remaining, need - 1)
    done = np.r_[np.ones(40, int), np.zeros(3000, int)]
    assert stopping.random_sample_needed(done, 3100) == 0


def test_outcome_and_oracle_on_a_known_sequence():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 1, 0, 0])
    assert stopping.oracle(y, recall_target=0.75)["read"] == 4
    out = stopping.outcome(y, stopping.Stop("x", 5))
    assert out == {"rule": "x", "stopped": True, "read": 5, "recall": 0.75, "work_saved": 0.5}
    never = stopping.outcome(y, stopping.Stop("x", None))
    assert never["read"] == 10 and never["recall"] == 1 and never["work_saved"] == 0 and not never["stopped"]


def test_every_rule_on_every_run_and_the_summary_with_a_binomial_interval():
    import pandas as pd

    runs = pd.DataFrame([{"review": r, "seed": s, "variant": "m", "labels": ranked(800, 0.05, 15, 10 * k + s),
                          "n_total": 800} for k, r in enumerate(("a", "b")) for s in range(3)])
    rules = stopping.Rules(consecutive=(30,), check_every=5)
    evaluated = stopping.evaluate(runs, rules)
    assert len(evaluated) == 6 * 4 and set(evaluated["rule"]) == {"30 excluded in a row", "knee",
                                                                  "statistical (95% recall, 95% confidence)",
                                                                  "oracle (95% recall)"}
    assert (evaluated[evaluated.rule == "oracle (95% recall)"]["recall"] >= 0.95).all()
    summary = stopping.summarise(evaluated).set_index("rule")
    stat = summary.loc["statistical (95% recall, 95% confidence)"]
    below = evaluated[evaluated.rule.str.startswith("statistical")]["below_target"].sum()
    assert stat["runs"] == 6 and stat["below_target"] == below
    assert stat["below_ci_low"] <= below / 6 <= stat["below_ci_high"]
    shown = stopping.readable(summary.reset_index(), labels=str.upper).set_index("rule")
    assert shown.loc["knee", "method"] == "M" and shown.loc["knee", "stopped"] == f"{summary.loc['knee', 'stopped']} of 6"
    assert shown.loc["statistical (95% recall, 95% confidence)", "recall below target"].startswith(
        f"{below} of 6: {below / 6:.1%} ({stat['below_ci_low']:.1%}–")
    with pytest.raises(ValueError, match="Rules needs"):
        stopping.Rules(consecutive=())
