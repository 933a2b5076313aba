"""Latency and memory measurement for notebook 04 and benchmarks/. Numbers, not plots."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .contrastive import TrainingArgs, make_optimizer, training_step, with_lora
from .encoder import Encoder


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
    predicts the cost first; if the warm-up and repeats of the full batch would exceed the
    budget, the largest sub-batch that fits is timed and scaled linearly to ``batch_size``
    (a compute-bound forward is linear in batch size). ``measured_batch`` says which it was."""
    model = encoder.model.to(device).eval()
    grad_off = torch.inference_mode() if encoder.inference_mode else torch.no_grad()
    with grad_off, torch.autocast(device.split(":")[0], dtype=autocast_dtype or torch.float32,
                                  enabled=autocast_dtype is not None):
        measured = batch_size
        if budget_s is not None:
            probe = _timed_forward(model, synthetic_batch(encoder, 1, seq_len, device=device), device)
            measured = max(1, min(batch_size, int(budget_s / ((repeats + 1) * probe))))
        batch = synthetic_batch(encoder, measured, seq_len, device=device)
        runs = [_timed_forward(model, batch, device) * batch_size / measured for _ in range(repeats + 1)]
    times = runs[1:]  # the first is the warm-up
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": repeats,
            "measured_batch": measured}


def _timed_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor], device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    model(**batch)
    _sync(device)
    return time.perf_counter() - start


def training_step_time(encoder: Encoder, *, n_steps: int = 2, seq_len: int = 512, bf16: bool = False,
                       pairs_per_batch: int = 16, seed: int = 0) -> dict:
    """Seconds per phase-1 step in the study's timing setting (batches of 16 pairs with 32
    distinct texts of ``seq_len`` tokens), measured on ``n_steps`` after one warm-up step."""
    args = replace(TrainingArgs(), bf16=bf16)
    adapted = with_lora(encoder, args, seed=seed)
    adapted.model.train()
    inputs = synthetic_batch(encoder, 2 * pairs_per_batch, seq_len, seed=seed)
    half = pairs_per_batch // 2
    pairs = np.array([(2 * k, 2 * k + 1, int(k < half)) for k in range(pairs_per_batch)])
    optimizer = make_optimizer(adapted.model, args)
    times = []
    for k in range(n_steps + 1):
        start = time.perf_counter()
        training_step(adapted, inputs, pairs, optimizer, args)
        if k:
            times.append(time.perf_counter() - start)
    return {"median_step_s": statistics.median(times), "steps_measured": n_steps}


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

    from .compress import encoder_linears, quantize_int4, quantize_int8_dynamic

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
        torch.save(quantize_int4(encoder).model.state_dict(), tmp / "int4.pt")
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
