"""Each page's "What this shows": every number in its prose computed here, from the results rows
and the tables the page shows, never typed. One function per notebook, each returning a
``Writeup`` that ``helpers.book.page.show`` displays; each is tested on a run with one review.

Readings are the report's one rule for a paired comparison (``stats.verdict``): a difference is
called a win or a loss only where the median paired difference points that way and Wilcoxon's
p is below 0.05.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import study
from .plots import method_label
from ..compute.stats import comparison, verdict


@dataclass(frozen=True)
class Writeup:
    """A headline for the landing page (None: the page lists none), Markdown paragraphs, tables
    as (caption, frame, display options) and Markdown after them (e.g. why study and here differ)."""

    headline: str | None
    body: str
    tables: tuple = ()
    after: str = ""


def _bullets(lines) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _study_vs_here(headline: str, lines, vs: pd.DataFrame, why: str, *, caption: str = "study vs here",
                   **display) -> Writeup:
    """A section that sets its numbers beside the study's: its bullets, one table of study vs here
    and, after it, why the two differ (every such section says why, in the same words)."""
    return Writeup(headline, _bullets(lines), tables=((caption, vs, display),), after=f"Why they differ: {why}")


def _count(n: int, noun: str) -> str:
    """'1 review', '15 reviews': the prose reads as written, not as a form with '(s)'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _moves(after: float, before: float) -> str:
    return "raises" if after > before else "lowers" if after < before else "does not change"


def _range(values) -> str:
    return f"{min(values):.3f}–{max(values):.3f}"


# ---------------------------------------------------------------- 00

def screen_demo(*, method: str, review: str | None, truth: np.ndarray | None, scores: np.ndarray,
                file_name: str) -> Writeup:
    """How much reading the ranking saves where the hidden labels are known (the demo), or how
    to read it where they are not (a user's file)."""
    from ..compute.metrics import work_saved

    if truth is None:
        return Writeup(None, f"Your file has no hidden labels to check against: read from rank 1 down. Write the "
                             f"ranked file with `screen.write(result, ...)` or `slr-screen {file_name}`.")
    ws = work_saved(truth, scores)
    n_read, n = int((scores >= ws.threshold).sum()), len(scores)
    return Writeup(
        f"On {review} with only 8 + 8 labels, `slr-screen --method {method}` finds 95 % of the included records "
        f"after reading {n_read:,} of {n:,} ({n_read / n:.0%}): AWSS@95 {ws.awss:.3f}.",
        f"Reading in this order, a screener finds {ws.tpr:.0%} of the {int(truth.sum())} included records after "
        f"{n_read:,} of the {n:,} unlabelled ones and can stop there: AWSS@95 = {ws.awss:.3f}, WSS@95 (Cohen) = "
        f"{ws.wss:.3f}. In random order the same recall costs reading about 95 % of them. Notebook 07 compares the "
        "methods on every review and several seeds.")


# ---------------------------------------------------------------- 01

def datasets(labels: pd.DataFrame, within: pd.DataFrame, lengths: pd.DataFrame, *, encoder_label: str,
             encoder_limit: int, study_limit: int) -> Writeup:
    """Counts against the study's, imbalance, and how much truncation the limits cause."""
    present = labels[labels.status == "ok"].sort_values("included_pct")
    missing = labels.loc[labels.status == "missing", "review"].tolist()
    overall = within.set_index("review").loc["ALL"]
    within_own = float((lengths.n_tokens <= encoder_limit).mean())
    lo, hi = present.iloc[0], present.iloc[-1]
    same = int(((present.diff_total == 0) & (present.diff_included == 0)).sum())
    agree = "every" if same == len(present) else f"{same} of {len(present)}"
    return Writeup(
        f"{len(present)} of the study's 20 reviews have text here ({', '.join(missing) or 'none'} missing); included "
        f"citations range from {lo.included_pct:.1f} % ({lo.review}) to {hi.included_pct:.1f} % ({hi.review}).",
        _bullets([
            f"**Data.** {same} of the {len(present)} reviews with text match the study's total and included counts "
            f"exactly. The reviews are very imbalanced: the included share runs from {lo.included_pct:.1f} % "
            f"({lo.review}, {lo.included:,.0f} of {lo.total:,.0f}) to {hi.included_pct:.1f} % ({hi.review}).",
            f"**Length.** {overall[f'share_within_{study_limit}']:.1%} of the {overall.n_texts:,.0f} citations fit in "
            f"{study_limit} tokens (the study's limit); "
            + (f"{within_own:.1%} fit in {encoder_limit} tokens, the limit of {encoder_label} used here, so "
               f"{1 - within_own:.1%} lose the end of their abstract." if encoder_limit < study_limit else
               f"{encoder_label} reads as far as the study's encoder."),
            f"**Study vs here.** The study reports the same counts (Table of datasets); {agree} review here agrees "
            f"with them. The {len(missing)} missing reviews have only labels or PubMed ids here; with internet, "
            "`--fetch` builds them."]))


# ---------------------------------------------------------------- 02

def base_space(stats: dict, *, present: list[str], absent: list[str], encoder_name: str, pooling: str) -> Writeup:
    """Reviews apart, classes mixed? The neighbour statistics of the base map (``figures.base_map``)."""
    by_class = pd.Series(stats["by_class"])
    chance_class = pd.Series(stats["chance_class"])
    lift_review = stats["by_review"] - stats["chance_review"]
    lift_class = float((by_class - chance_class).mean())
    return Writeup(
        f"Base embeddings group citations by review (10-NN same-review share {stats['by_review']:.2f}, chance "
        f"{stats['chance_review']:.2f}) {'more' if lift_review > lift_class else 'less'} clearly than by class within "
        f"a review (mean {by_class.mean():.2f} vs chance {chance_class.mean():.2f}).",
        _bullets([
            f"{stats['by_review']:.0%} of a citation's 10 nearest neighbours come from its own review (random "
            f"neighbours: {stats['chance_review']:.0%})"
            + (": the base encoder already tells the topics apart." if lift_review > 0.1 else
               ": the base encoder barely tells these topics apart."),
            f"Within a review the same-class share is {by_class.mean():.0%} on average (from {by_class.min():.0%} in "
            f"{by_class.idxmin()} to {by_class.max():.0%} in {by_class.idxmax()}), against {chance_class.mean():.0%} for "
            "random neighbours"
            + (". Telling *included* from *excluded* is the harder, review-specific task that phase 1 has to learn "
               "from 16 examples (notebook 03)." if lift_class < lift_review else "."),
            f"**Study vs here.** The study's figure shows five reviews with SPECTER's [CLS] vectors; here "
            f"{len(present)} reviews with {encoder_name}'s {pooling}-pooled vectors ({', '.join(absent) or 'none'} "
            "have no text here), so clusters are comparable in kind, not point by point."]))


# ---------------------------------------------------------------- 03

