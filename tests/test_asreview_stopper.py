"""The ASReview stopper ``slr-stop``: found through ASReview's own entry points, and a simulation
with ASReview's own ``Simulate`` stops exactly where ``helpers.compute.stopping.recommended`` says on the
same labelling order."""

import numpy as np
import pandas as pd

from helpers.compute import stopping
from helpers.methods.asreview_peers import asreview_model, load_asreview


def test_asreview_finds_slr_stop_by_its_name():
    load_asreview()
    from asreview.extensions import load_extension

    from helpers.models.asreview_ext import SlrStop

    assert load_extension("models.stoppers", "slr-stop") is SlrStop


def test_a_simulation_with_slr_stop_stops_where_the_recommended_rule_does(shared_data):
    load_asreview()
    from asreview.extensions import load_extension
    from asreview.learner import ActiveLearningCycle
    from asreview.models.queriers import TopDown
    from asreview.models.stoppers import IsFittable, NLabeled
    from asreview.simulation.simulate import Simulate

    table = pd.read_csv(shared_data / "nsaids.csv.gz")
    records, labels = table[["title", "abstract"]].fillna(""), table["label"].to_numpy()
    priors = np.r_[np.flatnonzero(labels == 1)[:2], np.flatnonzero(labels == 0)[:2]]

    def simulate(stopper):
        cycles = [ActiveLearningCycle(querier=TopDown(), stopper=IsFittable()), asreview_model("elas_u4", 0)]
        sim = Simulate(records, labels, cycles, stopper=stopper, print_progress=False)
        sim.label(priors)
        sim.review()
        return sim._results["label"].to_numpy().astype(int)

    whole = simulate(NLabeled(len(labels)))  # every record, in ASReview's labelling order
    for target, confidence in ((0.95, 0.95), (0.9, 0.9)):
        stopped = simulate(load_extension("models.stoppers", "slr-stop")(recall_target=target, confidence=confidence))
        expected = stopping.recommended(whole, len(labels), recall_target=target, confidence=confidence).at
        assert expected is not None and len(stopped) == expected < len(labels)
        assert np.array_equal(stopped, whole[:expected])  # the same labelling order up to there


def test_slr_stop_asked_after_each_label_agrees_with_the_rule_on_the_whole_sequence():
    """It computes only the checks past its last 'go on'; asked about another sequence (not an
    extension of the last), it starts afresh — either way the rule's own answer."""
    load_asreview()
    from helpers.models.asreview_ext import SlrStop

    rng = np.random.default_rng(4)
    n_total = 1500
    ranked = (rng.random(n_total) < np.linspace(0.3, 0.0, n_total)).astype(int)  # includes read early
    stopper = SlrStop()
    first = next(n for n in range(1, n_total + 1) if stopper.stop({"label": ranked[:n]}, range(n_total)))
    assert first == stopping.recommended(ranked, n_total).at
    other = np.r_[1, 1, np.zeros(n_total - 2, int)]  # not an extension of what it was asked before
    says = stopper.stop({"label": other[:400]}, range(n_total))
    assert says == (stopping.recommended(other[:400], n_total).at is not None)
