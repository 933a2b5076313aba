"""What notebooks 04 and 09 show, in words computed from their tables: latency and memory, and
the cost of screening — FLOPs, energy and CO₂ against the reading saved (``helpers.book.writeup``)."""

from __future__ import annotations

import pandas as pd

from . import study
from .plots import method_label
from .writeup import Writeup, bullets, count_of, study_vs_here


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
    return study_vs_here(headline, lines, vs, hide_index=True, decimals=2,
        why=(f"hardware above all — the study timed on its Table 2 machine (GPU and CPU), here "
             f"{machine} with {threads} threads{' and a GPU' if gpu else ' and no GPU (GPU rows: –)'}; training "
             f"here is extrapolated from {count_of(train_steps, 'measured step')}. Memory agrees by construction (same "
             f"configuration, parameters × bits); the LoRA count "
             + ("matches the study's exactly." if lora_parameters == study.LORA_PARAMETERS else
                f"({lora_parameters:,}) differs from the study's {study.LORA_PARAMETERS:,} because the configuration "
                "does.")))

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
        bullets(lines), tables=(("study vs here: the study's speed-ups are time ratios on its machine; a lower precision "
                                  "multiplies the same matrices, so its FLOP ratio is 1", vs, {"hide_index": True, "decimals": 2}),),
        after=(f"FLOPs are counted ({count_of(n_reviews, 'review')}): an encoder's matrix products; setfit's own batches "
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