def before_after(rows: pd.DataFrame, blocks: pd.DataFrame, *, review: str, encoder: dict) -> Writeup:
    """Phase 1 on one review: geometry, work saved over seeds, spread, and the study's values."""
    from ..compute.stats import paired

    wide = rows.pivot_table(index="seed", columns="variant", values="awss")
    test = paired(wide["lora"], wide["base"])
    base_m, lora_m = wide["base"].mean(), wide["lora"].mean()
    sep_base, sep_lora = (blocks.loc[t, "included-included"] - blocks.loc[t, "included-excluded"] for t in blocks.index)
    floor = 2 / 2 ** test["n_pairs"]
    lines = [
        f"**Geometry.** Phase 1 {'moves included citations together and away from excluded ones' if sep_lora > sep_base else 'does not pull the classes further apart'}: "
        f"the gap between the included–included and included–excluded mean cosine goes from {sep_base:.2f} (Base) to "
        f"{sep_lora:.2f} (LoRA).",
        f"**Work saved.** Mean AWSS@95 is {base_m:.3f} for Base and {lora_m:.3f} after phase 1 (median paired "
        f"difference {test['median_diff']:+.3f}; LoRA better on {test['wins']} of {test['n_pairs']} seeds; Wilcoxon "
        f"p = {test['p_wilcoxon']:.2f} — with {test['n_pairs']} seeds no p-value can fall below {floor:.3f}). "
        "Separation in the picture does not guarantee a better ranking at 95 % recall: the last few included "
        "citations decide AWSS.",
        f"**Spread.** One seed to the next moves AWSS@95 by up to {(wide.max() - wide.min()).max():.2f}: a single "
        "draw of 8 + 8, as the study ran, can land anywhere in that range."]
    if "setfit" in wide:
        lines.append(f"**Peer.** The `setfit` library (full fine-tuning) reaches {wide['setfit'].mean():.3f} on the "
                     f"same splits: {'above' if wide['setfit'].mean() > lora_m else 'below'} the study's LoRA recipe.")
    vs = pd.DataFrame({"study (SPECTER, one draw)": [study.NSAIDS_BASE, study.NSAIDS_LORA],
                       f"here ({encoder['name']}, mean of {len(wide)} seeds)": [base_m, lora_m],
                       "here: min–max over seeds": [_range(wide["base"]), _range(wide["lora"])]},
                      index=["Base", "LoRA"])
    return _study_vs_here(
        f"On {review}, phase 1 {_moves(lora_m, base_m)} AWSS@95 on average: Base {base_m:.3f} → "
        f"LoRA {lora_m:.3f} over {len(wide)} seeds (LoRA better on {test['wins']} of {test['n_pairs']})"
        + (", although it pulls the classes apart in embedding space." if sep_lora > sep_base else "."),
        lines, vs, caption=f"AWSS@95 on {review}: study vs here",
        why=(f"the encoder ({encoder['name']}, {encoder['pooling']} pooling, {encoder['max_length']} "
             f"tokens, vs SPECTER's [CLS] at 512), and the study's value being one draw of 8 + 8 where ours is a "
             f"mean over seeds whose spread is shown above. The study saw phase 1 lower AWSS@95 on nsaids "
             f"({study.NSAIDS_BASE} → {study.NSAIDS_LORA}); on {review} here it "
             f"{'also lowers' if lora_m < base_m else _moves(lora_m, base_m)} it on average."))


# ---------------------------------------------------------------- 04

def latency(latency_table: pd.DataFrame, training: pd.DataFrame, memory: pd.DataFrame, *, standin: str,
            shape_note: str, machine: str, threads: int, train_steps: int) -> Writeup:
    """Speed-ups of each precision on this machine, the extrapolated phase-1 time, and memory,
    beside the study's Tables 4 and 5."""
    def lat(device: str, precision: str) -> float:
        d = latency_table[(latency_table.encoder == standin) & (latency_table.device == device)
                          & (latency_table.precision == precision)]
        return float(d.median_s.iloc[0]) if len(d) else float("nan")

    tr = training.set_index(["encoder", "precision"])["extrapolated_study_minutes"]
    m = memory[memory.encoder == standin].set_index(["part", "bits"])
    int8_gain = lat("cpu", "FP32") / lat("cpu", "INT8 (dynamic)")
    fp16_gain = lat("cpu", "FP32") / lat("cpu", "FP16")
    bf16_ratio = tr[(standin, "FP32")] / tr[(standin, "BF16 autocast")]
    scaled = latency_table[latency_table.measured_batch < latency_table.batch]
    scaled_train = training[training.measured_pairs < training.pairs]
    gpu = bool((latency_table.device == "cuda").any())
    arch = standin.split(" config")[0]
    lora_parameters = int(m.loc[("LoRA", 32), "parameters"])
    minutes = tr[(standin, "FP32")]
    speedups = {p: lat("cpu", "FP32") / lat("cpu", p) for p in ("BF16", "FP16", "INT8 (dynamic)",
                                                               "4-bit (quanto, weight-only)")}
    slower = [p for p, v in speedups.items() if v < 1]
    lines = [
        f"**Inference on CPU** ({shape_note}), against FP32: "
        + ", ".join(f"{p} {v:.2f}×" for p, v in speedups.items())
        + (f". Below 1 is slower: this CPU has no fast kernels for {', '.join(slower)}." if slower else "."),
        f"**Training**: BF16 autocast runs {bf16_ratio:.2f}× as fast as FP32 here (the study's 3.3× is a GPU result)."]
    if len(scaled) or len(scaled_train):
        cells = [f"{e} {p} inference" for e, p in zip(scaled.encoder, scaled.precision)] + \
                [f"{e} {p} training" for e, p in zip(scaled_train.encoder, scaled_train.precision)]
        lines.append(f"**Scaled cells** ({len(cells)}): {', '.join(cells)} would have taken longer than the time "
                     "budget per cell at the full shape, so a smaller batch was timed and scaled linearly (the "
                     "tables' measured_batch and measured_pairs say which).")
    lines.append(
        f"**Memory**: the naive parameters × bits of the {arch} configuration is "
        f"{m.loc[('encoder', 32), 'all_params_at_bits_MiB']:.0f} / {m.loc[('encoder', 4), 'all_params_at_bits_MiB']:.0f} "
        f"MiB at 32 / 4 bits; what the quantizers really store is {m.loc[('encoder', 4), 'computed_MiB']:.0f} MiB at 4 "
        f"bits (embeddings, norms and biases stay in float). LoRA is {m.loc[('LoRA', 32), 'parameters']:,.0f} "
        f"parameters, {m.loc[('LoRA', 32), 'computed_MiB'] * 1024:.0f} KiB in FP32.")
    vs = pd.DataFrame([
        ("inference CPU, FP32 (s)", study.LATENCY[("inference CPU", "FP32")], lat("cpu", "FP32")),
        ("inference CPU, FP16 (s)", study.LATENCY[("inference CPU", "FP16")], lat("cpu", "FP16")),
        ("inference CPU, INT8 (s)", study.LATENCY[("inference CPU", "INT8")], lat("cpu", "INT8 (dynamic)")),
        ("inference GPU, FP32 (s)", study.LATENCY[("inference GPU", "FP32")], lat("cuda", "FP32")),
        ("inference GPU, FP16 (s)", study.LATENCY[("inference GPU", "FP16")], lat("cuda", "FP16")),
        ("training FP32 (s, extrapolated here)", study.LATENCY[("training", "FP32")], tr[(standin, "FP32")] * 60),
        ("training BF16 (s, extrapolated here)", study.LATENCY[("training", "BF16")], tr[(standin, "BF16 autocast")] * 60),
        ("encoder, 32 bits (MB; here MiB, params × bits)", study.MEMORY_ENCODER_MB[32],
         m.loc[("encoder", 32), "all_params_at_bits_MiB"]),
        ("encoder, 4 bits (MB; here MiB, params × bits)", study.MEMORY_ENCODER_MB[4],
         m.loc[("encoder", 4), "all_params_at_bits_MiB"]),
        ("LoRA parameters", study.LORA_PARAMETERS, m.loc[("LoRA", 32), "parameters"]),
    ], columns=["quantity", "study (Table 4/5)", f"here ({arch} configuration)"])
    phase1_here = f"{minutes:.0f} min" if minutes >= 1 else f"{minutes * 60:.0f} s"
    headline = (f"On this CPU, {arch}-size inference runs {speedups['BF16']:.2f}× as fast as FP32 in BF16, "
                f"{int8_gain:.2f}× in INT8 and {fp16_gain:.2f}× in FP16; BF16 training {bf16_ratio:.2f}× (the study's "
                f"GPU: 3.3×) — phase 1 at the study's setting would take about {phase1_here} here.")
    return _study_vs_here(headline, lines, vs, hide_index=True, decimals=2,
        why=(f"hardware above all — the study timed on its Table 2 machine (GPU and CPU), here "
             f"{machine} with {threads} threads{' and a GPU' if gpu else ' and no GPU (GPU rows: –)'}; training "
             f"here is extrapolated from {_count(train_steps, 'measured step')}. Memory agrees by construction (same "
             f"configuration, parameters × bits); the LoRA count "
             + ("matches the study's exactly." if lora_parameters == study.LORA_PARAMETERS else
                f"({lora_parameters:,}) differs from the study's {study.LORA_PARAMETERS:,} because the configuration "
                "does.")))


