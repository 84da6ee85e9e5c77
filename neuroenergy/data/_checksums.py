"""Known sizes and sha256 digests of every source file the loaders read.

The digests are package data, not code: one text file per dataset folder,
``neuroenergy/data/checksums/<folder>.sha256``, read with
:mod:`importlib.resources` (so they ship inside a wheel). Copied once from the
data manifest (PhysioNet's SHA256SUMS for MIT-BIH, the upstream md5-verified
files for the rest) so that the package can verify any data root --
wherever it is -- without reading anything but the files themselves. Each
file has one line per source file: ``<sha256> <size in bytes> <path relative
to the data root>``; lines starting with ``#`` are comments.

Regenerate only when a dataset's source files change (and bump that
dataset's ``version`` so cached arrays are rebuilt).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

__all__ = ["table", "FOLDERS"]

#: The dataset folders (under the data root) that have a checksum table.
FOLDERS: tuple[str, ...] = ("MNIST", "FashionMNIST", "NMNIST", "FSDD", "mitdb", "SST-2")


@lru_cache(maxsize=None)
def table(folder: str) -> Mapping[str, tuple[str, int]]:
    """``{relative path: (sha256, size in bytes)}`` of the files under ``folder`` (read-only)."""
    if folder not in FOLDERS:
        raise KeyError(f"no checksum table for {folder!r}; known: {', '.join(FOLDERS)}")
    text = resources.files("neuroenergy.data").joinpath("checksums", f"{folder}.sha256").read_text("utf-8")
    entries: dict[str, tuple[str, int]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        digest, size, path = line.split(" ", 2)
        entries[path] = (digest, int(size))
    return MappingProxyType(entries)
