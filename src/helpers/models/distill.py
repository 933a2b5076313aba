"""Knowledge distillation, the third compression of the study's family (beside 4-bit and Wanda):
a student with fewer layers, derived from the embedded encoder without downloading anything, is
trained to reproduce a teacher's geometry on a review's own texts, without their labels.

- ``student_of``: every other layer of the encoder (as DistilBERT initialises its student from
  BERT), or any number of evenly spaced layers;
- ``distill``: setfit's ``DistillationTrainer`` objective — pairs of texts whose target is the
  teacher's cosine similarity, and sentence-transformers' ``CosineSimilarityLoss`` (the mean
  squared error between the student's cosine and that target) — written here because the
  teacher is a peft-adapted encoder with this project's pooling and its vectors come from the
  disk cache; tested equal to ``CosineSimilarityLoss``. The student's whole body trains; seeded.

The distilled student is cached on disk, keyed by the student's weights, the teacher's
fingerprint, the texts and every argument.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F

from ..core.config import DistillArgs, require
from .embedding import Encoder
from .encoder import weights_fingerprint
from ..core.io import clean_stale_temps, publish_folder, temp_name
from ..core.progress import progress as progress_bar


def kept_layers(n_layers: int, n_student: int) -> list[int]:
    """Evenly spaced teacher layers for a student of ``n_student`` (6 → 3: layers 0, 2, 4, as
    DistilBERT keeps every other one)."""
    require(1 <= n_student <= n_layers, f"a student has 1 to {n_layers} layers, got {n_student}")
    return [int(i) for i in np.floor(np.arange(n_student) * n_layers / n_student)]


def student_of(encoder: Encoder, n_layers: int) -> Encoder:
    """A copy of ``encoder``'s base model keeping ``n_layers`` of its layers (``kept_layers``)."""
    model = copy.deepcopy(encoder.bert())
    keep = kept_layers(model.config.num_hidden_layers, n_layers)
    model.encoder.layer = torch.nn.ModuleList([model.encoder.layer[i] for i in keep])
    model.config.num_hidden_layers = n_layers
    return Encoder(model=model.eval(), tokenizer=encoder.tokenizer, name=f"{encoder.name}, {n_layers}-layer student",
                   pooling=encoder.pooling, max_length=encoder.max_length, base_fingerprint=weights_fingerprint(model),
                   normalize=encoder.normalize, cache_dir=encoder.cache_dir)


def cosine_loss(student_left: torch.Tensor, student_right: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' ``CosineSimilarityLoss``: MSE between the student's cosine of each
    pair and its target (the teacher's cosine)."""
    return F.mse_loss(F.cosine_similarity(student_left, student_right, dim=-1), target)


def pair_draws(n_texts: int, args: DistillArgs):
    """Each step's text pairs (left, right) and the distinct texts they use, in order: seeded, so
    ``helpers.analysis.cost`` derives the FLOPs of a distillation without running it."""
    rng = np.random.default_rng(args.seed)
    for _ in range(args.steps):
        left, right = rng.integers(0, n_texts, (2, args.pairs))
        yield left, right, np.unique(np.r_[left, right])


def distillation_step(student: Encoder, model: torch.nn.Module, batch: dict, left: list[int], right: list[int],
                      target: torch.Tensor, optimizer) -> float:
    """One optimiser step: the student embeds the batch's texts once, and the cosine of each pair
    (rows ``left[k]``, ``right[k]`` of the batch) is pulled towards ``target[k]``. Returns the loss."""
    emb = student.pool(model(**batch).last_hidden_state, batch["attention_mask"])
    loss = cosine_loss(emb[left], emb[right], target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def distill(student: Encoder, teacher_vectors: np.ndarray, texts: list[str], *, args: DistillArgs = DistillArgs(),
            teacher_fingerprint: str, progress: bool = True) -> tuple[Encoder, dict]:
    """Train ``student`` so the cosine of its embeddings of two texts matches the teacher's
    (``teacher_vectors``, one row per text). Returns the student and a log (loss per step,
    seconds); cached on disk by every input."""
    folder = _cache_dir(student, texts, args, teacher_fingerprint)
    if folder is not None and (folder / "model.safetensors").is_file():
        loaded = _load(student, folder)
        if loaded is not None:
            return loaded
    model = copy.deepcopy(student.model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    teacher = torch.as_tensor(np.asarray(teacher_vectors, dtype=np.float32), device=student.device)
    losses, start = [], time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        draws = pair_draws(len(texts), args)
        for left, right, used in progress_bar(draws, total=args.steps, desc="distillation steps", enabled=progress):
            batch = student.tokenizer([texts[i] for i in used], truncation=True, padding=True,
                                      max_length=student.max_length, return_tensors="pt").to(student.device)
            where = {int(t): k for k, t in enumerate(used)}
            target = F.cosine_similarity(teacher[left], teacher[right], dim=-1)
            losses.append(distillation_step(student, model, batch, [where[int(i)] for i in left],
                                            [where[int(j)] for j in right], target, optimizer))
    model.eval()
    log = {"losses": losses, "train_seconds": time.perf_counter() - start}
    distilled = student.with_model(model, tag=f"distilled-{folder.name if folder else 'uncached'}")
    if folder is not None:
        _save(model, folder, log)
    return distilled, log


def _cache_dir(student: Encoder, texts, args: DistillArgs, teacher_fingerprint: str):
    if student.cache_dir is None:
        return None
    h = hashlib.blake2b(json.dumps([student.base_fingerprint, student.pooling, student.max_length, teacher_fingerprint,
                                    asdict(args)]).encode(), digest_size=16)
    for t in texts:
        h.update(t.encode() + b"\0")
    return student.cache_dir / "students" / h.hexdigest()


def _load(student: Encoder, folder):
    from safetensors.torch import load_file

    try:
        model = copy.deepcopy(student.model)
        model.load_state_dict(load_file(folder / "model.safetensors"))
        log = json.loads((folder / "log.json").read_text())
    except Exception:  # damaged: distil again
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return student.with_model(model.eval(), tag=f"distilled-{folder.name}"), log


def _save(model, folder, log: dict) -> None:
    from safetensors.torch import save_file

    clean_stale_temps(folder.parent)
    tmp = temp_name(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    (tmp / "log.json").write_text(json.dumps(log))
    publish_folder(tmp, folder)
