"""Composition of LoRA skills: the study's "hybrid" adapter, and peft's own merges as peers.

Hybrid rule (the study's): for every adapted module, rebuild each adapter's update
ΔW_i = scaling_i · B_i A_i, take the element-wise quantile across adapters, and factor the
result with a truncated SVD of rank r into a new rank-r LoRA.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from .encoder import Encoder

ADAPTER = "default"


def lora_modules(model: PeftModel, adapter: str = ADAPTER) -> dict[str, torch.nn.Module]:
    """Modules carrying a LoRA adapter of that name, by module name."""
    return {name: m for name, m in model.named_modules()
            if hasattr(m, "lora_A") and adapter in getattr(m, "lora_A", {})}


def delta_weights(model: PeftModel, adapter: str = ADAPTER) -> dict[str, torch.Tensor]:
    """ΔW = scaling · B A per adapted module (out_features x in_features)."""
    return {name: (m.lora_B[adapter].weight @ m.lora_A[adapter].weight * m.scaling[adapter]).detach()
            for name, m in lora_modules(model, adapter).items()}


def svd_factors(matrix: torch.Tensor, rank: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, A) with B A = the rank-r truncated SVD of ``matrix`` (``sqrt``: √S in each factor),
    or B A = U S² Vᵀ (``both``: S in each factor, the study's description)."""
    u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    u, s, vh = u[:, :rank], s[:rank], vh[:rank]
    if split == "sqrt":
        root = s.sqrt()
        return (u * root).float(), (root[:, None] * vh).float()
    if split == "both":
        return (u * s).float(), (s[:, None] * vh).float()
    raise ValueError(f"split must be 'sqrt' or 'both', got {split!r}")


def compose_adapters(adapters: list[Encoder], *, quantile: float = 0.75, rank: int = 8,
                     split: str = "sqrt") -> Encoder:
    """A new encoder carrying one rank-``rank`` LoRA that composes the given adapters (same base
    model and adapted modules) by the element-wise ``quantile`` of their updates.

    The new adapter's scaling is 1 (lora_alpha = rank), so its ΔW is exactly B A."""
    if not adapters:
        raise ValueError("need at least one adapter")
    if not 0 <= quantile <= 1:
        raise ValueError(f"quantile must be in [0, 1], got {quantile}")
    deltas = [delta_weights(a.model) for a in adapters]
    names = set(deltas[0])
    if any(set(d) != names for d in deltas):
        raise ValueError("adapters adapt different modules; they cannot be composed element-wise")
    first = adapters[0].model
    cfg = first.peft_config[ADAPTER]
    base = _unwrap(first)
    new_cfg = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=cfg.target_modules,
                         layers_to_transform=cfg.layers_to_transform, layers_pattern=cfg.layers_pattern,
                         bias="none")
    model = get_peft_model(base, new_cfg)
    modules = lora_modules(model)
    with torch.no_grad():
        for name in names:
            q = torch.quantile(torch.stack([d[name] for d in deltas]).double(), quantile, dim=0)
            b, a = svd_factors(q, rank, split)
            m = modules[name]
            m.lora_B[ADAPTER].weight.copy_(b)
            m.lora_A[ADAPTER].weight.copy_(a)
    model.eval()
    return adapters[0].with_model(model)


def _unwrap(model: PeftModel) -> torch.nn.Module:
    """A deep copy of the base model with LoRA layers replaced by their original modules
    (weights untouched: the adapter is dropped, not merged)."""
    clone = copy.deepcopy(model)
    return clone.unload()


def peft_merge(adapters: list[Encoder], combination_type: str, *, density: float = 0.5,
               svd_rank: int = 8, seed: int = 0) -> Encoder:
    """peft's own ``add_weighted_adapter`` over the same adapters, as a peer baseline.

    Equal weights 1/n (the mean update) for ``svd`` and ``cat``; weights 1 with ``density``
    for ``ties`` and ``dare_ties``, whose sign election and trimming expect unscaled inputs.
    ``seed`` drives the random draws (DARE's drop; peft takes it, and each added adapter's
    initialisation, from torch's global generator), forked so the caller's random state is left
    as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _weighted_peft_model(adapters, combination_type, density, svd_rank)
    return adapters[0].with_model(model)


def _weighted_peft_model(adapters: list[Encoder], combination_type: str, density: float,
                         svd_rank: int) -> PeftModel:
    """A copy of the first adapter's model holding only peft's weighted merge of all adapters."""
    model = copy.deepcopy(adapters[0].model)
    names = []
    for k, enc in enumerate(adapters):
        name = f"skill{k}"
        model.add_adapter(name, enc.model.peft_config[ADAPTER])
        state = {key.replace(f".{ADAPTER}.", f".{name}."): v for key, v in enc.model.state_dict().items()
                 if "lora_" in key}
        missing = model.load_state_dict(state, strict=False)
        if missing.unexpected_keys:
            raise RuntimeError(f"adapter {k}: unexpected keys {missing.unexpected_keys[:3]}")
        names.append(name)
    n = len(names)
    weights = [1.0 / n] * n if combination_type in ("svd", "cat", "linear") else [1.0] * n
    kwargs = {"density": density} if combination_type in ("ties", "dare_ties", "dare_linear") else {}
    if combination_type == "svd":
        kwargs["svd_rank"] = svd_rank
    model.add_weighted_adapter(names, weights, adapter_name="merged", combination_type=combination_type, **kwargs)
    model.set_adapter("merged")
    for name in names + [ADAPTER]:
        model.delete_adapter(name)
    model.eval()
    return model


@dataclass(frozen=True)
class Composition:
    """One way to compose several adapters into one, with the settings that identify it."""

    name: str
    kind: str            # "hybrid" (the study's rule) or a peft combination type
    split: str = ""      # hybrid only: how the singular values are split

    def settings(self, *, quantile: float, rank: int) -> dict:
        """What changes this composition's numbers (part of every result row's key)."""
        if self.kind == "hybrid":
            return {"rule": "quantile+svd", "quantile": quantile, "rank": rank, "split": self.split}
        out = {"rule": f"peft-{self.kind}"}
        if self.kind == "svd":
            out["svd_rank"] = rank
        if self.kind in ("ties", "dare_ties"):
            out["density"] = 0.5
        return out

    def apply(self, adapters: list[Encoder], *, quantile: float, rank: int, seed: int) -> Encoder:
        if self.kind == "hybrid":
            return compose_adapters(adapters, quantile=quantile, rank=rank, split=self.split)
        return peft_merge(adapters, self.kind, svd_rank=rank, seed=seed)


COMPOSITIONS = {c.name: c for c in (
    Composition("hybrid-sqrt", "hybrid", split="sqrt"),
    Composition("hybrid-both", "hybrid", split="both"),
    Composition("peft-svd", "svd"),
    Composition("peft-ties", "ties"),
    Composition("peft-dare_ties", "dare_ties"),
    Composition("peft-cat", "cat"),
)}