# ---------------------------------------------------------------- 05

def awss_per_review(rows: pd.DataFrame, means: pd.DataFrame, tests: pd.DataFrame, norm_tests: pd.DataFrame, *,
                    reviews: list[str], missing: list[str], flagged: set[str], seeds, encoder: dict,
                    few: int) -> Writeup:
    """Phase 1 per review, compression, normalisation and the hard reviews; the study's values."""
    m = rows.groupby(["review", "variant"])["awss"].mean().unstack()
    lora_vs_base = comparison(tests, "lora − base")
    mean_of = dict(zip(means["variant"], means["mean"]))
    better = int((m["lora"] > m["base"]).sum())
    compressed = [c for c in ("lora", "lora+int4", "lora+wanda50") if c in m]
    below = int((m[compressed].min(axis=1) < m["base"]).sum())
    gain = (m["lora"] - m["base"]).sort_values()
    n = len(reviews)
    hard = int((m["base"] < 0.2).sum())
    ends = (f"It does best against Base on {gain.index[-1]} ({gain.iloc[-1]:+.3f}) and worst on {gain.index[0]} "
            f"({gain.iloc[0]:+.3f})." if n > 1 else f"On {gain.index[0]} the difference is {gain.iloc[0]:+.3f}.")
    norm = {r.variant: r for r in norm_tests.itertuples(index=False)}
    lines = [
        f"**Phase 1 per review.** Averaged over seeds, LoRA is ahead of Base on {better} of {n} reviews. {ends} Over "
        f"all (review, seed) pairs the median difference is {lora_vs_base.median_diff:+.3f} (LoRA ahead in "
        f"{lora_vs_base.wins} of {lora_vs_base.n_pairs}).",
        f"**Compression.** 4-bit weights change the mean by {mean_of['lora+int4'] - mean_of['lora']:+.3f} and Wanda "
        f"50 % pruning by {mean_of['lora+wanda50'] - mean_of['lora']:+.3f} relative to LoRA (paired: p = "
        f"{comparison(tests, 'lora − lora+int4').p_wilcoxon:.2g} and "
        f"{comparison(tests, 'lora − lora+wanda50').p_wilcoxon:.2g}).",
        f"**Normalisation.** L2-normalising before the logistic regression changes Base by a median "
        f"{norm['Base'].median_diff:+.3f} and LoRA by {norm['LoRA (study)'].median_diff:+.3f} per (review, seed) "
        f"(Wilcoxon p = {norm['Base'].p_wilcoxon:.2g} and {norm['LoRA (study)'].p_wilcoxon:.2g}); the rest of the "
        f"report uses the model's own pipeline (normalize={encoder['normalize']}).",
        f"**Hard reviews stay hard.** {_count(hard, 'review')} {'has' if hard == 1 else 'have'} a Base AWSS@95 below "
        "0.2; " + (f"{', '.join(sorted(flagged))} {'keeps' if len(flagged) == 1 else 'keep'} fewer than {few} included "
                   "citations for evaluation (†), so their values rest on very few documents." if flagged
                   else "no review is flagged †.")]
    est = m.loc["estrogens"] if "estrogens" in m.index else None
    vs = pd.DataFrame([
        ("estrogens: Base", study.ESTROGENS_BASE, est["base"] if est is not None else float("nan")),
        ("estrogens: LoRA", study.ESTROGENS_LORA, est["lora"] if est is not None else float("nan")),
        ("reviews where a variant falls below Base", f"{study.REVIEWS_WITH_A_VARIANT_BELOW_BASE} of 20", f"{below} of {n}"),
    ], columns=["quantity", "study (SPECTER, one draw)", f"here ({encoder['name']}, mean over seeds)"])
    return _study_vs_here(
        f"Over {_count(n, 'review')} × {len(seeds)} seeds, LoRA's mean AWSS@95 is {mean_of['lora']:.3f} against Base "
        f"{mean_of['base']:.3f}: it is ahead on {better} of {n} (median paired difference "
        f"{lora_vs_base.median_diff:+.3f}, Wilcoxon p = {lora_vs_base.p_wilcoxon:.2g}); LoRA + 4-bit gives "
        f"{mean_of['lora+int4']:.3f}, LoRA + Wanda 50 % {mean_of['lora+wanda50']:.3f}.",
        lines, vs, hide_index=True,
        why=(f"the encoder ({encoder['name']} instead of SPECTER), {n} of the 20 reviews in this run "
             f"({len(missing)} named ones lack text here; `reviews` can narrow the run further), so the count is out "
             f"of {n}, not 20, and one draw in the study against a mean over {len(seeds)} seeds here — the "
             "seed-to-seed sd in the table above is often as large as the differences."))


