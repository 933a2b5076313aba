import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers.book import plots  # noqa: E402
from helpers.compute.space import (block_means, chance_agreement, cosine_by_class, neighbour_agreement,  # noqa: E402
                                   sample_per_class, tsne_2d)


def test_sample_per_class_caps_each_class_and_is_seeded():
    table = pd.DataFrame({"label": [1] * 5 + [0] * 50})
    s = sample_per_class(table, 10, seed=3)
    assert (s.label == 1).sum() == 5 and (s.label == 0).sum() == 10 and s.index.is_monotonic_increasing
    assert s.index.equals(sample_per_class(table, 10, seed=3).index)
    assert not s.index.equals(sample_per_class(table, 10, seed=4).index)


def test_cosine_by_class_orders_included_first_and_block_means_match_a_direct_computation():
    rng = np.random.default_rng(0)
    v, labels = rng.normal(size=(7, 4)), np.array([0, 1, 0, 1, 0, 0, 1])
    sim, n_inc = cosine_by_class(v, labels)
    order = [1, 3, 6, 0, 2, 4, 5]
    unit = v[order] / np.linalg.norm(v[order], axis=1, keepdims=True)
    np.testing.assert_allclose(sim, unit @ unit.T)
    means = block_means(sim, n_inc)
    inc = [sim[i, j] for i in range(3) for j in range(3) if i != j]
    assert n_inc == 3 and means["included-included"] == pytest.approx(np.mean(inc))
    assert means["included-excluded"] == pytest.approx(sim[:3, 3:].mean())


def test_neighbour_agreement_is_one_for_separated_groups_and_near_chance_for_noise():
    rng = np.random.default_rng(1)
    groups = np.repeat([0, 1], 50)
    separated = np.vstack([rng.normal(size=(50, 8)) * 0.01 + 5 * np.eye(8)[0], rng.normal(size=(50, 8)) * 0.01 + 5 * np.eye(8)[1]])
    assert neighbour_agreement(separated, groups, k=5) == 1.0
    noise = rng.normal(size=(100, 8))
    assert abs(neighbour_agreement(noise, groups, k=5) - chance_agreement(groups)) < 0.15
    assert chance_agreement(np.array([0, 0, 1])) == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)


def test_tsne_is_seeded():
    v = np.random.default_rng(2).normal(size=(30, 5))
    np.testing.assert_allclose(tsne_2d(v, seed=0), tsne_2d(v, seed=0))


def test_table_shows_counts_as_integers_and_metrics_as_decimals():
    df = pd.DataFrame({"total": [2544.0, np.nan], "awss": [0.5, 0.25], "name": ["a", "b"], "flag": [True, False]})
    html = plots.table(df).to_html()
    assert "2,544" in html and "2544.000000" not in html and "0.500" in html and "–" in html


def test_every_method_and_review_has_one_fixed_colour_and_name():
    assert len(set(plots.REVIEW_COLORS.values())) == len(plots.REVIEW_COLORS) == 20
    colours = list(plots.METHOD_COLORS.values())
    assert len(set(colours)) == len(colours)
    # each label is the variant's own: every method with a fixed colour has words of its own, the others keep their name
    shown = {name: plots.method_label(name) for name in plots.METHOD_COLORS}
    assert shown == {
        "base": "Base", "lora": "LoRA (study)", "lora+int4": "LoRA + 4-bit", "lora+wanda50": "LoRA + Wanda 50 %",
        "student3-from-lora": "3-layer student of LoRA", "student3-from-base": "3-layer student of Base",
        "student3": "3 layers, not distilled", "hybrid-sqrt": "hybrid, √S split", "hybrid-both": "hybrid, S in both",
        "peft-svd": "peft svd", "peft-ties": "peft ties", "peft-dare_ties": "peft dare_ties", "peft-cat": "peft cat",
        "tfidf+lr": "TF-IDF + LR", "setfit": "setfit", "asreview-oneshot": "ASReview one-shot",
        "asreview-al": "ASReview active learning"}
    assert plots.method_label("base+svm") == "base+svm" and plots.method_label("custom") == "custom"


def test_figures_carry_the_provenance_line_and_are_written_as_png_and_svg(tmp_path):
    summary = pd.DataFrame({"review": ["nsaids", "adhd", "nsaids", "adhd"], "variant": ["base", "base", "lora", "lora"],
                            "mean": [0.5, 0.6, 0.55, 0.4], "std": [0.1, np.nan, 0.05, 0.2]})
    fig, ax = plt.subplots()
    plots.per_review_dots(ax, summary, ["nsaids", "adhd", "bpa"], ["base", "lora"], missing={"bpa"}, flagged={"adhd"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nsaids", "adhd †", "bpa"]
    assert any(t.get_text() == "no text here" for t in ax.texts)
    assert len(ax.containers) == 2 and all(c.lines[0].get_linestyle() == "None" for c in ax.containers)  # no joining lines
    caption = plots.provenance(encoder="m", mode="full", data="2 reviews", extra="seeds [0]")
    paths = plots.save_figure(fig, "x", tmp_path, caption)
    assert [p.name for p in paths] == ["x.png", "x.svg"] and caption in paths[1].read_text()
    first = [p.read_bytes() for p in paths]
    plots.save_figure(fig, "x", tmp_path, "")
    assert [p.read_bytes() for p in paths] == first  # a re-run leaves the files unchanged
    plt.close(fig)
