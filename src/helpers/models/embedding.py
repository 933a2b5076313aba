"""The ``Encoder``: a loaded model with its settings, pooling and normalisation, and ``embed``.

This is the only module that runs the encoder forward for embedding. Texts are tokenized once
and sorted by length so each batch pads little; with ``prefix_layers`` the output of the first
layers (which no adapter touches) is read from its own cache. The cache key holds everything a
raw embedding depends on: the weights fingerprint (base weights, the weights tag of a
compression, and the live adapter weights), pooling, max length and the exact text. L2
normalisation is applied after the cache, so cached vectors stay raw and serve both settings.
Apart from choosing and loading a model (``encoder``) and from the store on disk
(``embedding_cache``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..core.io import default_cache_dir
from ..core.progress import progress as progress_bar
from .embedding_cache import ArrayStore, text_key


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
        text_keys = [text_key(t) for t in texts]
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
        keys = [text_key(t) for t in texts]
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


def _pad_states(states: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """Right-pad per-text (tokens, hidden) arrays into one batch tensor (padding is masked)."""
    longest = max(len(x) for x in states)
    out = np.zeros((len(states), longest, states[0].shape[1]), dtype=np.float32)
    for row, x in enumerate(states):
        out[row, : len(x)] = x
    return torch.from_numpy(out).to(device)