def distillation(compared: pd.DataFrame, tests: pd.DataFrame, *, student: str, teacher: str = "lora",
                 distill_args, estimated: bool) -> Writeup:
    """Does a distilled student keep its teacher's work saved at a fraction of the compute?
    ``compared``: ``cost.compression_table`` with ``reference=teacher``; ``tests``: ``student``
    paired against the others."""
    c = compared.set_index("variant")
    s, t = c.loc[student], c.loc[teacher]
    vs = {other: comparison(tests, f"{student} − {other}") for other in c.index if other != student}
    said = {other: f"{verdict(r)} {method_label(other)} (median paired difference {r.median_diff:+.3f}, ahead in "
                   f"{r.wins} of {r.n_pairs}, Wilcoxon p = {r.p_wilcoxon:.2g})" for other, r in vs.items()}
    plain = {"does not differ clearly from": "Not shown to differ", "beats": "Yes",
             "loses to": "No"}[verdict(vs[teacher])]
    fraction = (f"{s[f'FLOPs vs {teacher}']:.2f} of the FLOPs per citation, {s[f'time vs {teacher}']:.2f} of the time "
                f"and {s[f'memory vs {teacher}']:.2f} of the memory")
    kept = f" ({s['AWSS@95'] / t['AWSS@95']:.0%} of it)" if t["AWSS@95"] > 0 else ""
    # distilled on the review it screens, a student costs more than its teacher per review; its cheaper
    # forwards pay that back only on citations screened beyond those
    extra = s["training GFLOPs"] - t["training GFLOPs"]
    saved = t["GFLOPs per citation"] - s["GFLOPs per citation"]
    payback = (f"Distilled on the review it screens, the student costs more than its teacher per review ({extra:,.0f} "
               f"GFLOPs more training); its cheaper forwards repay that only after about {extra / saved:,.0f} further "
               "citations — an update of the review, or a living review." if extra > 0 and saved > 0 else "")
    headline = (f"{plain}: the {method_label(student)} reaches a mean AWSS@95 of {s['AWSS@95']:.3f} against its "
                f"teacher's {t['AWSS@95']:.3f}{kept} — it {said[teacher]} — with {fraction}. {payback}").strip()
    energy = "estimated" if estimated else "measured"
    lines = [
        f"**Against the teacher** ({method_label(teacher)}): the student {said[teacher]}.",
        *(f"**Against {method_label(other)}**: it {said[other]}." for other in vs if other != teacher),
        f"**Compute**: {s['GFLOPs per citation']:.3g} GFLOPs per citation against {t['GFLOPs per citation']:.3g} "
        f"(counted, any machine); {s['ms per citation']:.1f} ms against {t['ms per citation']:.1f} ms per citation and "
        f"{s['weights, MiB']:.1f} against {t['weights, MiB']:.1f} MiB of weights (this machine: the embedding table "
        f"stays whole, so memory shrinks less than the layers); {energy} energy per review and seed "
        f"{s['energy per review, Wh']:.2f} Wh against {t['energy per review, Wh']:.2f} Wh, the student's including "
        f"its training ({s['training GFLOPs']:,.0f} GFLOPs: phase 1, the teacher's pass over the review and "
        f"{distill_args.steps} distillation steps of {distill_args.pairs} pairs).",
    ]
    return Writeup(headline, _bullets(lines))


# ---------------------------------------------------------------- 06

def hybrid(summary: pd.DataFrame, tests: pd.DataFrame, blocks: pd.DataFrame, *, top: list[str], names: list[str],
           cosine_review: str, encoder: dict, seeds) -> Writeup:
    """How much of the own LoRAs' gain one composed adapter keeps, which composition, geometry."""
    means = summary.pivot(index="review", columns="variant", values="mean").loc[top]
    mean_over = means.mean()
    best_comp = mean_over[names].idxmax()
    vs_lora, vs_base = comparison(tests, "hybrid-sqrt − lora"), comparison(tests, "hybrid-sqrt − base")
    hyb, base, lora = mean_over["hybrid-sqrt"], mean_over["base"], mean_over["lora"]
    low, high = sorted([base, lora])
    where = ("between" if low <= hyb <= high else "above" if hyb > high else "below") + \
        (f"{'' if low <= hyb <= high else ' both'} Base ({base:.3f}) and the reviews' own LoRAs ({lora:.3f})")
    if lora <= base:
        kept = " (the own LoRAs are on average not above Base here, so there is no gain to keep)."
    elif hyb >= base:
        kept = f"; it keeps {(hyb - base) / (lora - base):.0%} of their mean gain over Base."
    else:
        kept = (f"; instead of keeping part of their mean gain over Base ({lora - base:+.3f}), it loses "
                f"{base - hyb:.3f} against Base.")
    sd = summary[summary.variant.isin(names)]["std"].median()
    spread = mean_over[names].max() - mean_over[names].min()
    own, hyb_block = blocks.loc["Fine-tuned (own LoRA)"], blocks.loc["Hybrid"]
    tighter = hyb_block["included-included"] >= own["included-included"]
    lines = [
        f"**Hybrid vs own LoRA**: median paired difference {vs_lora.median_diff:+.3f} over {vs_lora.n_pairs} (review, "
        f"seed) pairs (hybrid ahead in {vs_lora.wins}; Wilcoxon p = {vs_lora.p_wilcoxon:.2g}); the hybrid "
        f"{verdict(vs_lora)} the own LoRA. **Hybrid vs Base**: {vs_base.median_diff:+.3f} (ahead in {vs_base.wins} of "
        f"{vs_base.n_pairs}; p = {vs_base.p_wilcoxon:.2g}); it {verdict(vs_base)} Base.",
        f"**Which composition**: the best mean is {method_label(best_comp)} ({mean_over[best_comp]:.3f}); the spread of "
        f"the {len(names)} means ({mean_over[names].min():.3f}–{mean_over[names].max():.3f}) is "
        f"{'smaller' if spread < sd else 'not smaller'} than the median seed-to-seed sd ({sd:.3f}), so no ranking among "
        "them is claimed unless the paired tests above say so.",
        f"**√S vs S in both**: √S (the exact rank-r approximation) scores "
        f"{mean_over['hybrid-sqrt'] - mean_over['hybrid-both']:+.3f} against the study's wording.",
        f"**Geometry** ({cosine_review}): the hybrid keeps included citations together "
        f"{'at least as' if tighter else 'less'} tightly {'as' if tighter else 'than'} the review's own LoRA "
        f"(included–included {hyb_block['included-included']:.2f} vs {own['included-included']:.2f}; across classes "
        f"{hyb_block['included-excluded']:.2f} vs {own['included-excluded']:.2f})."]
    vs = study.HYBRID.set_index("review").join(means[["hybrid-sqrt", "lora", "base"]].add_suffix(" here"), how="left")
    vs["in the top 5 here"] = [r in top for r in vs.index]
    common = [r for r in study.HYBRID.review if r in top]
    return _study_vs_here(
        f"One hybrid adapter for the top {len(top)} reviews scores {hyb:.3f} on average, {where}{kept}",
        lines, vs, caption="Table 6, study vs here (– : not among the top 5 here, or no text here)",
        why=(f"the study's top 5 (ADHD, BPA, Fluoride, PFOS-PFOA, Transgenerational) include three "
             f"reviews without text here; the encoder ({encoder['name']} instead of SPECTER); and one draw in the "
             f"study against {len(seeds)} seeds here. {len(common)} of the study's five "
             f"({', '.join(common) or 'none'}) {'is' if len(common) == 1 else 'are'} in the top 5 here."))


# ---------------------------------------------------------------- 07

