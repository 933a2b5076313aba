"""Peer check: the official `setfit` library's own training on the same 16 examples.

Its defaults (CosineSimilarityLoss, full fine-tuning of the body, its own pair sampling,
logistic-regression head) are kept, so readers see the reference implementation beside the
study's LoRA variant. Only the number of epochs/iterations is exposed to keep runs short.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np

from .metrics import work_saved


def setfit_scores(model_path: str, train_texts: list[str], train_labels, eval_texts: list[str],
                  eval_labels, seed: int = 0, max_length: int = 256, num_iterations: int | None = None,
                  progress: bool = False) -> dict:
    """Train setfit on the few-shot set and score the evaluation set; returns the work-saved
    numbers, the scores and timings. Offline: the metric is a function, never a hub name."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(model_path, device="cpu")
    model.model_body.max_seq_length = max_length

    def awss95(y_pred, y_true) -> dict:  # setfit passes predictions first
        return {"awss95": work_saved(y_true, y_pred).awss}

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, seed=seed, num_iterations=num_iterations,
                                 max_length=max_length, show_progress_bar=progress,
                                 report_to="none", save_strategy="no")
        trainer = Trainer(model=model, args=args, metric=awss95,
                          train_dataset=Dataset.from_dict({"text": list(train_texts),
                                                           "label": [int(v) for v in train_labels]}))
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
    scores = np.asarray(model.predict_proba(list(eval_texts), show_progress_bar=progress))[:, 1]
    ws = work_saved(np.asarray(eval_labels), scores)
    return {"awss": ws.awss, "wss": ws.wss, "tpr": ws.tpr, "tnr": ws.tnr,
            "train_seconds": train_seconds, "scores": scores}
