"""The cache directory and the derived-array cache.

Owns: where the cache lives (``NEUROENERGY_CACHE``, default
``~/.cache/neuroenergy``) and the arrays a dataset's preprocessing produces.
Every file is written with :func:`neuroenergy._io.atomic_write` (temp file in
the same directory + ``os.replace``), so a reader never sees half a file and
concurrent writers of the same deterministic content cannot corrupt each other.

Layout under the cache directory::

    arrays/<dataset>/<split>-<key>.inputs.npy    inputs  [N, *input_spec.shape]
    arrays/<dataset>/<split>-<key>.targets.npy   targets [N] int64
    arrays/<dataset>/<split>-<key>.meta.json     small extras (written last:
                                                 its presence marks the entry complete)
    verified/<dataset>.json                      checksum memo (see sources.py)
    downloads/<relpath>                          files fetched from the official source

``<key>`` hashes the dataset name, its preprocessing version, the split, the
load options and the checksums of every source file read, so a different
source file or a preprocessing change can never be served stale arrays.
Deleting the cache directory is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neuroenergy._io import atomic_write

ENV_CACHE = "NEUROENERGY_CACHE"

__all__ = [
    "ENV_CACHE",
    "cache_dir",
    "cache_key",
    "read_arrays",
    "write_arrays",
]


def cache_dir() -> Path:
    """The cache directory: ``$NEUROENERGY_CACHE`` or ``~/.cache/neuroenergy``.

    Not created here; writers create what they need.
    """
    env = os.environ.get(ENV_CACHE)
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "neuroenergy"
    return path.absolute()


def cache_key(material: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-able ``material`` (20 hex digits)."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _entry(cache: Path, dataset: str, split: str, key: str) -> tuple[Path, Path, Path]:
    stem = cache / "arrays" / dataset / f"{split}-{key}"
    return (
        stem.with_name(stem.name + ".inputs.npy"),
        stem.with_name(stem.name + ".targets.npy"),
        stem.with_name(stem.name + ".meta.json"),
    )


def read_arrays(
    cache: Path, dataset: str, split: str, key: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """The cached ``(inputs, targets, meta)`` of an entry, or None if absent or unreadable."""
    inputs_path, targets_path, meta_path = _entry(cache, dataset, split, key)
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        # A full read (not mmap) gives writable arrays that torch.from_numpy
        # accepts without a warning; MNIST train is 47 MB, read in ~20 ms.
        inputs = np.load(inputs_path, allow_pickle=False)
        targets = np.load(targets_path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # a damaged entry is rebuilt, never trusted
    if inputs.shape[:1] != targets.shape:
        return None
    return inputs, targets, meta


def write_arrays(
    cache: Path,
    dataset: str,
    split: str,
    key: str,
    inputs: np.ndarray,
    targets: np.ndarray,
    meta: Mapping[str, Any],
) -> bool:
    """Store an entry; returns False (with a warning) if the cache is not writable."""
    inputs_path, targets_path, meta_path = _entry(cache, dataset, split, key)
    try:
        atomic_write(inputs_path, lambda f: np.save(f, inputs, allow_pickle=False))
        atomic_write(targets_path, lambda f: np.save(f, targets, allow_pickle=False))
        atomic_write(meta_path, lambda f: f.write(json.dumps(dict(meta)).encode()))
    except OSError as exc:
        warnings.warn(
            f"could not write the {dataset} cache under {cache} ({exc}); the arrays are "
            f"rebuilt on every load. Set {ENV_CACHE} to a writable directory.",
            stacklevel=3,
        )
        return False
    return True