def peers(rows: pd.DataFrame, means: pd.DataFrame, tests: pd.DataFrame, cost: pd.DataFrame, *, names: list[str],
          al_name: str, n_reviews: int) -> Writeup:
    """Who saves the most work from 16 labels, LoRA against each peer, active learning, cost."""
    shot_means = means.loc[names, "mean"]
    winner = shot_means.idxmax()
    lines = [f"**One-shot winner: {method_label(winner)}**, mean AWSS@95 {shot_means[winner]:.3f} (95 % CI "
             f"{means.loc[winner, 'ci_low']:.3f}–{means.loc[winner, 'ci_high']:.3f}) over {_count(n_reviews, 'review')}; the "
             f"study's LoRA reaches {shot_means['lora']:.3f} and Base {shot_means['base']:.3f}."]
    for n in (n for n in names if n != "lora"):
        r = comparison(tests, f"lora − {n}")
        lines.append(f"LoRA **{verdict(r)}** {method_label(n)}: median paired difference {r.median_diff:+.3f}, LoRA "
                     f"ahead in {r.wins} of {r.n_pairs} (review, seed) pairs, Wilcoxon p = {r.p_wilcoxon:.2g}.")
    r = comparison(tests, f"lora − {al_name}")
    al = rows[rows.variant == al_name]
    lines.append(f"**Active learning** (another regime: it labels every record it shows) reaches "
                 f"{means.loc[al_name, 'mean']:.3f}; LoRA's one-shot ranking is behind it by a median "
                 f"{-r.median_diff:.3f} per (review, seed). With {al['labels_used'].mean():,.0f} labels on average it "
                 "finds 95 % of the included records, where the one-shot methods use 16.")
    lines.append(f"**Cost**: TF-IDF + LR takes {cost.loc['tfidf+lr', 'seconds']:.1f} s per review and seed, ASReview "
                 f"one-shot {cost.loc['asreview-oneshot', 'seconds']:.1f} s, LoRA {cost.loc['lora', 'seconds']:.0f} s"
                 + (f", setfit {cost.loc['setfit', 'seconds']:.0f} s" if "setfit" in cost.index else "") + ".")
    return Writeup(
        f"On the same splits, {method_label(winner)} saves the most work from 16 labels (mean AWSS@95 "
        f"{shot_means[winner]:.3f}); the study's LoRA reaches {shot_means['lora']:.3f}"
        + (f", {shot_means[winner] - shot_means['lora']:.3f} less." if winner != "lora" else "."),
        _bullets(lines))


# ---------------------------------------------------------------- 08

def beyond(ranking: pd.DataFrame, dev_rows: pd.DataFrame, means: pd.DataFrame, tests: pd.DataFrame,
           al_means: pd.DataFrame, al_test: pd.DataFrame, *, chosen: str, chosen_al: str, peers: list[str],
           al_peer: str, n_held_out: int, seeds, cap_note: str, study_layers: str) -> Writeup:
    """The chosen recipes, how they fare on the held-out reviews, and whether they beat the peers."""
    dev = ranking.set_index("variant")["mean"]
    beaten = [p for p in ("tfidf+lr", "asreview-oneshot") if verdict(comparison(tests, f"{chosen} − {p}")) == "beats"]
    al_row = comparison(al_test, f"{chosen_al} − {al_peer}")
    lines = [f"**Chosen on development reviews:** {method_label(chosen)} (dev mean {dev[chosen]:.3f}; the study's LoRA "
             f"{dev['lora']:.3f}, ASReview one-shot {dev['asreview-oneshot']:.3f})."]
    cka_layers = (dev_rows.loc[dev_rows["variant"] == "lora-cka3", "layers"].dropna().astype(str)
                  if "layers" in dev_rows else pd.Series(dtype=str))
    if len(cka_layers):
        picked, count = cka_layers.value_counts().index[0], int(cka_layers.value_counts().iloc[0])
        lines.append(f"**CKA layer choice:** the short run's CKA picked layers {picked} in {count} of {len(cka_layers)} "
                     "development trials" + (
                         f" — the study's own last {len(study_layers.split())}, so there `lora-cka3` is the study's "
                         "LoRA (a layer's output carries every change below it, which favours the top layers)."
                         if picked == study_layers else f" (the study adapts layers {study_layers})."))
    others = [n for n in peers if n != chosen]
    lines.append(f"**Held-out** ({_count(n_held_out, 'review')} × {len(seeds)} seeds, {cap_note}): {method_label(chosen)} "
                 f"{means.loc[chosen, 'mean']:.3f} (95 % CI {means.loc[chosen, 'ci_low']:.3f}–"
                 f"{means.loc[chosen, 'ci_high']:.3f}); "
                 + "; ".join(f"{method_label(p)} {means.loc[p, 'mean']:.3f}" for p in others) + ".")
    for p in others:
        r = comparison(tests, f"{chosen} − {p}")
        lines.append(f"  - it **{verdict(r)}** {method_label(p)}: median paired difference {r.median_diff:+.3f}, "
                     f"ahead in {r.wins} of {r.n_pairs}, Wilcoxon p = {r.p_wilcoxon:.2g}.")
    lines.append(f"**Active learning:** {method_label(chosen_al)} reaches {al_means.loc[chosen_al, 'mean']:.3f} against "
                 f"ASReview's own {al_means.loc[al_peer, 'mean']:.3f} (median paired difference "
                 f"{al_row.median_diff:+.3f}, p = {al_row.p_wilcoxon:.2g}): it {verdict(al_row)} it.")
    outcome = ("beats both one-shot peers" if len(beaten) == 2 else
               f"beats {', '.join(method_label(b) for b in beaten)} but not every one-shot peer" if beaten else
               "does not beat the one-shot peers")
    return Writeup(
        f"Chosen on development reviews and tested once on {_count(n_held_out, 'held-out review')}, {method_label(chosen)} "
        f"{outcome} (held-out mean AWSS@95 {means.loc[chosen, 'mean']:.3f} vs ASReview one-shot "
        f"{means.loc['asreview-oneshot', 'mean']:.3f}, TF-IDF + LR {means.loc['tfidf+lr', 'mean']:.3f}); in active "
        f"learning the project's encoder {'beats' if verdict(al_row) == 'beats' else 'does not beat'} ASReview's default.",
        "\n".join(line if line.startswith("  ") else f"- {line}" for line in lines))


# ---------------------------------------------------------------- 10

def when_to_stop(summary: pd.DataFrame, evaluated: pd.DataFrame, *, recall_target: float, confidence: float,
                 n_reviews: int, seeds) -> Writeup:
    """What each of the usual rules gives in practice against the oracle, counted on the records
    after the training records, and whether the statistical rule keeps its promise."""
    from scipy.stats import binomtest

    from ..compute.stopping import oracle_name

    oracle_rule = oracle_name(recall_target)
    pooled = evaluated.groupby("rule", sort=False).agg(recall=("recall", "mean"), work_saved=("work_saved", "mean"),
                                                      below=("below_target", "sum"), runs=("below_target", "size"),
                                                      stopped=("stopped", "sum"))
    real = pooled.drop(index=oracle_rule)
    stat_rule = next(r for r in real.index if r.startswith("statistical"))
    stat = real.loc[stat_rule]
    ci = binomtest(int(stat.below), int(stat.runs)).proportion_ci(confidence_level=0.95, method="exact")
    lines = [
        f"**The oracle** a WSS@95-style metric assumes stops where {recall_target:.0%} of the included records are "
        f"found: it saves {pooled.loc[oracle_rule, 'work_saved']:.1%} of the reading (1 − read/N; Cohen's WSS@95 "
        f"subtracts a further {1 - recall_target:.2f}) on average over {int(pooled.loc[oracle_rule, 'runs'])} runs; "
        "no reviewer knows where that point is."]
    for rule, r in real.iterrows():
        lines.append(f"**{rule}**: stops in {int(r.stopped)} of {int(r.runs)} runs, reaches {r.recall:.1%} recall on "
                     f"average and saves {r.work_saved:.1%} of the reading; recall falls below {recall_target:.0%} in "
                     f"{int(r.below)} of {int(r.runs)} runs ({r.below / r.runs:.0%}).")
    keeps = ci.high <= 1 - confidence or stat.below / stat.runs <= 1 - confidence
    lines.append(f"**The statistical rule's promise** (recall ≥ {recall_target:.0%} with {confidence:.0%} confidence): it "
                 f"missed the target in {int(stat.below)} of {int(stat.runs)} runs, {stat.below / stat.runs:.1%} (95 % CI "
                 f"{ci.low:.1%}–{ci.high:.1%}) against the {1 - confidence:.0%} it allows: "
                 + ("it keeps it." if keeps else "it does not keep it on these reviews."))
    by_method = summary[summary.rule == stat_rule].set_index("variant")["work_saved"]
    lines.append(f"**Methods**: under the statistical rule, {method_label(by_method.idxmax())} saves the most reading "
                 f"({by_method.max():.1%}) and {method_label(by_method.idxmin())} the least ({by_method.min():.1%}).")
    return Writeup(
        None,
        f"Over {_count(n_reviews, 'review')} × {len(seeds)} seeds, counted on the records after the training records "
        f"(the pool AWSS@95 is computed on), the statistical stopping rule saves {stat.work_saved:.1%} of the reading "
        f"where the oracle would save {pooled.loc[oracle_rule, 'work_saved']:.1%}, and misses {recall_target:.0%} recall "
        f"in {stat.below / stat.runs:.1%} of runs (allowed: {1 - confidence:.0%}); the heuristics save more and miss "
        "far more often.\n\n" + _bullets(lines))


