"""Work saved over sampling at a recall level: AWSS@r (the study's) and WSS@r (Cohen 2006).

NumPy only. The threshold is a score value t; a document is "kept" (screened by a human)
when its score >= t, so tied documents always fall on the same side of the threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class WorkSaved:
    awss: float        # TNR - (1 - TPR)
    wss: float         # (TN + FN) / N - (1 - recall)
    threshold: float   # keep documents with score >= threshold
    tpr: float         # recall at the threshold
    tnr: float
    n_pos: int
    n_neg: int
    recall_level: float

    def as_dict(self) -> dict:
        return asdict(self)


def work_saved(labels, scores, recall: float = 0.95) -> WorkSaved:
    """AWSS@recall and WSS@recall at the highest threshold that keeps >= ``recall`` of the
    included documents (fewest documents to read while meeting the recall target).

    ``labels``: 1 = included, 0 = excluded. Raises ValueError when a class is absent
    (TPR or TNR would be undefined) or on NaN scores.
    """
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d of equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (excluded) or 1 (included)")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    if not 0 < recall <= 1:
        raise ValueError(f"recall must be in (0, 1], got {recall}")
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"need both classes to compute work saved (included={n_pos}, excluded={n_neg})")

    # Distinct thresholds in descending order; cumulative counts of documents kept at each.
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = np.cumsum(1 - y_sorted)[last_of_tie]
    thresholds = s_sorted[last_of_tie]
    needed = int(np.ceil(recall * n_pos - 1e-9))
    i = int(np.argmax(tp >= needed))  # first (highest) threshold reaching the recall target
    tp_i, fp_i = int(tp[i]), int(fp[i])
    fn, tn = n_pos - tp_i, n_neg - fp_i
    tpr, tnr = tp_i / n_pos, tn / n_neg
    n = n_pos + n_neg
    return WorkSaved(
        awss=tnr - (1 - tpr),
        wss=(tn + fn) / n - (1 - tpr),
        threshold=float(thresholds[i]),
        tpr=tpr,
        tnr=tnr,
        n_pos=n_pos,
        n_neg=n_neg,
        recall_level=recall,
    )


def recall_curve(labels_in_order) -> tuple[np.ndarray, np.ndarray]:
    """(share of records read, share of included records found) after each record, for
    records read in the given order: the curve a screener walks along."""
    y = np.asarray(labels_in_order, dtype=float)
    if y.sum() == 0:
        raise ValueError("no included record: recall is undefined")
    read = np.arange(1, len(y) + 1) / len(y)
    return np.r_[0.0, read], np.r_[0.0, np.cumsum(y) / y.sum()]
