import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from helpers.compute.stats import best_by_mean, comparison, mean_with_ci, method_means, paired, paired_against, verdict


def test_paired_agrees_with_scipy_on_a_hand_made_case():
    a = np.array([0.61, 0.52, 0.70, 0.44, 0.83, 0.38, 0.57])
    b = np.array([0.55, 0.50, 0.71, 0.30, 0.80, 0.30, 0.52])
    out = paired(a, b)
    assert out["p_wilcoxon"] == pytest.approx(wilcoxon(a, b).pvalue)
    assert out["median_diff"] == pytest.approx(0.05) and (out["wins"], out["ties"], out["losses"]) == (6, 0, 1)
    assert np.isnan(paired(a, a)["p_wilcoxon"])  # no differences: no test
    with pytest.raises(ValueError, match="equal length"):
        paired(a, b[:3])


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = np.array([0.1, 0.3, 0.35, 0.5, 0.9, 0.2, 0.6])
    mean, low, high = mean_with_ci(values, seed=1)
    assert mean == pytest.approx(values.mean()) and low < mean < high
    assert (low, high) == mean_with_ci(values, seed=1)[1:]
    assert np.isnan(mean_with_ci(np.array([0.4]))[1])


def test_means_and_pairs_are_over_reviews_and_review_seed_pairs():
    rows = pd.DataFrame({"review": ["a", "a", "b", "b"] * 2, "seed": [0, 1] * 4,
                         "variant": ["x"] * 4 + ["y"] * 4, "awss": [0.2, 0.4, 0.6, 0.8, 0.1, 0.3, 0.5, 0.9]})
    m = method_means(rows).set_index("variant")
    assert m.loc["x", "mean"] == pytest.approx(0.5) and m.loc["x", "reviews"] == 2 and m.loc["x", "rows"] == 4
    t = paired_against(rows, "x", ["y"]).iloc[0]
    assert t.comparison == "x − y" and t.n_pairs == 4 and t.wins == 3 and t.losses == 1


def test_a_comparison_read_by_name_keeps_its_counts_integer():
    rows = pd.DataFrame({"review": ["a", "a", "b"] * 3, "seed": [0, 1, 0] * 3, "variant": ["x"] * 3 + ["y"] * 3 + ["z"] * 3,
                         "awss": [0.2, 0.4, 0.6, 0.1, 0.5, 0.5, 0.3, 0.3, 0.3]})
    tests = paired_against(rows, "x", ["y", "z"])
    r = comparison(tests, "x − z")
    assert (r.wins, r.ties, r.losses, r.n_pairs) == (2, 0, 1, 3)
    assert f"{r.wins} of {r.n_pairs}" == "2 of 3"  # prose prints "2 of 3", not "2.0 of 3.0"
    with pytest.raises(KeyError, match="x − w"):
        comparison(tests, "x − w")


def test_verdict_needs_both_direction_and_significance():
    a = np.linspace(0.5, 0.9, 12)
    assert verdict(comparison(pd.DataFrame([{"comparison": "a − b", **paired(a, a - 0.05)}]), "a − b")) == "beats"
    assert verdict(comparison(pd.DataFrame([{"comparison": "a − b", **paired(a, a + 0.05)}]), "a − b")) == "loses to"
    noisy = paired(a, a + np.array([0.05, -0.05] * 6))  # median 0, p = 1
    assert verdict(comparison(pd.DataFrame([{"comparison": "a − b", **noisy}]), "a − b")) == "does not differ clearly from"
    assert verdict(comparison(pd.DataFrame([{"comparison": "a − a", **paired(a, a)}]), "a − a")) == "does not differ clearly from"


def test_best_by_mean_averages_over_seeds_then_reviews():
    rows = pd.DataFrame({"review": ["a", "a", "a", "b"] * 2, "seed": [0, 1, 2, 0] * 2, "variant": ["x"] * 4 + ["y"] * 4,
                         "awss": [0.9, 0.9, 0.9, 0.0, 0.5, 0.5, 0.5, 0.5]})
    ranked = best_by_mean(rows, ["x", "y", "z"])
    assert ranked["variant"].tolist() == ["y", "x"]  # x: (0.9 + 0.0) / 2 = 0.45 < 0.5, although its row mean is 0.675
    assert ranked.set_index("variant").loc["x", "mean"] == pytest.approx(0.45)