def safe_stop(dev: pd.DataFrame, held: pd.DataFrame, held_by_method: pd.DataFrame, *, chosen: str | None,
              recommended: str, statistical: str, recall_target: float, confidence: float, dev_reviews, held_out,
              seeds, goal: float = 0.05, literature: pd.DataFrame | None = None) -> Writeup:
    """The rule chosen on the development reviews, reported once on the held-out ones: its misses
    against the goal, its work saved against the statistical rule's on the same orders and the
    oracle's, and which rule a reviewer should follow (``recommended``: the choice where the
    held-out reviews confirm it, else the fair urn)."""
    from ..compute.stopping import oracle_name

    h = held.set_index("rule")
    oracle = h.loc[oracle_name(recall_target)]
    stat = h.loc[statistical]
    if chosen is None:
        return Writeup(
            f"No stopping rule's share of development runs below {recall_target:.0%} recall stayed under {goal:.0%} up to "
            f"the upper end of its exact 95 % interval ({_count(len(dev_reviews), 'development review')}); nothing is "
            "recommended from this run.",
            "The selection needs enough development runs to bound a rule's misses under the goal; this run has too "
            "few (smoke mode) or every rule missed too often.")
    c, d = h.loc[chosen], dev.set_index("rule").loc[chosen]
    ratio = c.work_saved / stat.work_saved
    by_method = held_by_method.set_index(["variant", "rule"])
    al = "asreview-al" if ("asreview-al", chosen) in by_method.index else None
    met_misses = c.below_share <= goal and c.below_ci_high <= 2 * goal
    met_savings = ratio >= 2 and (al is None or by_method.loc[(al, chosen), "work_saved"]
                                  >= 2 * by_method.loc[(al, statistical), "work_saved"])
    verdict_text = ("meets both goals" if met_misses and met_savings else
                    "keeps recall as the goal asks but does not save twice the statistical rule's reading" if met_misses else
                    "saves twice the statistical rule's reading but misses the target more often than the goal allows"
                    if met_savings else "meets neither goal")
    lines = [
        f"**Chosen on {_count(len(dev_reviews), 'development review')}** ({', '.join(dev_reviews)}; every method × seed): "
        f"**{chosen}**, the rule that saved the most reading ({d.work_saved:.1%}) among those promising "
        f"{recall_target:.0%} recall with {confidence:.0%} confidence from the labels alone whose share of runs below "
        f"the target stayed under {goal:.0%} up to the upper end of its exact 95 % interval ({int(d.below_target)} "
        f"of {int(d.runs)} runs).",
        f"**On the {_count(len(held_out), 'held-out review')}** × {len(seeds)} seeds, pooled over the ranking methods "
        f"({int(c.runs)} runs): recall fell below {recall_target:.0%} in {int(c.below_target)} runs, {c.below_share:.1%} "
        f"(95 % CI {c.below_ci_low:.1%}–{c.below_ci_high:.1%}; goal ≤ {goal:.0%} with the interval's upper end ≤ "
        f"{2 * goal:.0%}); it saved {c.work_saved:.1%} of the reading ({c.work_saved_ci_low:.1%}–"
        f"{c.work_saved_ci_high:.1%} over reviews), {ratio:.2f} times the statistical rule's {stat.work_saved:.1%} on the "
        f"same orders, and {c.short_of_oracle:.1%} less than the oracle's {oracle.work_saved:.1%}: it {verdict_text}.",
    ]
    if al:
        lines.append(f"**ASReview's active learning** (held-out): {by_method.loc[(al, chosen), 'work_saved']:.1%} saved "
                     f"with {chosen.split(' (')[0]} against {by_method.loc[(al, statistical), 'work_saved']:.1%} with the "
                     f"statistical rule (oracle {by_method.loc[(al, oracle_name(recall_target)), 'work_saved']:.1%}); "
                     f"below target in {int(by_method.loc[(al, chosen), 'below_target'])} of "
                     f"{int(by_method.loc[(al, chosen), 'runs'])} runs.")
    worst = held_by_method[held_by_method.rule == chosen].sort_values("below_share").iloc[-1]
    lines.append(f"**Where it is weakest**: {method_label(worst.variant)}'s ranking, below target in "
                 f"{int(worst.below_target)} of {int(worst.runs)} runs — the urn's bias assumes a ranking that puts "
                 "included records first, and a weak ranking breaks that assumption.")
    safer = held[(held.below_ci_high <= 2 * goal) & (held.below_share <= goal) & (held.family != "oracle")]
    if len(safer):
        best = safer.sort_values("work_saved").iloc[-1]
        lines.append(f"**The held-out frontier** (for the record, not for choosing): of every rule and setting, "
                     f"{best.rule} saved the most ({best.work_saved:.1%}) within the goal's misses on these reviews.")
    r = h.loc[recommended]
    if recommended == chosen:
        advice = (f"**Follow {chosen}**: the held-out reviews confirm it, and slr-screen, `helpers.compute.stopping.recommended` "
                  "and the ASReview stopper `slr-stop` apply it.")
    else:
        advice = (f"**Follow the statistical rule** ({recommended}): the held-out reviews vetoed the choice, which "
                  f"missed the target in {c.below_share:.1%} of runs; the fair urn missed in {r.below_share:.1%} "
                  f"({int(r.below_target)} of {int(r.runs)}; 95 % CI up to {r.below_ci_high:.1%}) and saved "
                  f"{r.work_saved:.1%}. slr-screen, `helpers.compute.stopping.recommended` and the ASReview stopper "
                  "`slr-stop` apply it. What a reviewer who needs the guarantee can bank is that, not the oracle's "
                  f"{oracle.work_saved:.1%}.")
    lines.append(advice)
    table = held.assign(chosen=lambda t: np.where(t.rule == chosen, "← chosen", np.where(
        t.rule == recommended, "← recommended", "")))
    tables = (("held-out reviews, pooled over the ranking methods: every rule and setting (the chosen one marked)",
               _readable_pooled(table), {"hide_index": True}),)
    if literature is not None:
        tables += (("study vs literature: published stopping results beside this report's on its reviews (all "
                    "reviews here; the literature's own data named)", literature, {"hide_index": True}),)
    if recommended == chosen:
        headline = (f"A reviewer who needs {recall_target:.0%} recall can stop with the {chosen.split(' (')[0]} rule "
                    f"chosen on development reviews: on {_count(len(held_out), 'held-out review')} it saved "
                    f"{c.work_saved:.1%} of the reading ({ratio:.1f}× the statistical rule's {stat.work_saved:.1%}; the "
                    f"oracle: {oracle.work_saved:.1%}) and missed the target in {c.below_share:.1%} of runs — it "
                    f"{verdict_text}.")
    else:
        headline = (f"No rule saves twice the statistical rule's reading while keeping {recall_target:.0%} recall: the "
                    f"{chosen.split(' (')[0]} rule chosen on development reviews saved {c.work_saved:.1%} on "
                    f"{_count(len(held_out), 'held-out review')} ({ratio:.1f}×) but missed the target in "
                    f"{c.below_share:.1%} of runs; a reviewer who needs the guarantee keeps the statistical rule, which "
                    f"saved {r.work_saved:.1%} (the oracle: {oracle.work_saved:.1%}).")
    return Writeup(headline, _bullets(lines), tables)


