"""The cost of screening in the study's own terms: floating-point operations, energy and CO₂, and
the human reading a method saves for it.

**FLOPs are counted, not estimated.** torch's ``FlopCounterMode`` counts every matrix product
that executes (2·m·n·k each; attention through the CPU attention kernel, which torch's own table
lacks and ``SDPA`` adds), for a few text lengths of the encoder actually run. A BERT forward's
count is exactly quadratic in a text's length (linear layers ∝ L, attention ∝ L²), so three
lengths give every other one (``LengthCost``). A review's inference FLOPs then follow the
embedding's own batching — texts sorted by length, batches of 32 padded to their longest — and
phase 1's follow its own batches (the 16 training texts padded to their longest; each step embeds
its distinct texts, forward and backward; AdamW's update has no matrix product and counts 0).
Elementwise work (layer norms, activations) is not a matrix product and is not counted, as in
the study's own accounting. A FLOP count depends only on the architecture, the token lengths
and the schedule: it is derived for stored rows without recomputing them.

**Energy** comes from codecarbon's offline tracker: measured where the hardware has a meter
(RAPL on Intel CPUs, NVML on NVIDIA GPUs), otherwise codecarbon's estimate (CPU load × a TDP,
plus a RAM constant) — every number then carries ``estimated``. Power is measured once per
machine and phase (training, embedding, scoring), with the FLOP rate the machine kept meanwhile.
A torch phase of a row costs its counted FLOPs at that rate and power (the seconds a row recorded
are its own only where nothing came from the cache: Base's embeddings serve a review's five
seeds, and only the first records their time); other work costs the seconds it recorded. CO₂e = energy × the grid intensity codecarbon holds for the country.

**The reader's side**: the records a reviewer does not read at the 95 % recall point, times the
seconds a title and abstract take (30 s: about 5,000 abstracts in 40 h, Wallace et al. 2010;
up to 72 s: 120 min per 100 citations, Devane et al. 2014).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

SECONDS_PER_ABSTRACT = 30.0          # Wallace et al. 2010: ~5,000 abstracts in 40 h
SECONDS_PER_ABSTRACT_SLOW = 72.0     # Devane et al. 2014: 120 min per 100 citations
COUNTING_LENGTHS = (16, 32, 64)      # three lengths fix the quadratic exactly


def _sdpa_mapping() -> dict:
    """FLOP formulas for the CPU attention kernel and its backward (torch's table has the CUDA ones)."""
    import torch
    from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

    aten = torch.ops.aten
    return {aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, **kw: sdpa_flop_count(q, k, v),
            aten._scaled_dot_product_flash_attention_for_cpu_backward:
                lambda grad, q, k, v, *a, **kw: sdpa_backward_flop_count(grad, q, k, v)}


def count_flops(work: Callable[[], object]) -> int:
    """Matrix-product FLOPs of running ``work`` once."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False, custom_mapping=_sdpa_mapping()) as counter:
        work()
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class LengthCost:
    """FLOPs of one text of L tokens: quadratic·L² + linear·L + constant (exact for BERT)."""

    quadratic: float
    linear: float
    constant: float

    def __call__(self, length) -> np.ndarray:
        length = np.asarray(length, dtype=float)
        return self.quadratic * length ** 2 + self.linear * length + self.constant

    @classmethod
    def fit(cls, lengths, flops) -> LengthCost:
        """The quadratic through three counted (length, FLOPs) points."""
        if len(lengths) != 3:
            raise ValueError("three lengths fix a quadratic")
        return cls(*np.linalg.solve(np.vander(np.asarray(lengths, dtype=float), 3), np.asarray(flops, dtype=float)))


def _token_batch(encoder, n: int, length: int) -> dict:
    import torch

    ids = torch.full((n, length), 5, dtype=torch.long)
    ids[:, 0] = encoder.tokenizer.cls_token_id or 0
    return {"input_ids": ids.to(encoder.device), "attention_mask": torch.ones_like(ids).to(encoder.device)}


def forward_cost(encoder, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of embedding one text, as a function of its length."""
    import torch

    def flops(length: int) -> int:
        batch = _token_batch(encoder, 1, length)
        with torch.no_grad():
            return count_flops(lambda: encoder.model(**batch))

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def training_cost(encoder, args, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of one phase-1 text in a training step (forward and backward through a fresh
    LoRA adapter of ``args``), as a function of its length: a step of 2 pairs over 4 texts / 4."""
    from .contrastive import make_optimizer, training_step, with_lora

    adapted = with_lora(encoder, args, seed=0)
    adapted.model.train()
    optimizer = make_optimizer(adapted.model, args)
    pairs = np.array([(0, 1, 1), (2, 3, 0)])

    def flops(length: int) -> float:
        batch = _token_batch(encoder, 4, length)
        return count_flops(lambda: training_step(adapted, batch, pairs, optimizer, args)) / 4

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def distillation_cost(student, lengths=COUNTING_LENGTHS) -> LengthCost:
    """Counted FLOPs of one text in a distillation step (forward and backward through the whole
    student body; AdamW's update has no matrix product), as a function of its length."""
    import copy

    import torch

    from .distill import distillation_step

    model = copy.deepcopy(student.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def flops(length: int) -> float:
        batch = _token_batch(student, 4, length)
        target = torch.zeros(2, device=student.device)
        return count_flops(lambda: distillation_step(student, model, batch, [0, 2], [1, 3], target, optimizer)) / 4

    return LengthCost.fit(lengths, [flops(n) for n in lengths])


def distillation_flops(cost: LengthCost, pool_token_counts, args, *, max_length: int) -> float:
    """FLOPs of distilling a student on a pool of texts as ``distill.distill`` runs it: the same
    seeded pairs, each step embedding its distinct texts padded to their longest."""
    from .distill import pair_draws

    tokens = np.minimum(np.asarray(pool_token_counts), max_length)
    return float(sum(len(used) * cost(tokens[used].max()) for _, _, used in pair_draws(len(tokens), args)))


def embedding_flops(cost: LengthCost, token_counts, *, max_length: int, batch_size: int = 32) -> float:
    """FLOPs of embedding texts of these token counts as ``Encoder.embed`` batches them: truncated
    at ``max_length``, sorted longest first, batches of ``batch_size`` padded to their longest."""
    lengths = np.sort(np.minimum(np.asarray(token_counts), max_length))[::-1]
    longest = lengths[::batch_size]
    sizes = np.diff(np.r_[np.arange(0, len(lengths), batch_size), len(lengths)])
    return float(np.sum(sizes * cost(longest)))


def phase1_flops(cost: LengthCost, train_token_counts, train_labels, args, *, seed: int, max_length: int) -> float:
    """FLOPs of phase 1 on a review's 16 as ``contrastive.train_lora`` runs it: the same pairs and
    batches (seeded), every step embedding its distinct texts padded to the longest of the 16."""
    from .fewshot import all_pairs, make_pairs, stratified_batches

    labels = np.asarray(train_labels)
    pairs = (all_pairs(labels) if args.pairs == "all"
             else make_pairs(labels, n_positive=args.n_positive, n_negative=args.n_negative, seed=seed))
    length = min(int(np.max(train_token_counts)), max_length)
    texts = sum(len(np.unique(batch[:, :2])) for epoch in range(args.epochs)
                for batch in stratified_batches(pairs, batch_size=args.batch_size, seed=seed * 1000 + epoch))
    return float(texts * cost(length))


# ---------------------------------------------------------------- energy

@dataclass(frozen=True)
class Power:
    """Average power of one phase of work on this machine, and where the number comes from."""

    phase: str
    watts: float            # CPU + RAM (+ GPU) power while the work ran
    source: str             # "rapl", "nvml", or "estimated (...)"
    kg_co2_per_kwh: float   # the grid intensity codecarbon holds for the country
    country: str
    seconds: float          # how long the measurement ran
    flops_per_second: float = float("nan")  # counted FLOPs done per second meanwhile (NaN: not a torch model)


def energy_source(tracker) -> str:
    """How codecarbon obtained the CPU's power: a meter, or its own estimate (said so)."""
    cpu = next((h for h in tracker._hardware if type(h).__name__ == "CPU"), None)
    mode = getattr(cpu, "_mode", "")
    gpus = [h for h in tracker._hardware if type(h).__name__ == "GPU"]
    if mode == "intel_rapl":
        return "rapl" + (" + nvml" if gpus else "")
    detail = f"CPU load × TDP {getattr(cpu, '_tdp', '?')} W" + (" (generic)" if getattr(cpu, "_is_generic_tdp", False) else "")
    return f"estimated (codecarbon: {detail}, RAM constant)" + (" + nvml" if gpus else "")


def measure_power(phase: str, work: Callable[[], object], *, country: str, min_seconds: float,
                  flops_per_call: float = float("nan")) -> Power:
    """Run ``work`` (repeatedly, for at least ``min_seconds``) under codecarbon's offline tracker
    and return the average power, the grid intensity and, given the FLOPs of one call, the FLOP
    rate kept meanwhile. No network, nothing written."""
    import logging

    from codecarbon import OfflineEmissionsTracker

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    tracker = OfflineEmissionsTracker(country_iso_code=country, measure_power_secs=1, save_to_file=False,
                                      log_level="error", tracking_mode="machine")
    tracker.start()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < min_seconds:
        work()
        calls += 1
    seconds = time.perf_counter() - start
    kg = tracker.stop()
    data = tracker.final_emissions_data
    kwh = data.energy_consumed
    return Power(phase, kwh * 3.6e6 / data.duration, energy_source(tracker), kg / kwh if kwh else float("nan"),
                 country, data.duration, calls * flops_per_call / seconds)


def reading_hours_saved(n_eval, n_eval_included, tpr, tnr, *, seconds_per_abstract: float = SECONDS_PER_ABSTRACT):
    """Hours of reading a reviewer does not spend when stopping at the 95 % recall point: the
    records ranked below the threshold (true and false negatives) × seconds per abstract."""
    n_eval, included = np.asarray(n_eval, dtype=float), np.asarray(n_eval_included, dtype=float)
    read = np.asarray(tpr) * included + (1 - np.asarray(tnr)) * (n_eval - included)
    return (n_eval - read) * seconds_per_abstract / 3600


# ---------------------------------------------------------------- every stored row's FLOPs

class FlopCounts:
    """Counted per-length costs of one encoder, computed once each: its forward, a forward through
    a LoRA adapter of given arguments, a phase-1 text with given arguments, a student's forward
    and a student's distillation text."""

    def __init__(self, encoder):
        self.encoder = encoder
        self._memo: dict = {}

    def _get(self, key, compute):
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def base(self) -> LengthCost:
        return self._get("base", lambda: forward_cost(self.encoder))

    def adapted(self, args) -> LengthCost:
        from .contrastive import with_lora

        return self._get(("adapted", args), lambda: forward_cost(with_lora(self.encoder, args, seed=0)))

    def training(self, args) -> LengthCost:
        return self._get(("training", args), lambda: training_cost(self.encoder, args))

    def student(self, layers: int) -> LengthCost:
        from .distill import student_of

        return self._get(("student", layers), lambda: forward_cost(student_of(self.encoder, layers)))

    def distillation(self, layers: int) -> LengthCost:
        from .distill import student_of

        return self._get(("distillation", layers), lambda: distillation_cost(student_of(self.encoder, layers)))


class Flops(NamedTuple):
    """What screening one review × seed with a method costs in counted operations, from scratch:
    its training and inference FLOPs, what the count covers (``counted``; "not measured" with NaN
    where no torch model runs), and the part of training that is a teacher embedding the pool
    (embedding work, priced at the embedding phase's rate)."""

    train: float
    inference: float
    counted: str
    teacher_pass: float = 0.0


NOT_MEASURED = Flops(float("nan"), float("nan"), "not measured (no torch model)")


@dataclass(frozen=True)
class RowWork:
    """One stored row as a variant's ``flops`` sees it: the review × seed, what the row read from
    its sweep (its stored settings: phase 1's arguments, the reviews it composed), the encoder's
    per-length costs and the split's token counts. Nothing is re-run."""

    review: str
    seed: int
    settings: dict
    counts: FlopCounts
    split_tokens: Callable  # (review, seed) -> SplitTokens

    @property
    def split(self) -> SplitTokens:
        return self.split_tokens(self.review, self.seed)

    def training(self):
        """Phase 1's arguments as the row stored them."""
        from .config import TrainingArgs

        return TrainingArgs.from_identity(self.settings["training"])

    def embedded(self, per_text: LengthCost, token_counts=None) -> float:
        """FLOPs of embedding texts (default: the split's training and evaluation texts)."""
        max_length = self.counts.encoder.max_length
        if token_counts is not None:
            return embedding_flops(per_text, token_counts, max_length=max_length)
        split = self.split
        return (embedding_flops(per_text, split.train, max_length=max_length)
                + embedding_flops(per_text, split.eval, max_length=max_length))

    def phase1(self, args, *, review: str | None = None) -> float:
        """FLOPs of phase 1 with ``args`` on this seed's split of ``review`` (default: the row's)."""
        tokens = self.split_tokens(review or self.review, self.seed)
        return phase1_flops(self.counts.training(args), tokens.train, tokens.labels, args, seed=self.seed,
                            max_length=self.counts.encoder.max_length)

    def with_settings(self, settings: dict) -> "RowWork":
        """The same review × seed seen by a nested variant (its own part of the stored settings)."""
        from dataclasses import replace

        return replace(self, settings=settings)


def row_energy(row, powers: dict, *, train_flops: float = float("nan"), inference_flops: float = float("nan")) -> float:
    """Watt-hours of a row. Training and embedding with counted FLOPs take the seconds those FLOPs
    take at the rate this machine kept for that phase while its power was measured — not the
    seconds the row recorded, which are near zero where the work came from the cache (a review's
    Base embeddings are computed for its first seed and reused by the others). Work without a
    FLOP count costs the seconds it recorded for that phase; the rest of a row's seconds (heads,
    TF-IDF, active-learning simulation) run at the scoring phase's power."""
    recorded = {k: 0.0 if np.isnan(row.get(k, np.nan)) else float(row[k]) for k in ("train_seconds", "embed_seconds")}
    train = (train_flops / powers["training"].flops_per_second if np.isfinite(train_flops)
             else recorded["train_seconds"])
    embed = (inference_flops / powers["embedding"].flops_per_second if np.isfinite(inference_flops)
             else recorded["embed_seconds"])
    rest = max(float(row["seconds"]) - recorded["train_seconds"] - recorded["embed_seconds"], 0.0)
    return (powers["training"].watts * train + powers["embedding"].watts * embed + powers["scoring"].watts * rest) / 3600




def stored_power(encoder, args, *, device: str, folder, country: str, min_seconds: float,
                 recompute: bool = False) -> dict:
    """Each phase's ``Power`` on this machine, measured once and stored as an artefact keyed by the
    machine's fingerprint (notebooks 04 and 09 share it)."""
    import pandas as pd

    from .artefacts import library_versions, machine_fingerprint, stored

    key = {"machine": machine_fingerprint(device), "country": country, "seconds": min_seconds, "flop_rate": True,
           "versions": library_versions("codecarbon"), "encoder": encoder.identity()}
    table = stored("power", key, lambda: {"table": pd.DataFrame([vars(p) for p in machine_power(
        encoder, args, country=country, min_seconds=min_seconds)])}, folder=folder, recompute=recompute)["table"]
    return {row.phase: Power(**row._asdict()) for row in table.itertuples(index=False)}


def machine_power(encoder, args, *, country: str, min_seconds: float) -> list[Power]:
    """Each phase's power on this machine, measured once, with the FLOP rate of its torch work:
    phase 1 (training steps of the encoder through a LoRA adapter), embedding (forwards of a full
    batch), scoring (TF-IDF and a linear model, as the peers and heads run; no FLOP count)."""
    import torch
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from .bench import random_word_texts
    from .contrastive import make_optimizer, training_step, with_lora

    adapted = with_lora(encoder, args, seed=0)
    adapted.model.train()
    optimizer = make_optimizer(adapted.model, args)
    train_batch = _token_batch(encoder, 8, encoder.max_length)
    pairs = np.array([(0, 1, 1), (2, 3, 1), (4, 5, 0), (6, 7, 0)])
    embed_batch = _token_batch(encoder, 32, encoder.max_length)
    rng = np.random.default_rng(0)
    texts = random_word_texts(rng, 2000, vocabulary=2000, length=200)
    labels = rng.integers(0, 2, len(texts))

    def embed():
        with torch.no_grad():
            encoder.model(**embed_batch)

    def train():
        training_step(adapted, train_batch, pairs, optimizer, args)

    def score():
        LinearSVC().fit(TfidfVectorizer(ngram_range=(1, 2)).fit_transform(texts), labels)

    return [measure_power("training", train, country=country, min_seconds=min_seconds, flops_per_call=count_flops(train)),
            measure_power("embedding", embed, country=country, min_seconds=min_seconds, flops_per_call=count_flops(embed)),
            measure_power("scoring", score, country=country, min_seconds=min_seconds)]


def variants_by_name(variants) -> dict:
    """The variants by their results-table name; two different variants under one name are refused
    (a row could not tell which computed it)."""
    by_name: dict = {}
    for v in variants:
        if by_name.setdefault(v.name, v) != v:
            raise ValueError(f"two different variants are named {v.name!r}: {by_name[v.name]!r} and {v!r}")
    return by_name


def cost_table(rows, variants, counts: FlopCounts, split_tokens: Callable, powers: dict, *,
               seconds_per_abstract: float = SECONDS_PER_ABSTRACT) -> "pd.DataFrame":
    """Every row (by its results key) with its derived costs: training and inference FLOPs (each
    row's variant counts its own, ``Variant.flops``; ``variants``: those the rows were computed
    with) and what was counted, inference FLOPs per citation, energy (Wh) and CO₂e (g) with their
    source, and the hours of reading it saves at the 95 % recall point, per Wh."""
    import json

    import pandas as pd

    by_name = variants_by_name(variants)
    missing = sorted(set(rows["variant"]) - set(by_name))
    if missing:
        raise ValueError(f"cost_table: rows of {missing}, but no such variant was passed")
    out = []
    intensity = powers["embedding"].kg_co2_per_kwh
    for _, row in rows.iterrows():
        work = RowWork(row["review"], int(row["seed"]), json.loads(row["settings"]), counts, split_tokens)
        train, inference, counted, embedded = by_name[row["variant"]].flops(work)
        energy = row_energy(row, powers, train_flops=train - embedded, inference_flops=inference + embedded)
        hours = float(reading_hours_saved(row["n_eval"], row["n_eval_included"], row["tpr"], row["tnr"],
                                          seconds_per_abstract=seconds_per_abstract))
        out.append({"key": row["key"], "review": row["review"], "seed": int(row["seed"]), "variant": row["variant"],
                    "awss": row["awss"],
                    "train_flops": train, "inference_flops": inference, "flops_counted": counted,
                    "inference_flops_per_citation": inference / (row["n_train"] + row["n_eval"]),
                    "energy_wh": energy, "co2_g": energy / 1000 * intensity * 1000,
                    "hours_saved": hours, "hours_saved_slow": hours * SECONDS_PER_ABSTRACT_SLOW / seconds_per_abstract,
                    "hours_saved_per_wh": hours / energy if energy > 0 else float("nan")})
    return pd.DataFrame(out)


def method_costs(table) -> "pd.DataFrame":
    """Per method: the mean over reviews (of the mean over seeds) of each cost, with a bootstrap
    95 % CI over reviews (helpers.stats), and what its FLOPs count covers."""
    import pandas as pd

    from .stats import mean_with_ci

    columns = ("awss", "train_flops", "inference_flops_per_citation", "energy_wh", "co2_g", "hours_saved",
               "hours_saved_slow", "hours_saved_per_wh")
    out = []
    for variant, group in table.groupby("variant", sort=False):
        per_review = group.groupby("review")[list(columns)].mean()
        entry = {"variant": variant, "reviews": len(per_review), "rows": len(group),
                 "flops_counted": group["flops_counted"].iloc[0]}
        for column in columns:
            values = per_review[column].to_numpy()
            if np.isnan(values).all():
                entry.update({column: float("nan"), f"{column}_ci_low": float("nan"), f"{column}_ci_high": float("nan")})
                continue
            mean, low, high = mean_with_ci(values)
            entry.update({column: mean, f"{column}_ci_low": low, f"{column}_ci_high": high})
        out.append(entry)
    return pd.DataFrame(out)


def readable(methods, labels: Callable[[str], str] = str) -> "pd.DataFrame":
    """``method_costs`` as a reader's table: one column per quantity to three significant figures,
    the 95 % CI beside the mean where it varies between reviews in a way that matters (AWSS@95,
    energy, reading saved, and per Wh). What each FLOP count covers is ``flops_counted``."""
    import pandas as pd

    from .stats import with_ci

    def column(name: str, ci: bool = True) -> list[str]:
        lows = methods[f"{name}_ci_low"] if ci else [np.nan] * len(methods)
        highs = methods[f"{name}_ci_high"] if ci else [np.nan] * len(methods)
        return [with_ci(m, lo, hi) for m, lo, hi in zip(methods[name], lows, highs)]

    return pd.DataFrame({
        "method": [labels(v) for v in methods["variant"]], "reviews": methods["reviews"],
        "AWSS@95": column("awss"), "training FLOPs": column("train_flops", ci=False),
        "FLOPs per citation": column("inference_flops_per_citation", ci=False),
        "energy per review, Wh": column("energy_wh"), "CO₂e, g": column("co2_g", ci=False),
        "reading saved, h": column("hours_saved"), "at 72 s, h": column("hours_saved_slow", ci=False),
        "hours saved per Wh": column("hours_saved_per_wh")})


def pareto_front(cost, benefit) -> np.ndarray:
    """Positions of the points no other point beats on both lower cost and higher benefit (ties
    on both kept), ordered by cost: the front a reader would choose from."""
    cost, benefit = np.asarray(cost, dtype=float), np.asarray(benefit, dtype=float)
    keep = [i for i in range(len(cost)) if not np.isnan(cost[i]) and not any(
        (cost[j] <= cost[i] and benefit[j] >= benefit[i] and (cost[j] < cost[i] or benefit[j] > benefit[i]))
        for j in range(len(cost)) if j != i and not np.isnan(cost[j]))]
    return np.array(sorted(keep, key=lambda i: cost[i]), dtype=int)


class SplitTokens(NamedTuple):
    """Token counts of one review × seed's split."""

    train: np.ndarray    # the training texts', in the split's order
    eval: np.ndarray     # the evaluation texts', in the split's order
    labels: np.ndarray   # the training labels
    pool: np.ndarray     # training and evaluation texts in table order: what a student is distilled on


def split_token_counts(lengths, config) -> Callable:
    """``(review, seed) -> SplitTokens`` of the sweep's split, from a table of every citation's token
    count (``data.token_lengths``, in table order). Each split is drawn once."""
    from functools import lru_cache

    from .trial import prepare_review

    by_review = {r: g["n_tokens"].to_numpy() for r, g in lengths.groupby("review", sort=False)}

    @lru_cache(maxsize=None)
    def split(review: str, seed: int):
        data = prepare_review(review, seed, n_per_class=config.n_per_class, eval_cap=config.eval_cap,
                              data_dir=config.data_dir)
        counts = by_review[review]
        return SplitTokens(counts[data.split.train], counts[data.split.eval], data.train_labels,
                           counts[data.split.pool])

    return split


def with_batch_costs(latency, flops: dict, power: dict):
    """Notebook 04's latency table with each batch's counted FLOPs (the same products at every
    precision) and its energy at the embedding phase's power."""
    per_text = {name: counts.base() for name, counts in flops.items()}
    return latency.assign(
        flops_per_batch=[r.batch * float(per_text[r.encoder](r.tokens)) for r in latency.itertuples()],
        energy_wh_per_batch=latency["median_s"] * power["embedding"].watts / 3600)


def with_step_costs(training, flops: dict, power: dict, *, training_args):
    """Notebook 04's phase-1 table with each step's counted FLOPs (2 texts a pair, forward and
    backward) and its energy at the training phase's power."""
    return training.assign(
        flops_per_step=[2 * r.pairs * float(flops[r.encoder].training(training_args)(r.tokens))
                        for r in training.itertuples()],
        energy_wh_per_step=training["seconds_per_step"] * power["training"].watts / 3600)


def screening_costs(rows, variants, settings, encoder, reviews: list[str], *,
                    seconds_per_abstract: float = SECONDS_PER_ABSTRACT) -> tuple["pd.DataFrame", dict, FlopCounts]:
    """Every row's ``cost_table`` entry, this machine's power per phase and the FLOP counts behind
    them, from the reviews' stored token lengths and the power stored for this machine: what
    notebooks 05 and 09 show. ``variants``: those the rows were computed with; ``settings`` is the
    notebook's ``config.Settings``."""
    from .data import stored_token_lengths
    from .encoder import load_tokenizer

    lengths = stored_token_lengths(load_tokenizer(settings.encoder), reviews, data_dir=settings.data_dir,
                                   folder=settings.artefacts_dir, recompute=settings.recompute)
    config = settings.sweep()
    power = stored_power(encoder, config.training, device=str(encoder.device), folder=settings.artefacts_dir,
                         country=settings.country, recompute=settings.recompute, min_seconds=settings.power_seconds)
    counts = FlopCounts(encoder)
    table = cost_table(rows, variants, counts, split_token_counts(lengths, config), power,
                       seconds_per_abstract=seconds_per_abstract)
    return table, power, counts


def compression_table(methods, footprint, wss: dict, *, reference: str = "lora") -> "pd.DataFrame":
    """Notebook 05's compressions side by side, one row per variant: AWSS@95 (mean over reviews,
    bootstrap 95 % CI) and WSS@95, inference FLOPs per citation (counted, any machine), seconds per
    citation and the weights' MiB (this machine), energy per review and seed; each cost also as a
    share of ``reference``'s. ``methods``: ``method_costs``; ``footprint``: ``bench.footprint_table``;
    ``wss``: mean WSS@95 per variant."""
    import pandas as pd

    from .stats import with_ci

    merged = methods.merge(footprint, on="variant", how="inner", validate="one_to_one")
    missing = sorted(set(footprint["variant"]) - set(merged["variant"]))
    if missing or reference not in set(merged["variant"]):
        raise ValueError(f"compression_table: no costs for {missing or [reference]}; pass rows of every variant measured")
    ref = merged.set_index("variant").loc[reference]
    return pd.DataFrame({
        "variant": merged["variant"],
        "AWSS@95 (95 % CI)": [with_ci(m, lo, hi) for m, lo, hi in zip(merged["awss"], merged["awss_ci_low"],
                                                                      merged["awss_ci_high"])],
        "AWSS@95": merged["awss"], "WSS@95": merged["variant"].map(wss),
        "GFLOPs per citation": merged["inference_flops_per_citation"] / 1e9,
        "FLOPs vs " + reference: merged["inference_flops_per_citation"] / ref["inference_flops_per_citation"],
        "ms per citation": merged["seconds_per_citation"] * 1000,
        "time vs " + reference: merged["seconds_per_citation"] / ref["seconds_per_citation"],
        "weights, MiB": merged["weights_MiB"], "memory vs " + reference: merged["weights_MiB"] / ref["weights_MiB"],
        "energy per review, Wh": merged["energy_wh"], "training GFLOPs": merged["train_flops"] / 1e9})
