"""Compression applied after phase 1: 4-bit weight-only quantization, INT8 dynamic
quantization, FP16/BF16 casts, and Wanda pruning. Each takes an Encoder and returns a new
one (``Encoder.with_model``; the input is never modified) whose ``weights_tag`` enters every
cache key.

LoRA modules (names containing ``lora_``) are never quantized or pruned: they are the
review-specific skill and are tiny.
"""

from __future__ import annotations

import copy
import hashlib

import torch
from torch import nn

from .embedding import Encoder

LORA = "lora_"


def encoder_linears(model: nn.Module) -> dict[str, nn.Linear]:
    """Every nn.Linear of the encoder except LoRA's own A/B matrices (and any pooler head)."""
    return {name: m for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and LORA not in name and "pooler" not in name}


def quantize_weights(encoder: Encoder, *, bits: int = 4) -> Encoder:
    """Weight-only quantization to ``bits`` (optimum-quanto qint2/qint4/qint8; 2 and 4 bits with
    group-wise scales); activations stay float. Runs on CPU at about FP32 speed (quanto needs
    torch.no_grad, not inference_mode)."""
    from optimum import quanto

    weights = {2: quanto.qint2, 4: quanto.qint4, 8: quanto.qint8}
    if bits not in weights:
        raise ValueError(f"bits must be one of {sorted(weights)}, got {bits!r}")
    model = copy.deepcopy(encoder.model)
    quanto.quantize(model, weights=weights[bits], activations=None, exclude=[f"*{LORA}*", "*pooler*"])
    quanto.freeze(model)
    return encoder.with_model(model, tag=f"int{bits}-quanto", inference_mode=False)


def quantize_int8_dynamic(encoder: Encoder) -> Encoder:
    """torch.ao dynamic INT8 (weights int8, activations quantized on the fly) of the encoder
    linears named explicitly, so LoRA matrices stay float."""
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    model = copy.deepcopy(encoder.model)
    spec = {name: default_dynamic_qconfig for name in encoder_linears(model)}
    return encoder.with_model(quantize_dynamic(model, spec, dtype=torch.qint8), tag="int8-dynamic")


def cast(encoder: Encoder, dtype: torch.dtype) -> Encoder:
    """Whole-model cast (FP16/BF16) for latency and memory comparisons."""
    return encoder.with_model(copy.deepcopy(encoder.model).to(dtype), tag=str(dtype).removeprefix("torch."))


# ---------------------------------------------------------------- Wanda

def wanda_mask(weight: torch.Tensor, input_norm: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Boolean mask of weights to *remove*: per output row, the ``sparsity`` share with the
    lowest score |W_ij| * ||X_j||_2 (Sun et al. 2023, "per-output" comparison group)."""
    score = weight.abs() * input_norm.unsqueeze(0)
    n_prune = int(weight.shape[1] * sparsity)
    idx = torch.argsort(score, dim=1, stable=True)[:, :n_prune]
    mask = torch.zeros_like(weight, dtype=torch.bool)
    mask.scatter_(1, idx, True)
    return mask


def _layer_groups(names: list[str]) -> list[list[str]]:
    """Linears grouped by encoder block (``...layer.<i>....``), in block order."""
    groups: dict[int, list[str]] = {}
    for name in names:
        parts = name.split(".")
        i = parts.index("layer") + 1 if "layer" in parts else None
        groups.setdefault(int(parts[i]) if i is not None else -1, []).append(name)
    return [groups[k] for k in sorted(groups)]


@torch.no_grad()
def wanda_prune(encoder: Encoder, calibration_texts: list[str], *, sparsity: float = 0.5,
                max_length: int | None = None) -> Encoder:
    """Prune every encoder linear (not LoRA) to ``sparsity`` with Wanda scores computed from
    the calibration texts' activations (padding tokens excluded).

    As in the reference implementation, blocks are pruned in order and each block is
    calibrated on the outputs of the blocks already pruned before it.
    """
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    model = copy.deepcopy(encoder.model).eval()
    device = next(model.parameters()).device
    batch = encoder.tokenizer(list(calibration_texts), truncation=True, padding=True,
                              max_length=max_length or encoder.max_length, return_tensors="pt").to(device)
    token_mask = batch["attention_mask"].bool()
    linears = encoder_linears(model)
    for group in _layer_groups(list(linears)):
        sq_norms: dict[str, torch.Tensor] = {}

        def hook(name):
            def record(module, inputs, output):
                x = inputs[0][token_mask] if inputs[0].dim() == 3 else inputs[0]
                sq_norms[name] = sq_norms.get(name, 0) + x.float().pow(2).sum(0)
            return record

        handles = [linears[n].register_forward_hook(hook(n)) for n in group]
        model(**batch)
        for h in handles:
            h.remove()
        for name in group:
            w = linears[name].weight
            w[wanda_mask(w, sq_norms[name].sqrt(), sparsity)] = 0
    h = hashlib.blake2b("\0".join(calibration_texts).encode(), digest_size=6).hexdigest()
    return encoder.with_model(model, tag=f"wanda{round(sparsity * 100)}-{h}")


# ---------------------------------------------------------------- sizes

def sparsity_of(model: nn.Module) -> dict[str, float]:
    """Share of exact zeros in each encoder linear's weight."""
    return {n: float((m.weight == 0).float().mean()) for n, m in encoder_linears(model).items()}
