"""slr-screen's ranking: a user's labelled records → a score and a rank for every other record.

Each method is a results-table variant (``METHODS``), trained on the file's labelled records
exactly as the sweep trains it on a review's 16, so a ranking here is the sweep's ranking; only
the chosen method's module is imported (TF-IDF and ASReview never load torch). ``screen`` reads,
checks (``screen_input``) and ranks a file; ``screen_stored`` is the same as a keyed artefact for
notebook 00, and ``demo_file`` makes a shared review into a user's export. Apart from reading,
writing and the command line, so that what a ranking depends on is in one place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..compute.fewshot import STUDY_PER_CLASS
from .screen_input import (TRAINING_LABEL, ScreenError, check_labels, decisions_note, own_columns, prepare,
                           read_references)


@dataclass(frozen=True)
class Method:
    """A ranking method: the variant it runs (helpers.methods.experiment / helpers.methods.peers)."""

    name: str
    variant_name: str
    description: str


METHODS = {m.name: m for m in (
    Method("lora", "lora", "the study's method: phase 1 (contrastive LoRA) + logistic regression"),
    Method("base", "base", "the encoder without phase 1 + logistic regression"),
    Method("tfidf", "tfidf+lr", "TF-IDF (1-2-grams) + logistic regression"),
    Method("asreview", "asreview-oneshot", "ASReview's default model (TF-IDF + SVM), fitted once"),
    Method("asreview+base", "concat:asreview+base@0.5",
           "ASReview's TF-IDF + SVM with the encoder's embeddings (weight 0.5) as extra features: "
           "notebook 08's recipe, chosen on its development reviews"),
)}
DEFAULT_METHOD = "asreview"


@dataclass
class Screened:
    """The ranked records (input columns + score, rank, labelled, slr_training_label, no_abstract,
    duplicate) and what the summary reports."""

    records: pd.DataFrame
    summary: dict


def method_variant(method: str):
    """The results-table variant a method runs, so a ranking here is the sweep's ranking. Only
    the chosen method's module is imported: TF-IDF and ASReview never load torch."""
    if method not in METHODS:
        raise ScreenError(f"method {method!r} unknown; choose one of {', '.join(METHODS)}")
    if method == "tfidf":
        from ..methods.peers import TFIDF_LR
        return TFIDF_LR
    if method == "asreview":
        from ..methods.peers import ASREVIEW_ONESHOT
        return ASREVIEW_ONESHOT
    if method in ("base", "lora"):
        from ..methods.variants import Base, Lora
        return Base() if method == "base" else Lora()
    from ..methods.beyond import candidate

    return candidate(METHODS[method].variant_name)


def rank(prepared: pd.DataFrame, *, method: str = DEFAULT_METHOD, encoder: str = "auto", seed: int = 0,
         name: str = "your review") -> np.ndarray:
    """A score per unlabelled record (higher = more likely included): the chosen method
    trained on the labelled records exactly as ``helpers.methods.experiment`` trains it on a review's
    16 (included first, then excluded, each in file order)."""
    from ..core.config import SweepConfig
    from ..compute.fewshot import Split
    from ..methods.trial import ReviewData, Trial

    variant = method_variant(method)
    trial = Trial(SweepConfig(encoder=encoder), name, seed)
    sep = trial.encoder.sep_token if variant.uses_encoder else " "
    labels = prepared["label"]
    split = Split(train=np.r_[np.flatnonzero((labels == 1).fillna(False).to_numpy()),
                              np.flatnonzero((labels == 0).fillna(False).to_numpy())],
                  eval=np.flatnonzero(labels.isna().to_numpy()))
    table = prepared.assign(text=prepared["title"] + sep + prepared["abstract"], label=labels.fillna(0).astype(int))
    trial.data = ReviewData(name, table, split, seed, n_per_class=0, eval_cap=None)
    return np.asarray(variant.score(trial).scores, dtype=float)


