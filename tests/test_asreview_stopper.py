"""The ASReview stopper ``slr-stop``: found through ASReview's own entry points, and a simulation
with ASReview's own ``Simulate`` stops exactly where ``helpers.stopping.recommended`` says on the
same labelling order."""

import numpy as np
import pandas as pd

from helpers import stopping
from helpers.peers import asreview_model, load_asreview


def test_asreview_finds_slr_stop_by_its_name():
    load_asreview()
    from asreview.extensions import load_extension

    from helpers.asreview_ext import SlrStop

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
