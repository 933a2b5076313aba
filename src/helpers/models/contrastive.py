"""Phase 1: SetFit-style contrastive fine-tuning with LoRA, as the study defines it.

The loss (cosine similarity, temperature, only negative pairs in the denominator) is the
study's own and is written here; LoRA comes from `peft`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model

from ..core.config import TrainingArgs
from .embedding import Encoder
from ..compute.fewshot import all_pairs, make_pairs, stratified_batches
from ..core.io import clean_stale_temps, publish_folder, temp_name
from ..core.progress import progress as progress_bar


def contrastive_loss(x: torch.Tensor, y: torch.Tensor, is_positive: torch.Tensor,
                     temperature: float = 0.2) -> torch.Tensor:
    """L = -(1/|P|) sum_p log( exp(sim_p/tau) / sum_n exp(sim_n/tau) ).

    ``x``, ``y``: (pairs, dim) embeddings of each pair's two sides; ``is_positive``: bool
    (pairs,). Only negative pairs enter the denominator, so a batch must hold both kinds.
    """
    pos = is_positive.bool()
    if not pos.any() or pos.all():
        raise ValueError("a batch needs both positive and negative pairs (use stratified batches)")
    sim = F.cosine_similarity(x, y, dim=-1) / temperature
    return -(sim[pos] - torch.logsumexp(sim[~pos], dim=0)).mean()


def lora_config(model: torch.nn.Module, args: TrainingArgs) -> LoraConfig:
    """Rank-r LoRA on key/value of the last n encoder layers (indices read from the model), or
    of the layers ``args.layers`` names."""
    return LoraConfig(
        r=args.rank, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
        target_modules=list(args.target_modules),
        layers_to_transform=args.adapted_layers(model.config.num_hidden_layers),
        layers_pattern="layer", bias="none",
    )


def with_lora(encoder: Encoder, args: TrainingArgs, *, seed: int = 0) -> Encoder:
    """A copy of ``encoder`` whose model carries a fresh (seeded) LoRA adapter; base frozen.
    The seed drives LoRA's initialisation through a forked generator, so the caller's random
    stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = get_peft_model(copy.deepcopy(encoder.model), lora_config(encoder.model, args))
    return encoder.with_model(model)


def _trainable_copy(adapted: Encoder) -> Encoder:
    """A copy of an adapted encoder whose LoRA weights (only) will train."""
    model = copy.deepcopy(adapted.model)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return adapted.with_model(model)


def trainable_parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_lora(encoder: Encoder, texts: list[str], labels, *, seed: int = 0,
               args: TrainingArgs = TrainingArgs(), start_from: Encoder | None = None,
               progress: bool = True) -> tuple[Encoder, dict]:
    """Phase 1 on the few-shot training texts. Returns the adapted encoder and a log
    (loss per step, wall time). Cached on disk by every input: a re-run reuses the adapter.

    ``start_from``: an encoder already carrying a LoRA adapter on the same base (e.g. a
    composition of other reviews' skills) whose adapter is trained further instead of a fresh
    one; its structure (rank, layers) then replaces that of ``args``."""
    labels = np.asarray(labels)
    cache = adapter_dir(start_from or encoder, texts, labels, seed=seed, args=args)
    cached = _load_adapter(encoder, cache) if cache else None
    if cached:
        return cached

    adapted = with_lora(encoder, args, seed=seed) if start_from is None else _trainable_copy(start_from)
    pairs = (all_pairs(labels) if args.pairs == "all"
             else make_pairs(labels, n_positive=args.n_positive, n_negative=args.n_negative, seed=seed))
    enc = adapted.tokenizer(list(texts), truncation=True, padding=True, return_tensors="pt",
                            max_length=encoder.max_length).to(adapted.device)
    optimizer = make_optimizer(adapted.model, args)
    batches = [b for epoch in range(args.epochs)
               for b in stratified_batches(pairs, batch_size=args.batch_size, seed=seed * 1000 + epoch)]
    losses, start = [], time.perf_counter()
    adapted.model.train()
    with torch.random.fork_rng(devices=[]):  # dropout, if any, draws from the seed alone
        torch.manual_seed(seed)
        for batch in progress_bar(batches, desc="phase-1 LoRA steps", enabled=progress):
            losses.append(training_step(adapted, enc, batch, optimizer, args))
    adapted.model.eval()
    log = {"losses": losses, "train_seconds": time.perf_counter() - start, "steps": len(batches),
           "trainable_parameters": trainable_parameter_count(adapted.model)}
    if cache:
        _save_adapter(adapted.model, cache, log)
    return adapted, log