def _readable_pooled(pooled: pd.DataFrame) -> pd.DataFrame:
    from ..compute.stats import with_ci

    return pd.DataFrame({
        "rule": pooled["rule"], "runs": pooled["runs"],
        "work saved": [with_ci(m, lo, hi, spec=".1%") for m, lo, hi in
                       zip(pooled["work_saved"], pooled["work_saved_ci_low"], pooled["work_saved_ci_high"])],
        "short of the oracle": [f"{g:.1%}" for g in pooled["short_of_oracle"]],
        "recall below target": [f"{k}: {p:.1%} ({lo:.1%}–{hi:.1%})" for k, p, lo, hi in
                                zip(pooled["below_target"], pooled["below_share"], pooled["below_ci_low"],
                                    pooled["below_ci_high"])],
        "": pooled.get("chosen", "")})


def literature_beside(all_pooled: pd.DataFrame) -> pd.DataFrame:
    """The published stopping results (``study.STOPPING_LITERATURE``) with this report's result for
    the same rule on its reviews beside each."""
    here = all_pooled.set_index("rule")
    lit = study.STOPPING_LITERATURE
    rows = []
    for r in lit.itertuples(index=False):
        mine = here.loc[r.here] if r.here in here.index else None
        rows.append({"source": r.source, "rule": r.rule, "their data": r.data, "they: work saved": r.work_saved,
                     "they: recall": r.recall,
                     "here: work saved": "–" if mine is None else f"{mine.work_saved:.1%}",
                     "here: runs below target": "–" if mine is None else f"{mine.below_share:.1%}",
                     "here: rule": r.here})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- 11

def how_many_labels(awss: pd.DataFrame, realised: pd.DataFrame, paired: pd.DataFrame, flops: pd.DataFrame, *,
                    skipped: pd.DataFrame, seeds, study_k: int = 8) -> Writeup:
    """Whether phase 1 starts to pay as labels grow (LoRA against Base and against the best
    one-shot peer at each k), and what a reviewer's extra labels buy (the best method's work saved,
    at the oracle's stop and at the recommended rule's)."""
    from ..analysis.learning import first_win

    ks = sorted(awss["k"].unique())
    m = awss.set_index(["k", "variant"])["mean"]
    r = realised.set_index(["k", "variant"])["mean"]
    base_win, peer_win = first_win(paired, "Base"), first_win(paired, "best one-shot peer")
    peers = [v for v in awss["variant"].unique() if v not in ("asreview-al", "lora", "base")]
    best = {k: max(peers, key=lambda v: m.get((k, v), -np.inf)) for k in ks}
    lo, hi = ks[0], ks[-1]
    n_reviews = awss.groupby("k")["reviews"].min()
    wide = max(k for k in ks if n_reviews[k] >= min(10, n_reviews.max()))  # the largest k most reviews still have
    fixed = best[study_k] if study_k in best else best[lo]  # one method followed along k, not the best at each
    al_leads = "asreview-al" in awss["variant"].values and all(
        m.get((k, "asreview-al"), -np.inf) > max(m.get((k, v), -np.inf) for v in [*peers, "lora", "base"]) for k in ks)
    phase1 = flops.groupby("k")["train_flops"].mean()
    lines = []
    for k in ks:
        at = paired[paired.k == k].set_index("role")
        lines.append(
            f"**k = {k}** ({int(awss[(awss.k == k) & (awss.variant == 'lora')]['reviews'].iloc[0])} reviews): LoRA "
            f"{m[(k, 'lora')]:.3f}, Base {m[(k, 'base')]:.3f}, best one-shot {method_label(best[k])} {m[(k, best[k])]:.3f}"
            + (f", ASReview active learning {m[(k, 'asreview-al')]:.3f}" if (k, "asreview-al") in m.index else "")
            + f"; LoRA {at.loc['Base', 'reading']} Base (median {at.loc['Base', 'median_diff']:+.3f}, p = "
            f"{at.loc['Base', 'p_wilcoxon']:.2g}) and {at.loc['best one-shot peer', 'reading']} "
            f"{method_label(at.loc['best one-shot peer', 'comparison'].split(' − ')[1])} (p = "
            f"{at.loc['best one-shot peer', 'p_wilcoxon']:.2g}).")
    lines.append(f"**Phase 1's price** (counted, mean per review and seed): {phase1[lo]:.3g} FLOPs at k = {lo}, "
                 f"{phase1[hi]:.3g} at k = {hi}. The study's recipe trains on 80 pairs whatever the number of labels; "
                 "what grows is the longest training text, to which every step pads.")
    if len(skipped):
        named = skipped.groupby("k")["review"].apply(lambda x: ", ".join(x))
        lines.append("**Skipped** (fewer included records than k + the 5 kept to evaluate on): "
                     + "; ".join(f"k = {k}: {names}" for k, names in named.items()) + ". Each k's means are over the "
                     "reviews it has, so the curve's far end rests on the reviews rich in included records.")
    answer_study = (f"phase 1 first beats the untuned encoder at k = {base_win}" if base_win else
                    f"phase 1 never clearly beats the untuned encoder, from k = {lo} to {hi}")
    answer_peer = (f"and first beats the best one-shot tool at k = {peer_win}" if peer_win else
                   "and never clearly beats the best one-shot tool")
    reviewer = (f"{method_label(fixed)} (the best one-shot tool at k = {study_k}) goes from a mean AWSS@95 of "
                f"{m[(lo, fixed)]:.3f} at k = {lo} to {m[(study_k, fixed)]:.3f} at k = {study_k} and "
                f"{m[(wide, fixed)]:.3f} at k = {wide} (the largest k that {int(n_reviews[wide])} or more reviews have; "
                f"k = {hi} rests on {int(n_reviews[hi])}); stopping with the recommended rule it saves "
                f"{r.get((lo, fixed), np.nan):.1%}, {r.get((study_k, fixed), np.nan):.1%} and "
                f"{r.get((wide, fixed), np.nan):.1%} of the reading there.")
    lead = (" ASReview's active learning, which goes on learning from every label, has the highest mean AWSS@95 at "
            "every k." if al_leads else "")
    return Writeup(
        f"Over k = {lo}–{hi} labelled citations per class ({len(seeds)} seeds), {answer_study} {answer_peer}.{lead}",
        f"**Is 8 + 8 simply too few?** {answer_study[0].upper() + answer_study[1:]} {answer_peer} (paired Wilcoxon "
        f"over review × seed at each k; a win needs p < 0.05). **How many labels?** {reviewer}\n\n" + _bullets(lines))


