"""The run store: one JSON file per finished cell, written atomically.

Layout of an output directory::

    <out>/spec.json        the resolved design (JSON) the runs belong to
    <out>/cells/*.json     one RunRecord per finished cell (ok, failed or diverged)
    <out>/cube.h5          the result cube assembled from the records
    <out>/.lock            held by the running driver (one writer at a time)

A record is written with write-to-temporary + ``os.replace``, so a crash or
``kill -9`` at any moment leaves either the whole record or none of it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neuroenergy.errors import ConfigError, NeuroEnergyError

__all__ = ["RunStore", "atomic_write_text", "cell_key", "StoreLockedError"]


class StoreLockedError(NeuroEnergyError, RuntimeError):
    """Another process is running a protocol into the same output directory."""


def cell_key(architecture: str, dataset: str, lam: float, seed: int) -> str:
    """File-name-safe identifier of a cell, e.g. ``mlp__mnist__lam0.0001__seed3``."""
    return f"{architecture}__{dataset}__lam{float(lam)!r}__seed{int(seed)}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class RunStore:
    """Finished cells of one output directory.

    Args:
        directory: the ``--out`` directory (created if missing).
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.cells_dir = self.directory / "cells"
        self._lock_handle = None

    # -- spec -------------------------------------------------------------
    @property
    def spec_path(self) -> Path:
        return self.directory / "spec.json"

    def read_spec(self) -> str | None:
        """The spec text this directory was started with, or None for a new directory."""
        return self.spec_path.read_text(encoding="utf-8") if self.spec_path.exists() else None

    def bind_spec(self, spec_text: str, *, force: bool = False) -> None:
        """Tie the directory to a spec; a different spec is refused unless ``force``."""
        existing = self.read_spec()
        if existing is not None and existing != spec_text and not force:
            raise ConfigError(
                f"{self.directory} holds runs of a different spec; use another --out, "
                "or --force to continue with the new spec (finished cells that are still in the "
                "design are kept)"
            )
        if existing != spec_text:
            atomic_write_text(self.spec_path, spec_text)

    # -- lock -------------------------------------------------------------
    def lock(self) -> None:
        """Become the only writer; raises StoreLockedError if another run holds the lock."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.directory / ".lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreLockedError(
                    f"another run is writing to {self.directory}; wait for it to finish "
                    "(see `status`) or choose another --out"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def unlock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def is_locked(self) -> bool:
        """True while some process holds the lock."""
        path = self.directory / ".lock"
        if not path.exists():
            return False
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    # -- records ----------------------------------------------------------
    def path_of(self, key: str) -> Path:
        return self.cells_dir / f"{key}.json"

    def write(self, record: dict[str, Any]) -> Path:
        """Persist one finished cell atomically."""
        path = self.path_of(record["key"])
        atomic_write_text(path, json.dumps(_jsonable(record), indent=1, sort_keys=True))
        return path

    def keys(self) -> set[str]:
        """Keys of the finished cells."""
        if not self.cells_dir.exists():
            return set()
        return {p.stem for p in self.cells_dir.glob("*.json")}

    def read(self, key: str) -> dict[str, Any]:
        return json.loads(self.path_of(key).read_text(encoding="utf-8"))

    def records(self) -> Iterator[dict[str, Any]]:
        for key in sorted(self.keys()):
            yield self.read(key)
