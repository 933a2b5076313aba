"""The disk cache of embeddings and frozen-prefix states: arrays stored per text, in shards.

A per-configuration folder maps text hashes (``text_key``) to 2-d float32 arrays. Each entry is
written to a temporary folder and renamed into place, so a killed run loses nothing and never
leaves a half-written file; a damaged shard is reported, removed and its entries recomputed.
NumPy only. Apart from the ``Encoder`` (``embedding``), which decides what a folder is keyed by,
so that the format on disk is read and written in one place.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..core.io import clean_stale_temps, publish_folder, temp_name


def text_key(text: str) -> str:
    """A text's key in the cache: a hash of its exact UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


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
