"""What notebooks 00–03 show, in words computed from their tables: the screening demo, the
datasets, the base space and the contrastive step on one review (``helpers.book.writeup``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import study
from .writeup import Writeup, bullets, moves, study_vs_here, value_range


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
        bullets([
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
        bullets([
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
                       "here: min–max over seeds": [value_range(wide["base"]), value_range(wide["lora"])]},
                      index=["Base", "LoRA"])
    return study_vs_here(
        f"On {review}, phase 1 {moves(lora_m, base_m)} AWSS@95 on average: Base {base_m:.3f} → "
        f"LoRA {lora_m:.3f} over {len(wide)} seeds (LoRA better on {test['wins']} of {test['n_pairs']})"
        + (", although it pulls the classes apart in embedding space." if sep_lora > sep_base else "."),
        lines, vs, caption=f"AWSS@95 on {review}: study vs here",
        why=(f"the encoder ({encoder['name']}, {encoder['pooling']} pooling, {encoder['max_length']} "
             f"tokens, vs SPECTER's [CLS] at 512), and the study's value being one draw of 8 + 8 where ours is a "
             f"mean over seeds whose spread is shown above. The study saw phase 1 lower AWSS@95 on nsaids "
             f"({study.NSAIDS_BASE} → {study.NSAIDS_LORA}); on {review} here it "
             f"{'also lowers' if lora_m < base_m else moves(lora_m, base_m)} it on average."))
