"""Latency and memory measurement for notebook 04 and benchmarks/. Numbers, not plots."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..core.config import SweepConfig, TrainingArgs
from ..models.contrastive import make_optimizer, training_step, with_lora
from ..models.embedding import Encoder


def synthetic_batch(encoder: Encoder, batch_size: int, seq_len: int, *, seed: int = 0,
                    device: str = "cpu") -> dict[str, torch.Tensor]:
    """Random token ids of exactly ``seq_len`` (no padding): cost depends on shape, not text."""
    g = torch.Generator().manual_seed(seed)
    vocab = min(encoder.model.config.vocab_size, encoder.tokenizer.vocab_size)
    ids = torch.randint(min(1000, vocab // 2), vocab, (batch_size, seq_len), generator=g)  # skip special/unused ids
    ids[:, 0] = encoder.tokenizer.cls_token_id
    return {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device),
            "token_type_ids": torch.zeros_like(ids).to(device)}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def inference_latency(encoder: Encoder, *, batch_size: int = 32, seq_len: int = 512, repeats: int = 3,
                      device: str = "cpu", autocast_dtype: torch.dtype | None = None,
                      budget_s: float | None = None) -> dict:
    """Seconds per forward of one batch: one warm-up, then ``repeats`` timed runs.

    Some kernels are very slow where the hardware lacks them (FP16 on a CPU without FP16 units:
    one batch of SPECTER at 32 × 512 takes minutes), so with ``budget_s`` a one-example probe
    predicts the cost first and the cell stays near the budget: the largest sub-batch whose
    warm-up and repeats fit is timed and scaled linearly to ``batch_size`` (a compute-bound
    forward is linear in batch size); where not even that fits, fewer repeats, and at worst
    the probe alone is the measurement. ``measured_batch`` and ``repeats`` say which it was."""
    model = encoder.model.to(device).eval()
    grad_off = torch.inference_mode() if encoder.inference_mode else torch.no_grad()
    with grad_off, torch.autocast(device.split(":")[0], dtype=autocast_dtype or torch.float32,
                                  enabled=autocast_dtype is not None):
        def timed(n: int) -> float:
            return _timed(lambda batch=synthetic_batch(encoder, n, seq_len, device=device): model(**batch), device)

        plan = _plan(batch_size, repeats, budget_s, probe=timed(1) if budget_s is not None else None, smallest=1)
        runs = plan.runs or [timed(plan.measured) for _ in range(plan.repeats + 1)][1:]  # the first is the warm-up
    times = [t * batch_size / plan.measured for t in runs]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": len(times),
            "batch": batch_size, "measured_batch": plan.measured}


@dataclass(frozen=True)
class _Plan:
    measured: int              # batch (or pairs) actually timed
    repeats: int               # timed runs after one warm-up
    runs: list | None = None   # where only the probe fitted: it is the one measurement


def _plan(full: int, repeats: int, budget_s: float | None, *, probe: float | None, smallest: int) -> _Plan:
    """What fits in ``budget_s`` after a probe of ``smallest`` units took ``probe`` seconds."""
    if budget_s is None:
        return _Plan(full, repeats)
    per_unit, left = probe / smallest, budget_s - probe
    fits = int(left / ((repeats + 1) * per_unit))
    if fits >= smallest:
        return _Plan(min(full, fits - fits % smallest if smallest > 1 else fits), repeats)
    few = int(left / (smallest * per_unit)) - 1  # repeats of the smallest piece after a warm-up
    return _Plan(smallest, few) if few >= 1 else _Plan(smallest, 1, runs=[probe])


def _timed(work, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    work()
    _sync(device)
    return time.perf_counter() - start


def training_step_time(encoder: Encoder, *, n_steps: int = 2, seq_len: int = 512, bf16: bool = False,
                       pairs_per_batch: int = 16, seed: int = 0, budget_s: float | None = None) -> dict:
    """Seconds per phase-1 step in the study's timing setting (batches of 16 pairs with 32
    distinct texts of ``seq_len`` tokens), measured on ``n_steps`` after one warm-up step.

    With ``budget_s``, a probe step of 2 pairs (the smallest batch holding both kinds) predicts
    the cost, and as in ``inference_latency`` the largest even number of pairs that fits is
    timed and scaled linearly to ``pairs_per_batch`` (``measured_pairs`` says so)."""
    args = replace(TrainingArgs(), bf16=bf16)
    adapted = with_lora(encoder, args, seed=seed)
    adapted.model.train()
    optimizer = make_optimizer(adapted.model, args)

    def timed(pairs: int) -> float:
        inputs = synthetic_batch(encoder, 2 * pairs, seq_len, seed=seed)
        batch = np.array([(2 * k, 2 * k + 1, int(k < pairs // 2)) for k in range(pairs)])
        return _timed(lambda: training_step(adapted, inputs, batch, optimizer, args), "cpu")

    plan = _plan(pairs_per_batch, n_steps, budget_s, probe=timed(2) if budget_s is not None else None, smallest=2)
    runs = plan.runs or [timed(plan.measured) for _ in range(plan.repeats + 1)][1:]
    return {"median_step_s": statistics.median(runs) * pairs_per_batch / plan.measured, "steps_measured": len(runs),
            "pairs": pairs_per_batch, "measured_pairs": plan.measured}


def study_training_seconds(step_seconds: float, *, n_pairs: int = 1280, epochs: int = 2, batch_size: int = 16) -> float:
    """Extrapolate a step time to the study's setting (1,280 pairs, 2 epochs, batch 16 = 160 steps)."""
    return step_seconds * epochs * int(np.ceil(n_pairs / batch_size))