def make_optimizer(model: torch.nn.Module, args: TrainingArgs) -> torch.optim.Optimizer:
    """AdamW over the trainable (LoRA) parameters only (our default; the study names none)."""
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.learning_rate)


def training_step(adapted: Encoder, inputs: dict[str, torch.Tensor], pairs: np.ndarray,
                  optimizer: torch.optim.Optimizer, args: TrainingArgs) -> float:
    """One optimiser step on a batch of (i, j, same_class) pairs over tokenized ``inputs``.

    Each distinct text of the batch is embedded once and the pairs are indexed from those
    embeddings: the same loss and gradient as embedding both sides of every pair, less work.
    """
    used = np.unique(pairs[:, :2])
    where = {int(t): k for k, t in enumerate(used)}
    batch = {k: v[torch.as_tensor(used)] for k, v in inputs.items()}
    with torch.autocast(adapted.device.type, dtype=torch.bfloat16, enabled=args.bf16):
        states = adapted.model(**batch).last_hidden_state
        emb = adapted.pool(states, batch["attention_mask"]).float()
    left = emb[[where[int(i)] for i in pairs[:, 0]]]
    right = emb[[where[int(j)] for j in pairs[:, 1]]]
    loss = contrastive_loss(left, right, torch.as_tensor(pairs[:, 2] == 1), args.temperature)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def adapter_dir(encoder: Encoder, texts, labels, *, seed: int, args: TrainingArgs) -> Path | None:
    """Where phase 1's adapter for these inputs is cached (None without a cache): keyed by the
    encoder's weights, pooling, max length, seed, every training argument (``layers`` resolved,
    so naming the default's layers hits the default's entry) and the exact training texts and labels. Normalisation is not part of it: the loss is cosine-based."""
    if encoder.cache_dir is None:
        return None
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps([encoder.fingerprint(), encoder.pooling, encoder.max_length, seed,
                         args.resolved(encoder.model.config.num_hidden_layers).identity(),
                         [int(v) for v in labels]], sort_keys=True).encode())
    for t in texts:
        h.update(t.encode() + b"\0")
    return encoder.cache_dir / "adapters" / h.hexdigest()


def _load_adapter(encoder: Encoder, folder: Path) -> tuple[Encoder, dict] | None:
    """The cached adapter and its log, or None. A damaged entry (unreadable weights or log)
    is reported with its path and removed, so phase 1 runs again."""
    if not folder.is_dir():
        return None
    try:
        log = json.loads((folder / "train_log.json").read_text())
        model = PeftModel.from_pretrained(copy.deepcopy(encoder.model), folder)
    except Exception as exc:  # safetensors, json and peft each raise their own kinds
        warnings.warn(f"damaged cache entry {folder} ({type(exc).__name__}: {exc}); removed, "
                      "phase 1 runs again", stacklevel=3)
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return encoder.with_model(model.eval()), log


def _save_adapter(model: PeftModel, target: Path, log: dict) -> None:
    """peft's own safetensors format, written to a temp folder and renamed into place."""
    clean_stale_temps(target.parent)
    tmp = temp_name(target)
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    (tmp / "train_log.json").write_text(json.dumps(log))
    publish_folder(tmp, target)
