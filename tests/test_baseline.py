import numpy as np

from conftest import synthetic_texts
from helpers.baseline import setfit_scores


def test_setfit_peer_check_runs_offline_and_scores_every_eval_text(tiny_bert_dir):
    labels = np.r_[np.ones(4, int), np.zeros(4, int)]
    eval_labels = np.r_[np.ones(3, int), np.zeros(9, int)]
    out = setfit_scores(str(tiny_bert_dir), synthetic_texts(8, 1), labels, synthetic_texts(12, 2),
                        eval_labels, seed=0, max_length=32, num_iterations=1)
    assert out["scores"].shape == (12,) and ((0 <= out["scores"]) & (out["scores"] <= 1)).all()
    assert -1 <= out["awss"] <= 1 and out["train_seconds"] > 0