QUANTO_GROUP = 128


def parameter_count(model: torch.nn.Module, lora: bool) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if ("lora_" in n) == lora)


def memory_table(encoder: Encoder, args: TrainingArgs = TrainingArgs()) -> list[dict]:
    """Parameters and bytes of the encoder and of its LoRA modules at 32/16/8/4 bits.

    ``all_params_at_bits_MiB`` is the naive parameters x bits / 8; ``computed_MiB`` counts what
    the quantizers really do (8/4 bits for linear weights, FP32 for embeddings, norms and
    biases) and is checked against files saved from the real modules (FP32/FP16 safetensors,
    INT8-dynamic and quanto-qint4 state dicts, which add per-channel/group scales; LoRA via peft)."""
    from safetensors.torch import save_file

    from ..models.compress import encoder_linears, quantize_int8_dynamic, quantize_weights

    adapted = with_lora(encoder, args, seed=0)
    n_enc = sum(p.numel() for p in encoder.model.parameters())
    n_lora = parameter_count(adapted.model, lora=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)

        def size(path: Path) -> int:
            return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size

        state = {k: v.contiguous() for k, v in encoder.model.state_dict().items()}
        save_file(state, tmp / "fp32.safetensors")
        save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, tmp / "fp16.safetensors")
        torch.save(quantize_int8_dynamic(encoder).model.state_dict(), tmp / "int8.pt")
        torch.save(quantize_weights(encoder, bits=4).model.state_dict(), tmp / "int4.pt")
        adapted.model.save_pretrained(tmp / "lora32")
        lora16 = {k: v.half() for k, v in adapted.model.state_dict().items() if "lora_" in k}
        save_file(lora16, tmp / "lora16.safetensors")
        files = {("encoder", 32): tmp / "fp32.safetensors", ("encoder", 16): tmp / "fp16.safetensors",
                 ("encoder", 8): tmp / "int8.pt", ("encoder", 4): tmp / "int4.pt",
                 ("LoRA", 32): tmp / "lora32" / "adapter_model.safetensors", ("LoRA", 16): tmp / "lora16.safetensors"}
        n_linear = sum(m.weight.numel() for m in encoder_linears(encoder.model).values())
        for part, n, n_q in (("encoder", n_enc, n_linear), ("LoRA", n_lora, n_lora)):
            for bits in (32, 16, 8, 4):
                f = files.get((part, bits))
                # 8/4 bits apply to linear weights only; embeddings, norms, biases stay FP32;
                # quanto's qint4 adds an FP32 scale and shift per group of 128 weights
                real = (n * 4 if bits == 32 else n * 2 if bits == 16
                        else n_q * bits / 8 + (n - n_q) * 4 + (n_q / QUANTO_GROUP * 8 if bits == 4 else 0))
                rows.append({"part": part, "bits": bits, "parameters": n, "quantized_parameters": n_q if bits < 16 else 0,
                             "all_params_at_bits_MiB": n * bits / 8 / 2**20, "computed_MiB": real / 2**20,
                             "saved_file_MiB": size(f) / 2**20 if f else float("nan"),
                             "file": f.name if f else "– (not saved: LoRA stays in float)"})
    return rows


# ---------------------------------------------------------------- notebook 04's tables

PRECISIONS = ("FP32", "FP16", "BF16", "INT8 (dynamic)", "4-bit (quanto, weight-only)")
MEMORY_LIBRARIES = ("torch", "optimum-quanto", "peft", "safetensors")  # what the memory table's files depend on


