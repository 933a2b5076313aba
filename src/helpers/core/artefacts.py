"""Figure data and timings as keyed artefacts: computed once, redrawn from, recomputed when their
key changes — the same rule as a results row (``helpers.core.results``).

An artefact is what a figure or table is drawn from that costs something to compute: t-SNE
coordinates, cosine matrices, scores per class, token counts, latency, training-time and memory
tables. It is stored as ``<folder>/<name>-<hash>.npz``, the hash being that of its key: everything
its values depend on — the results rows it is drawn from (their keys), the encoder's identity,
the data's checksums, sample sizes and seeds, and for timings the machine's fingerprint (CPU
model, cores, torch version, device). ``stored`` returns the stored values where the key matches
and otherwise computes, writes (atomically) and returns them; with ``recompute`` it never reads.
The report runner counts artefacts reused and computed beside rows, and names the timings a new
machine measured anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .io import atomic_path

Values = dict  # name -> np.ndarray | pd.DataFrame | JSON value (number, text, list, dict)


class ArtefactError(RuntimeError):
    """A stored artefact cannot be read; the message names the file."""


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it (Linux), else what Python's platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_fingerprint(device: str = "cpu") -> dict:
    """What a timing depends on besides the code: the CPU model, its cores, the torch release
    and the device measured on (with the GPU's name)."""
    import torch

    fingerprint = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__, "device": device}
    if device.startswith("cuda"):
        fingerprint["gpu"] = torch.cuda.get_device_name(device)
    return fingerprint


def library_versions(*names: str) -> dict:
    """The installed release of each package: part of the key of what those packages compute."""
    from importlib import metadata

    return {name: metadata.version(name) for name in names}


def key_hash(name: str, key: dict) -> str:
    text = json.dumps({"name": name, "key": key}, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _plain(value):
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"a key cannot hold {type(value).__name__}: {value!r}")


def path_of(name: str, key: dict, folder: Path) -> Path:
    return Path(folder) / f"{name}-{key_hash(name, key)}.npz"


def stored(name: str, key: dict, compute: Callable[[], Values], *, folder: Path, recompute: bool = False) -> Values:
    """The artefact ``name`` for ``key``: read where stored, else computed and stored."""
    from .results import note_usage

    path = path_of(name, key, folder)
    if path.is_file() and not recompute:
        try:
            values = read(path)
        except ArtefactError as exc:
            warnings.warn(f"{exc}; computed anew", stacklevel=2)
        else:
            note_usage(kind="artefacts", reused=1, computed=0)
            return values
    values = compute()
    write(path, name, key, values)
    note_usage(kind="artefacts", reused=0, computed=1, name=name if "machine" in key else None)
    return values


def _array(name: str, label: str, values) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object:
        if not all(isinstance(v, str) for v in array):
            raise TypeError(f"artefact {name}: {label} holds Python objects; store text or numbers")
        array = array.astype(str)
    return array


def write(path: Path, name: str, key: dict, values: Values) -> None:
    """One .npz: arrays as they are, each table column as an array (exact: a value read back is
    the value written), other values as JSON."""
    entries = {"__key__": np.array(json.dumps({"name": name, "key": key}, default=_plain, sort_keys=True))}
    plain, tables = {}, {}
    for k, v in values.items():
        if isinstance(v, np.ndarray):
            entries[f"array:{k}"] = _array(name, f"array {k!r}", v)
        elif isinstance(v, pd.DataFrame):
            tables[k] = [str(c) for c in v.columns]
            for i, column in enumerate(v.columns):
                entries[f"table:{k}:{i}"] = _array(name, f"column {column!r} of {k!r}", v[column].to_numpy())
        else:
            plain[k] = v
    entries["json"] = np.array(json.dumps({"values": plain, "tables": tables}, default=_plain))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **entries)


def read(path: Path) -> Values:
    """The values stored in one artefact file; a damaged file is an error naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["json"]))
            values = meta["values"]
            for k in data.files:
                kind, _, name = k.partition(":")
                if kind == "array":
                    values[name] = data[k]
            for name, columns in meta["tables"].items():
                values[name] = pd.DataFrame({c: data[f"table:{name}:{i}"] for i, c in enumerate(columns)})
    except Exception as exc:  # zip, npy and json each raise their own kinds
        raise ArtefactError(f"{path}: cannot be read as an artefact ({type(exc).__name__}: {exc})") from exc
    return values


def stored_key(path: Path) -> dict:
    """The key an artefact file was stored under."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__key__"]))