def screen(input_path: str | Path, *, label_column: str | None = None, method: str = DEFAULT_METHOD,
           encoder: str = "auto", seed: int = 0) -> Screened:
    """Read, check, rank. ``records`` keeps the file's own columns plus score, rank, labelled,
    slr_training_label, no_abstract and duplicate; unlabelled records come first by score (rank 1 = read
    first), then the labelled ones (no score: they are screened already). Its index is each
    record's position in the file (0 = the first)."""
    path = Path(input_path)
    start = time.perf_counter()
    raw = read_references(path)
    prepared = prepare(raw, path=path, label_column=label_column)
    check_labels(prepared, path=path)
    replaced = own_columns(raw, path=path)
    labelled = prepared["label"].notna().to_numpy()
    scores = np.full(len(prepared), np.nan)
    from ..methods.lexical import NoUsableText

    try:
        scores[~labelled] = rank(prepared, method=method, encoder=encoder, seed=seed, name=path.stem)
    except NoUsableText as exc:
        raise ScreenError(f"{path}: {exc} (columns title, abstract); --method {method} cannot rank this file, "
                          "--method base or lora read any text") from exc
    out = raw.drop(columns=replaced).reset_index(drop=True)  # the index: the record's position in the file
    out["score"] = scores
    out["labelled"] = labelled
    out[TRAINING_LABEL] = prepared["label"].to_numpy()
    out["no_abstract"] = prepared["no_abstract"].to_numpy()
    out["duplicate"] = prepared["duplicate"].to_numpy()
    order = np.r_[np.flatnonzero(~labelled)[np.argsort(-scores[~labelled], kind="stable")], np.flatnonzero(labelled)]
    out = out.iloc[order]
    out["rank"] = pd.array([*range(1, int((~labelled).sum()) + 1)] + [pd.NA] * int(labelled.sum()), dtype="Int64")
    summary = {"file": path.name, "records": len(raw), "decisions read from": decisions_note(prepared),
               "labelled included": int((prepared["label"] == 1).sum()),
               "labelled excluded": int((prepared["label"] == 0).sum()), "to rank": int((~labelled).sum()),
               "without abstract (ranked on title)": int(prepared["no_abstract"].sum()),
               "duplicates (kept, flagged)": int(prepared["duplicate"].sum()), "method": method,
               "encoder": (_encoder_label(encoder) if method_variant(method).uses_encoder
                           else "– (TF-IDF, no encoder)"),
               "seconds": round(time.perf_counter() - start, 1)}
    if replaced:
        summary["replaced (an earlier round's)"] = ", ".join(map(str, replaced))
    return Screened(out, summary)


SHOWN_COLUMNS = ["title", "rank", "score", "labelled", TRAINING_LABEL, "no_abstract", "duplicate"]


def screen_stored(input_path: str | Path, *, folder: Path, recompute: bool = False, label_column: str | None = None,
                  method: str = DEFAULT_METHOD, encoder: str = "auto", seed: int = 0) -> Screened:
    """``screen`` as a keyed artefact (helpers.core.artefacts) for notebook 00: the ranking of this
    file's exact content by this method, seed and encoder is computed once and redrawn from
    then on. The records keep the columns the page shows, with the file's record positions as
    their index."""
    import hashlib

    from ..core.artefacts import stored

    path = Path(input_path)
    identity = None
    if method_variant(method).uses_encoder:
        from ..core.config import SweepConfig
        from ..methods.trial import encoder_for

        identity = encoder_for(SweepConfig(encoder=encoder)).identity()
    key = {"file": hashlib.sha256(path.read_bytes()).hexdigest(), "method": method, "label_column": label_column,
           "seed": seed, "encoder": identity, "columns": SHOWN_COLUMNS}

    def compute() -> dict:
        result = screen(path, label_column=label_column, method=method, encoder=encoder, seed=seed)
        records = result.records.reindex(columns=SHOWN_COLUMNS).rename_axis("position").reset_index()
        return {"records": records.astype({TRAINING_LABEL: float, "rank": float}), "summary": result.summary}

    values = stored("00_ranking", key, compute, folder=folder, recompute=recompute)
    return Screened(values["records"].set_index("position").rename_axis(None), values["summary"])


def _encoder_label(encoder: str) -> str:
    from ..core.config import SweepConfig
    from ..methods.trial import encoder_for

    return encoder_for(SweepConfig(encoder=encoder)).label


def demo_file(review: str, folder: Path, *, seed: int = 0, n_per_class: int = STUDY_PER_CLASS,
              data_dir=None) -> tuple[Path, pd.Series]:
    """A shared review as a user's export with every label hidden except the seeded 8 + 8 the
    experiments train on (the same split as ``helpers.methods.experiment`` for that seed). Returns the
    CSV and the hidden labels (by record position) for checking the ranking afterwards."""
    from ..core.data import load_review
    from ..compute.fewshot import fewshot_split

    table = load_review(review, data_dir)
    split = fewshot_split(table["label"].to_numpy(), n_per_class=n_per_class, seed=seed)
    shown = pd.Series("", index=table.index, dtype=object)
    shown.iloc[split.train] = table["label"].iloc[split.train].map({1: "yes", 0: "no"})
    path = Path(folder) / f"{review}_{n_per_class}+{n_per_class}_seed{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table[["record_id", "title", "abstract"]].assign(included=shown.to_numpy()).to_csv(path, index=False)
    return path, table["label"]
