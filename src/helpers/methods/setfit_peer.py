"""The setfit library's own training of the same encoder, as a peer: its defaults (full
fine-tuning, its pair sampling and loss, a logistic-regression head), offline, and its loop
replayed without the encoder's work so its FLOPs are counted from its own batches."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..compute.metrics import work_saved
from ..core.config import SweepConfig, knob
from .trial import Scored
from .variant import Variant

if TYPE_CHECKING:
    from ..models.flops import Flops, ForwardLog, RowWork
    from .trial import Trial


def setfit_scores(model_path: str, train: pd.DataFrame, eval_texts: list[str], *, seed: int, max_length: int,
                  num_iterations: int | None = None, device: str = "cpu", log: ForwardLog | None = None,
                  compute: bool = True) -> Scored:
    """Train the setfit library on the few-shot set (its defaults) and score the evaluation
    texts. Offline: the metric is a function, never a hub name. With ``log``, every forward of
    the encoder is recorded by phase (``flops.watching``; ``compute=False``: only the shapes are
    replayed, and the scores mean nothing)."""
    from contextlib import nullcontext

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from ..models.flops import watching

    model = SetFitModel.from_pretrained(model_path, device=device)
    model.model_body.max_seq_length = max_length
    watched = nullcontext() if log is None else watching(model.model_body[0].auto_model, log, compute=compute)

    def awss95(y_pred, y_true) -> dict:  # setfit passes predictions first
        return {"awss95": work_saved(y_true, y_pred).awss}

    with tempfile.TemporaryDirectory() as out, watched:
        args = TrainingArguments(output_dir=out, seed=seed, num_iterations=num_iterations, max_length=max_length,
                                 show_progress_bar=False, report_to="none", save_strategy="no")
        trainer = Trainer(model=model, args=args, metric=awss95, train_dataset=Dataset.from_dict(
            {"text": train["text"].tolist(), "label": [int(v) for v in train["label"]]}))
        start = time.perf_counter()
        trainer.train()
        train_seconds = time.perf_counter() - start
        if log is not None:
            log.phase = "inference"
        start = time.perf_counter()
        scores = np.asarray(model.predict_proba(list(eval_texts), show_progress_bar=False))[:, 1]
    return Scored(scores=scores, timings={"train_seconds": train_seconds,
                                          "embed_seconds": time.perf_counter() - start})


@dataclass(frozen=True)
class Setfit(Variant):
    """The setfit library's own training of the same encoder with its defaults: full fine-tuning
    of the body, its pair sampling and loss, a logistic-regression head."""

    num_iterations: int | None = knob(None, "setfit's pair-sampling iterations; None: its default oversampling")

    @property
    def name(self) -> str:
        return "setfit"

    def reads(self, config: SweepConfig, review: str) -> dict:
        return {"setfit": metadata.version("setfit")}

    @property
    def replays(self) -> bool:
        return True

    def replay(self, trial: Trial) -> dict:
        """setfit's own loop run again without the encoder's work (``flops.watching``): its pairs,
        batches and padding, every forward's shape by phase. No ranking comes out of it."""
        from ..models.flops import ForwardLog

        log = ForwardLog()
        self._run(trial, log=log, compute=False)
        return {"calls": log.table()}

    def flops(self, work: RowWork) -> Flops:
        """Each recorded forward at the encoder's counted per-length costs: a full fine-tuning step
        (forward and backward through every weight) where gradients were on, else a forward. The
        training side holds the body's training and the head's pass over the 16; inference, the
        evaluation set's. The head's logistic regression on the 16 embeddings is not counted
        (as for Base and LoRA: a few million FLOPs)."""
        from ..models.flops import NOT_MEASURED, Flops, forward_flops

        replay = work.replay(self)
        if replay is None:
            return NOT_MEASURED._replace(counted="not measured (counted only by replaying setfit's loop: no replay given)")
        by_phase = forward_flops(replay["calls"], work.counts.base(), work.counts.fine_tuning())
        return Flops(by_phase.get("train", 0.0), by_phase.get("inference", 0.0),
                     "counted (setfit's own batches replayed)")

    def score(self, trial: Trial) -> Scored:
        return self._run(trial)

    def _run(self, trial: Trial, **watch) -> Scored:
        from ..models.encoder import resolve_encoder_name

        data = trial.data
        return setfit_scores(resolve_encoder_name(trial.config.encoder), data.train, data.eval["text"].tolist(),
                             seed=trial.seed, max_length=trial.encoder.max_length, device=str(trial.encoder.device),
                             num_iterations=self.num_iterations, **watch)
