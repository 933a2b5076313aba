"""Phase-1 (contrastive LoRA) wall time per review on this machine, no cache.

    python benchmarks/phase1_time.py [--seed 0] [--reviews nsaids adhd ...]

Only the 16 training texts go through the encoder, so the time depends on their token
lengths, not on the size of the review.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from helpers.models.contrastive import train_lora
from helpers.core.data import available_reviews
from helpers.models.encoder import load_encoder
from helpers.methods.trial import prepare_review


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reviews", nargs="*", default=None)
    p.add_argument("--encoder", default="auto")
    a = p.parse_args()
    enc = load_encoder(a.encoder, cache_dir=None)
    rows = []
    for slug in a.reviews or available_reviews():
        data = prepare_review(slug, a.seed, sep_token=enc.sep_token)
        texts = data.train["text"].tolist()
        lengths = [len(x) for x in enc.tokenizer(texts, truncation=True, max_length=enc.max_length)["input_ids"]]
        _, log = train_lora(enc, texts, data.train["label"].to_numpy(), seed=a.seed, progress=False)
        rows.append({"review": slug, "train_s": log["train_seconds"], "steps": log["steps"],
                     "mean_tokens": float(np.mean(lengths)), "final_loss": log["losses"][-1]})
        print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False, header=len(rows) == 1), flush=True)
    df = pd.DataFrame(rows)
    print(f"\nencoder {enc.name}, max length {enc.max_length}: phase 1 takes "
          f"{df.train_s.mean():.1f} s on average (min {df.train_s.min():.1f}, max {df.train_s.max():.1f}) "
          f"over {len(df)} reviews")


if __name__ == "__main__":
    main()
