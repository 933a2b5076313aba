"""Which layers does phase 1 change most? Linear CKA (Kornblith et al., 2019) between each
layer's representations of the training texts before and after a short phase-1 run.

CKA(X, Y) = ||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F) on column-centred X, Y (rows = texts): 1 for
identical representations, invariant to orthogonal transforms and isotropic scaling. The
layers with the lowest CKA moved most; adapting only those is one candidate of notebook 08.
"""

from __future__ import annotations

import numpy as np
import torch


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same rows (n × p and n × q). Undefined (NaN)
    when either is the same for every row: there is no variation to compare."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"CKA compares the same rows: {x.shape[0]} vs {y.shape[0]}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    scale = np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")
    return float(cross / scale) if scale > 0 else float("nan")


def layer_outputs(encoder, texts: list[str]) -> list[np.ndarray]:
    """Per encoder layer, the mask-mean of its token states for each text (texts × hidden)."""
    enc = encoder.tokenizer(list(texts), truncation=True, padding=True, max_length=encoder.max_length,
                            return_tensors="pt").to(encoder.device)
    with torch.no_grad():
        out = encoder.model(**enc, output_hidden_states=True)
    mask = enc["attention_mask"].unsqueeze(-1).float()
    return [((h * mask).sum(1) / mask.sum(1)).float().cpu().numpy() for h in out.hidden_states[1:]]


def layer_change(before: list[np.ndarray], after: list[np.ndarray]) -> np.ndarray:
    """CKA of each layer before vs after (lower = changed more)."""
    return np.array([linear_cka(b, a) for b, a in zip(before, after)])


def most_changed(cka: np.ndarray, n: int) -> tuple[int, ...]:
    """The ``n`` layers with the lowest CKA, in layer order (ties: the lower layer first; a layer
    with undefined CKA, NaN, is chosen last)."""
    order = np.lexsort((np.arange(len(cka)), cka))
    return tuple(sorted(int(i) for i in order[:n]))
