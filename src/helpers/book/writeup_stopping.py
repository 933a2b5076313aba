"""What notebook 10 shows, in words computed from its tables: when to stop, the safe-stop
choice and the published results beside this report's (``helpers.book.writeup``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import study
from .plots import method_label
from .writeup import Writeup, bullets, count_of


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
        f"Over {count_of(n_reviews, 'review')} × {len(seeds)} seeds, counted on the records after the training records "
        f"(the pool AWSS@95 is computed on), the statistical stopping rule saves {stat.work_saved:.1%} of the reading "
        f"where the oracle would save {pooled.loc[oracle_rule, 'work_saved']:.1%}, and misses {recall_target:.0%} recall "
        f"in {stat.below / stat.runs:.1%} of runs (allowed: {1 - confidence:.0%}); the heuristics save more and miss "
        "far more often.\n\n" + bullets(lines))


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
            f"the upper end of its exact 95 % interval ({count_of(len(dev_reviews), 'development review')}); nothing is "
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
        f"**Chosen on {count_of(len(dev_reviews), 'development review')}** ({', '.join(dev_reviews)}; every method × seed): "
        f"**{chosen}**, the rule that saved the most reading ({d.work_saved:.1%}) among those promising "
        f"{recall_target:.0%} recall with {confidence:.0%} confidence from the labels alone whose share of runs below "
        f"the target stayed under {goal:.0%} up to the upper end of its exact 95 % interval ({int(d.below_target)} "
        f"of {int(d.runs)} runs).",
        f"**On the {count_of(len(held_out), 'held-out review')}** × {len(seeds)} seeds, pooled over the ranking methods "
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
                    f"chosen on development reviews: on {count_of(len(held_out), 'held-out review')} it saved "
                    f"{c.work_saved:.1%} of the reading ({ratio:.1f}× the statistical rule's {stat.work_saved:.1%}; the "
                    f"oracle: {oracle.work_saved:.1%}) and missed the target in {c.below_share:.1%} of runs — it "
                    f"{verdict_text}.")
    else:
        headline = (f"No rule saves twice the statistical rule's reading while keeping {recall_target:.0%} recall: the "
                    f"{chosen.split(' (')[0]} rule chosen on development reviews saved {c.work_saved:.1%} on "
                    f"{count_of(len(held_out), 'held-out review')} ({ratio:.1f}×) but missed the target in "
                    f"{c.below_share:.1%} of runs; a reviewer who needs the guarantee keeps the statistical rule, which "
                    f"saved {r.work_saved:.1%} (the oracle: {oracle.work_saved:.1%}).")
    return Writeup(headline, bullets(lines), tables)


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
