"""The cost of screening in the study's own terms — FLOPs (``helpers.models.flops``), energy and CO₂
(``helpers.analysis.power``) — against the human reading a method saves for it, per stored row and per
method, and the tables of notebooks 04, 05 and 09.

A torch phase of a row costs its counted FLOPs at the rate and power this machine kept for that
phase (the seconds a row recorded are its own only where nothing came from the cache: Base's
embeddings serve a review's five seeds, and only the first records their time); other work costs
the seconds it recorded.

**The reader's side**: the records a reviewer does not read at the 95 % recall point, times the
seconds a title and abstract take (30 s: about 5,000 abstracts in 40 h, Wallace et al. 2010;
up to 72 s: 120 min per 100 citations, Devane et al. 2014).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from ..models.flops import FlopCounts, RowWork, SplitTokens
from .power import stored_power

if TYPE_CHECKING:
    import pandas as pd

SECONDS_PER_ABSTRACT = 30.0          # Wallace et al. 2010: ~5,000 abstracts in 40 h
SECONDS_PER_ABSTRACT_SLOW = 72.0     # Devane et al. 2014: 120 min per 100 citations


def reading_hours_saved(n_eval, n_eval_included, tpr, tnr, *, seconds_per_abstract: float = SECONDS_PER_ABSTRACT):
    """Hours of reading a reviewer does not spend when stopping at the 95 % recall point: the
    records ranked below the threshold (true and false negatives) × seconds per abstract."""
    n_eval, included = np.asarray(n_eval, dtype=float), np.asarray(n_eval_included, dtype=float)
    read = np.asarray(tpr) * included + (1 - np.asarray(tnr)) * (n_eval - included)
    return (n_eval - read) * seconds_per_abstract / 3600


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


def torch_part(total: float, sparse: float) -> float:
    """The FLOPs of a phase an encoder ran: the phase's count less its sparse part; NaN where the
    phase is sparse work alone, whose energy is the seconds the row recorded."""
    return float("nan") if sparse > 0 and total == sparse else total - sparse


def variants_by_name(variants) -> dict:
    """The variants by their results-table name; two different variants under one name are refused
    (a row could not tell which computed it)."""
    by_name: dict = {}
    for v in variants:
        if by_name.setdefault(v.name, v) != v:
            raise ValueError(f"two different variants are named {v.name!r}: {by_name[v.name]!r} and {v!r}")
    return by_name


REPLAY_FORMAT = 1  # what a replay records (``WorkLog`` entries, ``ForwardLog`` calls); changed, replays are redone


def stored_replays(config, encoder, *, folder, recompute: bool = False) -> Callable:
    """``(variant, row) -> replay``: a variant's ``replay`` of one stored row (its work re-run and
    watched: sparse models, setfit's own loop), stored as an artefact keyed by the row's key and
    the libraries that ran it. A replay that reproduces the row's ranking must give the row's
    AWSS@95 (to the 16 digits the results table keeps), or the count would describe another run:
    that is an error naming the row. ``config``: the sweep's settings (each row's own split size
    and evaluation cap are used)."""
    from dataclasses import replace

    from ..core.artefacts import library_versions, stored
    from ..core.progress import to_terminal
    from ..core.results import key_of_row
    from ..methods.trial import Trial

    libraries = library_versions("scikit-learn", "asreview", "setfit", "sentence-transformers", "transformers")

    def replay(variant, row) -> dict:
        key = key_of_row(row)
        trial = Trial(replace(config, n_per_class=key.n_per_class, eval_cap=key.eval_cap), key.review, key.seed,
                      encoder=encoder)

        def compute() -> dict:
            with to_terminal():  # a library's own loop talks; its chatter is not the page's
                return variant.replay(trial)

        values = stored("replay", {"row": row["key"], "format": REPLAY_FORMAT, "libraries": libraries}, compute,
                        folder=folder, recompute=recompute)
        if "awss" in values and abs(values["awss"] - row["awss"]) > 1e-12:  # the table keeps 16 digits
            raise ValueError(f"replaying {row['variant']} on {row['review']}, seed {row['seed']} (row {row['key']}) "
                             f"ranks with AWSS@95 {values['awss']!r}, the stored row {row['awss']!r}: its count would "
                             f"describe another run; recompute the row")
        return values

    return replay


def cost_table(rows, variants, counts: FlopCounts, split_tokens: Callable, powers: dict, *,
               replays: Callable | None = None, seconds_per_abstract: float = SECONDS_PER_ABSTRACT,
               progress: bool = True) -> "pd.DataFrame":
    """Every row (by its results key) with its derived costs: training and inference FLOPs (each
    row's variant counts its own, ``Variant.flops``; ``variants``: those the rows were computed
    with; ``replays``: ``stored_replays``, for the variants that count from a replay) and what was
    counted, inference FLOPs per citation, energy (Wh) and CO₂e (g) with their source, and the
    hours of reading it saves at the 95 % recall point, per Wh."""
    import json

    import pandas as pd

    from ..core.progress import progress as bar

    by_name = variants_by_name(variants)
    missing = sorted(set(rows["variant"]) - set(by_name))
    if missing:
        raise ValueError(f"cost_table: rows of {missing}, but no such variant was passed")
    out = []
    intensity = powers["embedding"].kg_co2_per_kwh
    for _, row in bar(rows.iterrows(), desc="costs per row", total=len(rows), enabled=progress):
        replayed = None if replays is None else (lambda variant, row=row: replays(variant, row))
        work = RowWork(row["review"], int(row["seed"]), json.loads(row["settings"]), counts, split_tokens, replayed)
        flops = by_name[row["variant"]].flops(work)
        train, inference, counted = flops.train, flops.inference, flops.counted
        energy = row_energy(row, powers, train_flops=torch_part(train - flops.teacher_pass, flops.sparse_train),
                            inference_flops=torch_part(inference, flops.sparse_inference) + flops.teacher_pass)
        hours = float(reading_hours_saved(row["n_eval"], row["n_eval_included"], row["tpr"], row["tnr"],
                                          seconds_per_abstract=seconds_per_abstract))
        out.append({"key": row["key"], "review": row["review"], "seed": int(row["seed"]), "variant": row["variant"],
                    "awss": row["awss"],
                    "train_flops": train, "inference_flops": inference, "flops_counted": counted,
                    "inference_flops_per_citation": inference / (row["n_train"] + row["n_eval"]),
                    "flops_per_citation": (train + inference) / (row["n_train"] + row["n_eval"]),
                    "energy_wh": energy, "co2_g": energy / 1000 * intensity * 1000,
                    "hours_saved": hours, "hours_saved_slow": hours * SECONDS_PER_ABSTRACT_SLOW / seconds_per_abstract,
                    "hours_saved_per_wh": hours / energy if energy > 0 else float("nan")})
    return pd.DataFrame(out)


def method_costs(table) -> "pd.DataFrame":
    """Per method: the mean over reviews (of the mean over seeds) of each cost, with a bootstrap
    95 % CI over reviews (helpers.compute.stats), and what its FLOPs count covers."""
    import pandas as pd

    from ..compute.stats import mean_with_ci

    columns = ("awss", "train_flops", "inference_flops_per_citation", "flops_per_citation", "energy_wh", "co2_g",
               "hours_saved", "hours_saved_slow", "hours_saved_per_wh")
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
    energy, reading saved, and per Wh). "FLOPs per citation" is inference's; "all FLOPs per citation"
    adds training (what notebook 09's machine-free axis shows). What each FLOP count covers is
    ``flops_counted``."""
    import pandas as pd

    from ..compute.stats import with_ci

    def column(name: str, ci: bool = True) -> list[str]:
        lows = methods[f"{name}_ci_low"] if ci else [np.nan] * len(methods)
        highs = methods[f"{name}_ci_high"] if ci else [np.nan] * len(methods)
        return [with_ci(m, lo, hi) for m, lo, hi in zip(methods[name], lows, highs)]

    return pd.DataFrame({
        "method": [labels(v) for v in methods["variant"]], "reviews": methods["reviews"],
        "AWSS@95": column("awss"), "training FLOPs": column("train_flops", ci=False),
        "FLOPs per citation": column("inference_flops_per_citation", ci=False),
        "all FLOPs per citation": column("flops_per_citation", ci=False),
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


def on_cost_axis(costs) -> np.ndarray:
    """Which costs a (log) cost axis shows: a method without a count (NaN), or with a zero cost, is
    off it — in the figure and in its Pareto front alike."""
    x = np.asarray(costs, dtype=float)
    return np.isfinite(x) & (x > 0)


def cost_fronts(methods, columns=("flops_per_citation", "energy_wh")) -> dict[str, np.ndarray]:
    """The Pareto front of mean AWSS@95 against each cost column of ``method_costs`` (positions),
    among the methods on that axis (``on_cost_axis``)."""
    awss = methods["awss"].to_numpy(dtype=float)
    fronts = {}
    for column in columns:
        x = methods[column].to_numpy(dtype=float)
        fronts[column] = pareto_front(np.where(on_cost_axis(x), x, np.nan), awss)
    return fronts


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
    from ..core.data import stored_token_lengths
    from ..models.encoder import load_tokenizer

    lengths = stored_token_lengths(load_tokenizer(settings.encoder), reviews, data_dir=settings.data_dir,
                                   folder=settings.artefacts_dir, recompute=settings.recompute)
    config = settings.sweep()
    power = stored_power(encoder, config.training, device=str(encoder.device), folder=settings.artefacts_dir,
                         country=settings.country, recompute=settings.recompute, min_seconds=settings.power_seconds)
    counts = FlopCounts(encoder)
    replays = stored_replays(config, encoder, folder=settings.artefacts_dir, recompute=settings.recompute)
    table = cost_table(rows, variants, counts, split_token_counts(lengths, config), power, replays=replays,
                       seconds_per_abstract=seconds_per_abstract)
    return table, power, counts


def compression_table(methods, footprint, wss: dict, *, reference: str = "lora") -> "pd.DataFrame":
    """Notebook 05's compressions side by side, one row per variant: AWSS@95 (mean over reviews,
    bootstrap 95 % CI) and WSS@95, inference FLOPs per citation (counted, any machine), seconds per
    citation and the weights' MiB (this machine), energy per review and seed; each cost also as a
    share of ``reference``'s. ``methods``: ``method_costs``; ``footprint``: ``bench.footprint_table``;
    ``wss``: mean WSS@95 per variant."""
    import pandas as pd

    from ..compute.stats import with_ci

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


def split_token_counts(lengths, config) -> Callable:
    """``(review, seed) -> SplitTokens`` of the sweep's split, from a table of every citation's token
    count (``data.token_lengths``, in table order). Each split is drawn once."""
    from functools import lru_cache

    from ..methods.trial import prepare_review

    by_review = {r: g["n_tokens"].to_numpy() for r, g in lengths.groupby("review", sort=False)}

    @lru_cache(maxsize=None)
    def split(review: str, seed: int):
        data = prepare_review(review, seed, n_per_class=config.n_per_class, eval_cap=config.eval_cap,
                              data_dir=config.data_dir)
        counts = by_review[review]
        return SplitTokens(counts[data.split.train], counts[data.split.eval], data.train_labels,
                           counts[data.split.pool])

    return split
