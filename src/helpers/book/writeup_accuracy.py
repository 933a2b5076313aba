"""What notebooks 05–08 and 11 show, in words computed from their tables: AWSS@95 per review,
distillation, composed skills, the peers, the candidates beyond the study and how many labels
pay (``helpers.book.writeup``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import study
from .plots import method_label
from .writeup import Writeup, bullets, count_of, study_vs_here
from ..compute.stats import comparison, verdict


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
        f"**Hard reviews stay hard.** {count_of(hard, 'review')} {'has' if hard == 1 else 'have'} a Base AWSS@95 below "
        "0.2; " + (f"{', '.join(sorted(flagged))} {'keeps' if len(flagged) == 1 else 'keep'} fewer than {few} included "
                   "citations for evaluation (†), so their values rest on very few documents." if flagged
                   else "no review is flagged †.")]
    est = m.loc["estrogens"] if "estrogens" in m.index else None
    vs = pd.DataFrame([
        ("estrogens: Base", study.ESTROGENS_BASE, est["base"] if est is not None else float("nan")),
        ("estrogens: LoRA", study.ESTROGENS_LORA, est["lora"] if est is not None else float("nan")),
        ("reviews where a variant falls below Base", f"{study.REVIEWS_WITH_A_VARIANT_BELOW_BASE} of 20", f"{below} of {n}"),
    ], columns=["quantity", "study (SPECTER, one draw)", f"here ({encoder['name']}, mean over seeds)"])
    return study_vs_here(
        f"Over {count_of(n, 'review')} × {len(seeds)} seeds, LoRA's mean AWSS@95 is {mean_of['lora']:.3f} against Base "
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
    return Writeup(headline, bullets(lines))


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
    return study_vs_here(
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
             f"{means.loc[winner, 'ci_low']:.3f}–{means.loc[winner, 'ci_high']:.3f}) over {count_of(n_reviews, 'review')}; the "
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
        bullets(lines))


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
    lines.append(f"**Held-out** ({count_of(n_held_out, 'review')} × {len(seeds)} seeds, {cap_note}): {method_label(chosen)} "
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
        f"Chosen on development reviews and tested once on {count_of(n_held_out, 'held-out review')}, {method_label(chosen)} "
        f"{outcome} (held-out mean AWSS@95 {means.loc[chosen, 'mean']:.3f} vs ASReview one-shot "
        f"{means.loc['asreview-oneshot', 'mean']:.3f}, TF-IDF + LR {means.loc['tfidf+lr', 'mean']:.3f}); in active "
        f"learning the project's encoder {'beats' if verdict(al_row) == 'beats' else 'does not beat'} ASReview's default.",
        "\n".join(line if line.startswith("  ") else f"- {line}" for line in lines))

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
        f"over review × seed at each k; a win needs p < 0.05). **How many labels?** {reviewer}\n\n" + bullets(lines))
