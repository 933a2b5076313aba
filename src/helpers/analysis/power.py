"""The power each phase of work draws on this machine, for the energy and CO₂e of a row.

It comes from codecarbon's offline tracker: measured where the hardware has a meter (RAPL on
Intel CPUs, NVML on NVIDIA GPUs), otherwise codecarbon's estimate (CPU load × a TDP, plus a RAM
constant) — every number then carries ``estimated``. Power is measured once per machine and
phase (training, embedding, scoring), with the FLOP rate the machine kept meanwhile, and stored
keyed by the machine's fingerprint. CO₂e = energy × the grid intensity codecarbon holds for the
country.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..models.flops import count_flops, token_batch

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


def stored_power(encoder, args, *, device: str, folder, country: str, min_seconds: float,
                 recompute: bool = False) -> dict:
    """Each phase's ``Power`` on this machine, measured once and stored as an artefact keyed by the
    machine's fingerprint (notebooks 04 and 09 share it)."""
    import pandas as pd

    from ..core.artefacts import library_versions, machine_fingerprint, stored

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
    from ..models.contrastive import make_optimizer, training_step, with_lora

    adapted = with_lora(encoder, args, seed=0)
    adapted.model.train()
    optimizer = make_optimizer(adapted.model, args)
    train_batch = token_batch(encoder, 8, encoder.max_length)
    pairs = np.array([(0, 1, 1), (2, 3, 1), (4, 5, 0), (6, 7, 0)])
    embed_batch = token_batch(encoder, 32, encoder.max_length)
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