# ---------------------------------------------------------------- 09

def cost_of_screening(methods: pd.DataFrame, power: dict, *, counts, timings: dict, country: str,
                      seconds_per_abstract: float, n_reviews: int) -> Writeup:
    """FLOPs, energy and reading saved per method; the study's time ratios beside FLOP ratios."""
    m = methods.set_index("variant")
    estimated = "estimated" in power["embedding"].source
    energy_word = "estimated energy" if estimated else "measured energy"
    per_wh = m["hours_saved_per_wh"].dropna()
    best = per_wh.idxmax()
    lines = [
        f"**Reading saved per Wh** ({energy_word}, {seconds_per_abstract:.0f} s per abstract): {method_label(best)} "
        f"saves the most, {per_wh[best]:,.1f} hours of reading per Wh of compute; "
        + ", ".join(f"{method_label(v)} {per_wh[v]:,.1f}" for v in ("lora", "base", "asreview-al")
                    if v in per_wh.index and v != best) + ".",
        _flop_axis(methods),
        f"**Phase 1's price** (counted): {m.loc['lora', 'train_flops']:.3g} FLOPs per review and seed — the cost of "
        f"embedding about {m.loc['lora', 'train_flops'] / m.loc['base', 'inference_flops_per_citation']:,.0f} citations — "
        f"for a mean AWSS@95 of {m.loc['lora', 'awss']:.3f} against Base's {m.loc['base', 'awss']:.3f}.",
        f"**Compression saves no FLOPs**: 4-bit weights multiply the same products in mixed precision "
        f"({m.loc['lora+int4', 'inference_flops_per_citation']:.3g} vs {m.loc['lora', 'inference_flops_per_citation']:.3g} "
        f"per citation) and Wanda's 50 % zeros are multiplied densely; what they change is bytes and, where kernels "
        "exist, seconds (notebook 04)." + (
            f" **Distillation does**: the 3-layer student of LoRA needs {m.loc['student3-from-lora', 'inference_flops_per_citation']:.3g}"
            f" FLOPs per citation ({m.loc['student3-from-lora', 'inference_flops_per_citation'] / m.loc['lora', 'inference_flops_per_citation']:.2f}"
            f" of LoRA's) for a mean AWSS@95 of {m.loc['student3-from-lora', 'awss']:.3f}, after"
            f" {m.loc['student3-from-lora', 'train_flops']:.3g} FLOPs of training (phase 1, the teacher's pass over the"
            " review and the distillation; notebook 05)." if "student3-from-lora" in m.index else ""),
        f"**Energy per review and seed** ({energy_word}, {country} grid, {power['embedding'].kg_co2_per_kwh * 1000:.0f} g "
        f"CO₂e/kWh): LoRA {m.loc['lora', 'energy_wh']:.2f} Wh ({m.loc['lora', 'co2_g']:.2f} g CO₂e), Base "
        f"{m.loc['base', 'energy_wh']:.2f} Wh, ASReview one-shot {m.loc['asreview-oneshot', 'energy_wh']:.3f} Wh. "
        f"Power per phase: training {power['training'].watts:.1f} W, embedding {power['embedding'].watts:.1f} W, scoring "
        f"{power['scoring'].watts:.1f} W — {power['embedding'].source}; an encoder's phases are charged their counted "
        f"FLOPs at the rate this machine kept while measured ({power['training'].flops_per_second / 1e9:.0f} GFLOP/s "
        f"training, {power['embedding'].flops_per_second / 1e9:.0f} GFLOP/s embedding), so a cached embedding costs "
        "what computing it costs."]
    rows = []
    if "latency" in timings:
        lat = timings["latency"]
        lat = lat[lat.encoder == lat.encoder.iloc[0]].set_index(["device", "precision"])["median_s"]
        for label, study_key, here in (("inference CPU: FP32 / INT8", ("inference CPU", "INT8"), ("cpu", "INT8 (dynamic)")),
                                       ("inference CPU: FP32 / FP16", ("inference CPU", "FP16"), ("cpu", "FP16")),
                                       ("inference GPU: FP32 / FP16", ("inference GPU", "FP16"), ("cuda", "FP16"))):
            fp32 = study.LATENCY[(study_key[0], "FP32")] / study.LATENCY[study_key]
            here_ratio = (lat[(here[0], "FP32")] / lat[here] if here in lat.index else float("nan"))
            rows.append((label, fp32, here_ratio, 1.0))
    if "training_time" in timings:
        tr = timings["training_time"]
        tr = tr[tr.encoder == tr.encoder.iloc[0]].set_index("precision")["seconds_per_step"]
        rows.append(("training: FP32 / BF16", study.LATENCY[("training", "FP32")] / study.LATENCY[("training", "BF16")],
                     tr["FP32"] / tr["BF16 autocast"], 1.0))
    vs = pd.DataFrame(rows, columns=["speed-up", "study (Table 4, time)", "here (time, this machine)",
                                     "FLOP ratio (counted, any machine)"])
    return Writeup(
        f"Per Wh of {energy_word}, {method_label(best)} saves the most reading ({per_wh[best]:,.1f} h of reading per Wh); "
        f"the study's LoRA spends {m.loc['lora', 'train_flops']:.2g} FLOPs on phase 1 per review for "
        f"{m.loc['lora', 'hours_saved']:.1f} h of reading saved; Base, without phase 1, saves {m.loc['base', 'hours_saved']:.1f} h.",
        _bullets(lines), tables=(("study vs here: the study's speed-ups are time ratios on its machine; a lower precision "
                                  "multiplies the same matrices, so its FLOP ratio is 1", vs, {"hide_index": True, "decimals": 2}),),
        after=(f"FLOPs are counted ({_count(n_reviews, 'review')}): an encoder's matrix products; setfit's own batches "
               "replayed at the same per-length costs; TF-IDF's and ASReview's sparse arithmetic from the non-zeros of "
               "what each step reads, every retraining of active learning included. Sparse work's energy is the seconds "
               "it recorded at the scoring power: its FLOPs run far below an encoder's rate. "
               + ("Energy is codecarbon's estimate: this machine exposes no power meter." if estimated else "")))


def _flop_axis(methods: pd.DataFrame) -> str:
    """Every method on the machine-free axis: the cheapest and the dearest per citation screened,
    what the encoder costs against active learning's every retraining, and the Pareto front."""
    from ..analysis.cost import cost_fronts

    m = methods.set_index("variant")
    per_citation = m["flops_per_citation"].dropna()
    cheap, dear = per_citation.idxmin(), per_citation.idxmax()
    front = methods["variant"].to_numpy()[cost_fronts(methods)["flops_per_citation"]]
    al = (f"; Base's forward alone costs {per_citation['base'] / per_citation['asreview-al']:,.0f}× what ASReview's "
          f"active learning spends, every retraining and re-ranking included ({per_citation['asreview-al']:.3g})"
          if {"base", "asreview-al"} <= set(per_citation.index) else "")
    return (f"**Every method on the FLOP axis** (counted, per citation screened, training and inference): from "
            f"{method_label(cheap)}'s {per_citation[cheap]:.3g} to {method_label(dear)}'s {per_citation[dear]:.3g}{al}. "
            f"The Pareto front of AWSS@95 against FLOPs: "
            + " → ".join(f"{method_label(v)} ({m.loc[v, 'flops_per_citation']:.3g}, AWSS@95 {m.loc[v, 'awss']:.3f})"
                         for v in front) + ".")
