"""What the figures of notebooks 02, 03 and 06 are drawn from: maps and matrices computed from
embeddings, returned as plain arrays and numbers so they can be stored as keyed artefacts
(``helpers.core.artefacts``) and redrawn without an encoder. Pure functions of their inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..compute.space import block_means, chance_agreement, cosine_by_class, neighbour_agreement, tsne_2d

TSNE = {"seed": 0, "perplexity": 30.0, "metric": "cosine"}  # the settings every t-SNE here uses (a key part)


def tsne(vectors: np.ndarray) -> np.ndarray:
    """The report's t-SNE (``TSNE``) of some vectors, as float32 points."""
    return tsne_2d(vectors, seed=TSNE["seed"], perplexity=TSNE["perplexity"]).astype(np.float32)


def base_map(vectors: np.ndarray, reviews, labels) -> dict:
    """t-SNE of several reviews' citations, and how their 10 nearest neighbours (in the full
    space) agree on review, and on class within a review, against random neighbours."""
    reviews, labels = np.asarray(reviews), np.asarray(labels)
    present = list(dict.fromkeys(reviews))
    return {"points": tsne(vectors),
            "review": reviews.astype(str), "label": labels.astype(np.int8),
            "by_review": neighbour_agreement(vectors, reviews), "chance_review": chance_agreement(reviews),
            "by_class": {r: neighbour_agreement(vectors[reviews == r], labels[reviews == r]) for r in present},
            "chance_class": {r: chance_agreement(labels[reviews == r]) for r in present}}


def class_sample(labels, per_class: int, *, seed: int = 0) -> np.ndarray:
    """Positions of up to ``per_class`` records of each class (seeded), in their order."""
    from ..compute.space import sample_per_class

    return sample_per_class(pd.DataFrame({"label": np.asarray(labels)}), per_class, seed=seed).index.to_numpy()


def embedding_views(views: dict[str, np.ndarray], labels, *, per_class: int, with_tsne: bool = True) -> dict:
    """For each named view of the same records: its t-SNE (optional), its class-ordered cosine
    matrix over a class sample of up to ``per_class`` per class (what a heatmap can show; float16),
    and the block means over every record (the numbers the prose reads)."""
    labels = np.asarray(labels)
    shown = class_sample(labels, per_class)
    out: dict = {"labels": labels.astype(np.int8), "shown": shown}
    blocks = {}
    for name, emb in views.items():
        if with_tsne:
            out[f"points:{name}"] = tsne(emb)
        sim, n_inc = cosine_by_class(emb[shown], labels[shown])
        out[f"cosine:{name}"] = sim.astype(np.float16)
        out["n_included_shown"] = n_inc
        blocks[name] = block_means(*cosine_by_class(emb, labels))
    out["blocks"] = pd.DataFrame(blocks).T.rename_axis("view").reset_index()
    return out


def block_table(values: dict) -> pd.DataFrame:
    """The block means of ``embedding_views`` indexed by view, as the pages show them."""
    return values["blocks"].set_index("view").rename_axis(None)


def before_after(trial, *, per_class: int) -> dict:
    """Notebook 03: Base and phase-1 embeddings of a trial's evaluation set (maps, matrices, block
    means) and both variants' scores on it."""
    from ..methods.variants import Base, Lora

    views = embedding_views({"base": trial.base_embeddings.eval, "lora": trial.lora_embeddings.eval},
                            trial.data.eval["label"], per_class=per_class)
    return {**views, "scores:base": Base().score(trial).scores, "scores:lora": Lora().score(trial).scores}


def hybrid_views(trial, composed, *, reviews: list[str], per_review: int, data_dir=None) -> dict:
    """Notebook 06: a composed adapter (``skills.ComposedSkills``) for the trial's seed, mapped
    beside Base over a sample of ``per_review`` citations of each composed review, and its cosine
    matrices beside the trial review's own LoRA over that review's evaluation set."""
    from ..core.data import load_review
    from ..compute.space import sample_per_class

    model = composed.encoder(trial)
    sample = pd.concat([sample_per_class(load_review(r, data_dir, trial.encoder.sep_token), per_review // 2, seed=0)
                        .assign(review=r) for r in reviews], ignore_index=True)
    texts = sample["text"].tolist()
    maps = {f"points:{name}": tsne(m.embed(texts, progress=False)) for name, m in (("base", trial.encoder), ("hybrid", model))}
    views = embedding_views({"own": trial.lora_embeddings.eval, "hybrid": model.embed(trial.data.eval["text"].tolist())},
                            trial.data.eval["label"], per_class=per_review // 2, with_tsne=False)
    return {**maps, **views, "sample_review": sample["review"].to_numpy().astype(str),
            "sample_label": sample["label"].to_numpy().astype(np.int8)}
