"""The study's published values, for the "study vs here" tables of the report.

Copied from ``../shared/THESIS_NUMBERS.md`` (SPECTER, [CLS] pooling, 512 tokens, one draw of
8 + 8 training examples per review). They are only ever put beside a value measured here,
never used to choose a setting.
"""

from __future__ import annotations

import pandas as pd

# Table 4: seconds (training: 1,280 pairs x 512 tokens, 2 epochs, batch 16; inference: 32 x 512)
LATENCY = {
    ("training", "FP32"): 132.0, ("training", "BF16"): 40.0,
    ("inference GPU", "FP32"): 0.72, ("inference GPU", "FP16"): 0.32, ("inference GPU", "INT8"): 0.15,
    ("inference CPU", "FP32"): 10.92, ("inference CPU", "FP16"): 19.86, ("inference CPU", "INT8"): 6.38,
}
# Table 5: memory, parameters x bits (MB as printed; LoRA in KB)
MEMORY_ENCODER_MB = {32: 420, 16: 209, 8: 104, 4: 52}
MEMORY_LORA_KB = {32: 144, 16: 72, 8: 36, 4: 18}
LORA_PARAMETERS = 36_864
# Table 6: AWSS@95 of the five best reviews, each with its own phase-1 classifier
HYBRID = pd.DataFrame(
    [("adhd", 0.78, 0.77, 0.71), ("bpa", 0.71, 0.73, 0.71), ("fluoride", 0.82, 0.80, 0.77),
     ("pfos_pfoa", 0.70, 0.67, 0.65), ("transgenerational", 0.50, 0.47, 0.49)],
    columns=["review", "hybrid", "lora", "base"])
# Text, Figures 13-16
NSAIDS_BASE, NSAIDS_LORA = 0.289, 0.213
ESTROGENS_BASE, ESTROGENS_LORA = 0.35, 0.12
REVIEWS_WITH_A_VARIANT_BELOW_BASE = 10  # of 20
HYBRID_COSINE_WITHIN, HYBRID_COSINE_ACROSS = 0.8, (-0.25, 0.25)  # on PFOS-PFOA

WHY_AWSS_DIFFERS = ("encoder all-MiniLM-L6-v2 (mean pooling, 256 tokens) instead of SPECTER ([CLS], 512); "
                    "the study's value is one draw of 8 + 8, ours the mean over seeds (see the spread)")

# Published stopping results (issue 38's anchors), each beside the rule of notebook 10 that is
# the same method ("here"); the literature's own data are named, only the first two share reviews
# with this report (Callaghan & Müller-Hansen's 21 datasets hold the same 15 drug reviews).
STOPPING_LITERATURE = pd.DataFrame([
    ("Callaghan & Müller-Hansen 2020", "ranked quasi-sampling (the statistical rule), 95 % recall, 95 % confidence",
     "21 datasets incl. these 15 drug reviews; SVM, batches of 20", "17 %", "below 95 % in 0.95 % of runs",
     "statistical (95% recall, 95% confidence)"),
    ("Callaghan & Müller-Hansen 2020", "50 excluded in a row", "the same 21 datasets", "41 %",
     "below 95 % in 39 % of runs", "50 excluded in a row"),
    ("Sneyd & Stevenson 2021", "counting process, power law (95 % recall, 95 % confidence)", "CLEF 2017 (TAR)",
     "45.9 %", "mean recall 1.00", "counting process, power (95% recall, 95% confidence)"),
    ("Sneyd & Stevenson 2021", "knee", "CLEF 2017 (TAR)", "26.6 %", "–", "knee"),
    ("Sneyd & Stevenson 2021", "target method (a random sample)", "CLEF 2017 (TAR)", "13.1 %", "–",
     "QBCB (59 included sampled; 95% recall, 95% confidence)"),
    ("Repke et al. 2026", "buscar (the statistical rule), 95 % recall", "86 datasets, 258 rankings (their preprint)", "–",
     "the only rule never below its target (0 %)", "statistical (95% recall, 95% confidence)"),
], columns=["source", "rule", "data", "work_saved", "recall", "here"])

# The study's 8 + 8 AWSS@95 where it published both Base and after phase 1 (text, Figures 13-16;
# Table 6 for adhd and fluoride): notebook 11's "study vs here" at k = 8.
LABEL_CURVE_POINTS = pd.DataFrame(
    [("nsaids", "base", NSAIDS_BASE), ("nsaids", "lora", NSAIDS_LORA),
     ("estrogens", "base", ESTROGENS_BASE), ("estrogens", "lora", ESTROGENS_LORA),
     *((r.review, v, getattr(r, v)) for r in HYBRID.itertuples() if r.review in ("adhd", "fluoride") for v in ("base", "lora"))],
    columns=["review", "variant", "study (k = 8)"])
