"""Composition of LoRA skills: the study's "hybrid" adapter, and peft's own merges as peers.

Hybrid rule (the study's): for every adapted module, rebuild each adapter's update
ΔW_i = scaling_i · B_i A_i, take the element-wise quantile across adapters, and factor the
result with a truncated SVD of rank r into a new rank-r LoRA.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
from peft import LoraConfig, PeftModel, get_peft_model

from ..core.config import knob, require
from .embedding import Encoder

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


def peft_merge(adapters: list[Encoder], combination_type: str, *, density: float | None = None,
               svd_rank: int | None = None, seed: int = 0) -> Encoder:
    """peft's own ``add_weighted_adapter`` over the same adapters, as a peer baseline.

    Equal weights 1/n (the mean update) for ``svd`` and ``cat``; weights 1 with ``density``
    for ``ties`` and ``dare_ties``, whose sign election and trimming expect unscaled inputs.
    ``density`` and ``svd_rank`` are passed where given (None: peft's own default).
    ``seed`` drives the random draws (DARE's drop; peft takes it, and each added adapter's
    initialisation, from torch's global generator), forked so the caller's random state is left
    as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _weighted_peft_model(adapters, combination_type, density, svd_rank)
    return adapters[0].with_model(model)


def _weighted_peft_model(adapters: list[Encoder], combination_type: str, density: float | None,
                         svd_rank: int | None) -> PeftModel:
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
    kwargs = {k: v for k, v in (("density", density), ("svd_rank", svd_rank)) if v is not None}
    model.add_weighted_adapter(names, weights, adapter_name="merged", combination_type=combination_type, **kwargs)
    model.set_adapter("merged")
    for name in names + [ADAPTER]:
        model.delete_adapter(name)
    model.eval()
    return model


DENSITY_MERGES = ("ties", "dare_ties", "dare_linear")  # peft merges that trim to a density
PEFT_MERGES = ("svd", "cat", "linear", *DENSITY_MERGES)


@dataclass(frozen=True)
class Hybrid:
    """The study's composition: element-wise ``quantile`` of the adapters' updates, factored by a
    truncated SVD of ``rank`` into one LoRA, the singular values split as ``split`` says."""

    kind: ClassVar[str] = "hybrid"
    quantile: float = knob(0.75, "element-wise quantile across the adapters' ΔW, in [0, 1]")
    rank: int = knob(8, "rank of the truncated SVD, and of the new LoRA")
    split: str = knob("sqrt", "sqrt: √S in each factor (the exact rank-r approximation); both: S in each "
                              "(the study's wording)")

    def __post_init__(self):
        require(0 <= self.quantile <= 1 and isinstance(self.rank, int) and self.rank >= 1
                and self.split in ("sqrt", "both"), f"Hybrid needs quantile in [0, 1], rank >= 1 and split 'sqrt' or "
                                                    f"'both', got {self.quantile!r}, {self.rank!r}, {self.split!r}")

    @property
    def name(self) -> str:
        return f"hybrid-{self.split}"

    @property
    def label(self) -> str:
        return "hybrid, √S split" if self.split == "sqrt" else "hybrid, S in both"

    def apply(self, adapters: list[Encoder], *, seed: int) -> Encoder:
        """Deterministic: ``seed`` is not used."""
        return compose_adapters(adapters, quantile=self.quantile, rank=self.rank, split=self.split)


@dataclass(frozen=True)
class PeftMerge:
    """peft's own ``add_weighted_adapter`` as a peer of the hybrid: ``density`` applies to the
    trimming merges (ties, dare_*) only, ``svd_rank`` to svd only; each is None elsewhere."""

    kind: ClassVar[str] = "peft"
    combination: str = knob("ties", f"peft's combination_type: one of {PEFT_MERGES}")
    density: float | None = knob(None, "share of each update kept by the trimming merges")
    svd_rank: int | None = knob(None, "rank of the svd merge")

    def __post_init__(self):
        require(self.combination in PEFT_MERGES,
                f"PeftMerge.combination must be one of {PEFT_MERGES}, got {self.combination!r}")
        require((self.density is not None) == (self.combination in DENSITY_MERGES)
                and (self.density is None or 0 < self.density <= 1),
                f"PeftMerge({self.combination!r}): density in (0, 1] is needed for {DENSITY_MERGES} and only there, "
                f"got {self.density!r}")
        require((self.svd_rank is not None) == (self.combination == "svd") and (self.svd_rank is None or self.svd_rank >= 1),
                f"PeftMerge({self.combination!r}): svd_rank >= 1 is needed for svd and only there, got {self.svd_rank!r}")

    @property
    def name(self) -> str:
        return f"peft-{self.combination}"

    def apply(self, adapters: list[Encoder], *, seed: int) -> Encoder:
        return peft_merge(adapters, self.combination, density=self.density, svd_rank=self.svd_rank, seed=seed)

    @property
    def label(self) -> str:
        return f"peft {self.combination}"


def compositions(*, quantile: float | None = None, rank: int | None = None) -> tuple:
    """Notebook 06's compositions: both hybrid splits and peft's svd, ties, dare_ties and cat
    merges; ``quantile`` and ``rank`` (None: the study's) apply wherever they mean something."""
    hybrid = {k: v for k, v in (("quantile", quantile), ("rank", rank)) if v is not None}
    rank = Hybrid(**hybrid).rank
    return (Hybrid(split="sqrt", **hybrid), Hybrid(split="both", **hybrid), PeftMerge("svd", svd_rank=rank),
            PeftMerge("ties", density=0.5), PeftMerge("dare_ties", density=0.5), PeftMerge("cat"))