def precisions(encoder: Encoder, device: str):
    """(label, encoder) for each of PRECISIONS; INT8 dynamic exists on CPU only."""
    from ..models.compress import cast, quantize_int8_dynamic, quantize_weights

    yield "FP32", encoder
    yield "FP16", cast(encoder, torch.float16)
    yield "BF16", cast(encoder, torch.bfloat16)
    if device == "cpu":  # torch.ao dynamic INT8 kernels exist for CPU only
        yield "INT8 (dynamic)", quantize_int8_dynamic(encoder)
    yield "4-bit (quanto, weight-only)", quantize_weights(encoder, bits=4)


def latency_table(encoders: dict[str, Encoder], devices: list[str], *, batch: int, seq: int, repeats: int,
                  budget_s: float | None) -> pd.DataFrame:
    """Every encoder × device × precision: seconds per forward of one batch of ``seq`` tokens (or
    the encoder's own limit, in the ``tokens`` column), and the speed-up against FP32 on the
    same device."""
    rows = []
    for name, encoder in encoders.items():
        tokens = min(seq, encoder.model.config.max_position_embeddings)  # an encoder cannot read more
        for device in devices:
            for precision, variant in precisions(encoder, device):
                r = inference_latency(variant, batch_size=batch, seq_len=tokens, repeats=repeats, device=device,
                                      budget_s=budget_s)
                rows.append({"encoder": name, "device": device, "precision": precision, "tokens": tokens, **r})
                variant.model.to("cpu")
    table = pd.DataFrame(rows)
    fp32 = table[table.precision == "FP32"].set_index(["encoder", "device"])["median_s"]
    table["speedup_vs_fp32"] = [fp32[(e, d)] / m for e, d, m in zip(table.encoder, table.device, table.median_s)]
    return table


def training_table(encoders: dict[str, Encoder], *, pairs: int, seq: int, steps: int,
                   budget_s: float | None) -> pd.DataFrame:
    """Every encoder in FP32 and BF16 autocast: seconds per phase-1 step, extrapolated to the
    study's 160 steps (labelled so in the column name)."""
    rows = []
    for name, encoder in encoders.items():
        tokens = min(seq, encoder.model.config.max_position_embeddings)
        for label, bf16 in (("FP32", False), ("BF16 autocast", True)):
            r = training_step_time(encoder, n_steps=steps, seq_len=tokens, bf16=bf16, pairs_per_batch=pairs,
                                   budget_s=budget_s)
            rows.append({"encoder": name, "precision": label, "tokens": tokens, "seconds_per_step": r["median_step_s"],
                         "steps_measured": r["steps_measured"], "pairs": r["pairs"], "measured_pairs": r["measured_pairs"],
                         "extrapolated_study_minutes": study_training_seconds(r["median_step_s"]) / 60})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- notebook 05's footprints

def random_word_texts(rng: np.random.Generator, n: int, *, vocabulary: int, length: int) -> list[str]:
    """``n`` texts of ``length`` words drawn from ``vocabulary`` made-up words: input for timing and
    calibration, where what a text says does not matter."""
    words = [f"w{k}" for k in range(vocabulary)]
    return [" ".join(rng.choice(words, length)) for _ in range(n)]


def held_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's state as saved (``torch.save``): quanto's packed 4-bit weights with their
    scales, a pruned matrix with its zeros."""
    import io

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def footprint_table(variants, encoder: Encoder, config: SweepConfig, *, batch: int, repeats: int,
                    budget_s: float | None, calibration_texts: list[str] | None = None) -> pd.DataFrame:
    """Per variant: seconds per citation embedded (a forward of ``batch`` texts at the encoder's
    own token limit, median of ``repeats`` / ``batch``), its parameters and the MiB its weights
    take as saved. Variants with the same architecture (students of one size, whatever their
    teacher) share one measurement, so they cannot differ by timing noise. Wanda's mask is
    calibrated on ``calibration_texts`` (None: 16 seeded texts of random words; the mask's
    pattern does not change a dense product's time)."""
    if calibration_texts is None:
        calibration_texts = random_word_texts(np.random.default_rng(0), 16, vocabulary=500, length=150)

    measured: dict = {}
    rows = []
    for variant in variants:
        shape = variant.architecture
        if shape not in measured:
            model = variant.stand_in(encoder, config, calibration_texts=calibration_texts)
            timing = inference_latency(model, batch_size=batch, seq_len=encoder.max_length, repeats=repeats,
                                       budget_s=budget_s, device=str(encoder.device))
            measured[shape] = {"seconds_per_citation": timing["median_s"] / batch, "measured_batch": timing["measured_batch"],
                               "repeats": timing["repeats"], "tokens": encoder.max_length,
                               "parameters": sum(p.numel() for p in model.model.parameters()),
                               "weights_MiB": held_bytes(model.model) / 2**20}
        rows.append({"variant": variant.name, "architecture": shape, **measured[shape]})
    return pd.DataFrame(rows)
