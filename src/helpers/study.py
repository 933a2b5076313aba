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
