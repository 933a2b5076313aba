"""Documents/second of helpers' embedding vs sentence-transformers' encode, same model, same
texts, same max length, measured in one run. Each method runs ``--repeats`` times in
alternating order (the first timed run of a process is slower, so a fixed order would favour
whichever goes second) and its best time counts.

    python benchmarks/embed_throughput.py [--n 2000] [--lengths 256 512] [--batch-size 32]

Target: ratio helpers / sentence-transformers >= 1.0. Peak memory is the RSS rise above the
process's level before each measurement, sampled every 10 ms.
"""

from __future__ import annotations

import argparse
import threading
import time

import pandas as pd
import psutil
import torch

from helpers.core.data import available_reviews, load_review
from helpers.models.encoder import load_encoder, resolve_encoder_name


def measure(fn) -> tuple[float, float]:
    """(seconds, peak RSS rise in MiB) of one call."""
    proc, peak, stop = psutil.Process(), [0], threading.Event()
    base = proc.memory_info().rss

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss - base)
            time.sleep(0.01)

    t = threading.Thread(target=sample)
    t.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    stop.set()
    t.join()
    return seconds, peak[0] / 2**20


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 512])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--encoder", default="auto")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args()
    from sentence_transformers import SentenceTransformer

    enc = load_encoder(a.encoder, cache_dir=None)  # no cache: measure computation
    st = SentenceTransformer(resolve_encoder_name(a.encoder), device="cpu")
    texts = pd.concat([load_review(s, sep_token=enc.sep_token) for s in available_reviews()])["text"]
    texts = texts.sample(n=a.n, random_state=0).tolist()
    print(f"{len(texts)} real citations, encoder {enc.name}, torch threads {torch.get_num_threads()}, "
          f"batch size {a.batch_size}")
    rows = []
    for length in a.lengths:
        st.max_seq_length = length
        enc.embed(texts[:64], max_length=length, progress=False)  # warm-up both
        st.encode(texts[:64], batch_size=a.batch_size)
        runs = {"helpers": lambda: enc.embed(texts, max_length=length, batch_size=a.batch_size, progress=False),
                "st": lambda: st.encode(texts, batch_size=a.batch_size)}
        timed = {"helpers": [], "st": []}
        for r in range(a.repeats):
            for name in (["helpers", "st"] if r % 2 == 0 else ["st", "helpers"]):
                timed[name].append(measure(runs[name]))
        (h_s, h_mem), (s_s, s_mem) = min(timed["helpers"]), min(timed["st"])
        rows.append({"max_length": length, "helpers_docs_per_s": len(texts) / h_s,
                     "st_docs_per_s": len(texts) / s_s, "ratio": s_s / h_s,
                     "helpers_peak_MiB": h_mem, "st_peak_MiB": s_mem})
        print(pd.DataFrame(rows[-1:]).round(2).to_string(index=False), flush=True)
    print("\nsummary (ratio = helpers / sentence-transformers throughput):")
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
