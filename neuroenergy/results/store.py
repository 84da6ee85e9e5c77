"""The run store: one JSON file per finished cell, written atomically.

Layout of an output directory::

    <out>/spec.json        the resolved design (JSON) the runs belong to
    <out>/cells/*.json     one CellRecord per finished cell (ok, failed or diverged)
    <out>/cube.h5          the result cube assembled from the records
    <out>/.lock            held by the running driver (one writer at a time)

A record is written with :func:`neuroenergy._io.atomic_write_text`
(write-to-temporary + ``os.replace``), so a crash or
``kill -9`` at any moment leaves either the whole record or none of it; the
temporaries such a kill leaves behind (``.*.tmp``) are removed by the next
run (:meth:`RunStore.remove_stale_temporaries`). Files get the permissions
the umask allows (a colleague can read a shared run directory).

A record that cannot be read (truncated, not a JSON object, no ``key`` or
``status``) is moved aside to ``cells/corrupt/`` (kept, never deleted) and
its cell counts as missing, so the next run computes it again.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroenergy._io import TEMPORARY_SUFFIX, atomic_write_text
from neuroenergy.errors import ConfigError, NeuroEnergyError

__all__ = ["RunStore", "CellRecord", "atomic_write_text", "cell_key", "StoreLockedError", "FINISHED_STATUSES"]

#: Record statuses that are final: a resumed run keeps them. A ``failed``
#: record is not final: its cell runs again on the next run.
FINISHED_STATUSES = ("ok", "diverged")


class StoreLockedError(NeuroEnergyError, RuntimeError):
    """Another process is running a protocol into the same output directory."""


def cell_key(architecture: str, dataset: str, lam: float, seed: int) -> str:
    """File-name-safe identifier of a cell, e.g. ``mlp__mnist__lam0.0001__seed3``."""
    return f"{architecture}__{dataset}__lam{float(lam)!r}__seed{int(seed)}"


#: A cell's status: finished, raised an error, or its loss became NaN/inf.
RECORD_STATUSES = ("ok", "failed", "diverged")


@dataclass(slots=True)
class CellRecord:
    """What one cell leaves behind: every key of ``cells/<key>.json``, typed.

    ``run_cell`` fills one field by field (``slots``: a misspelt field is an
    AttributeError where it is written) and hands on :meth:`to_dict`, plain
    JSON-able data; :meth:`RunStore.write` reads every record back through
    :meth:`from_dict`, so nothing reaches disk with an unknown key or a
    missing one. Optional fields left ``None`` are not written.
    """

    key: str
    architecture: str | None
    dataset: str | None
    lam: float | None
    seed: int | None
    status: str = "failed"
    error: str = ""
    config: dict[str, Any] = field(default_factory=dict)  #: ``CellConfig.to_dict()``
    config_hash: str | None = None  #: ``protocols.cell.config_hash`` of ``config``
    metrics: dict[str, Any] = field(default_factory=dict)  #: names declared in ``neuroenergy.metrics``
    curve: dict[str, list] = field(default_factory=dict)  #: curve metrics, one value per evaluation
    layers: list[dict[str, Any]] | None = None  #: the test report's per-layer rows
    per_class_recall: list[float | None] | None = None
    test_class_counts: list[int] | None = None  #: test samples per class (the chance levels)
    family: str | None = None
    modality: str | None = None
    device: str | None = None
    traceback: str | None = None  #: of a failed cell
    torch_threads: int | None = None  #: the threads its wall time was measured with
    provenance: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None or f.default is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CellRecord":
        """A record from its dict form; ConfigError (one line) for an unknown or missing key, or a bad status."""
        if isinstance(data, CellRecord):
            return data
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"cell record {data.get('key', '?')}: unknown key {unknown[0]!r}; "
                              f"a record holds {', '.join(names)}")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ConfigError(f"cell record {data.get('key', '?')}: missing key {missing[0]!r}")
        if data.get("status", "failed") not in RECORD_STATUSES:
            raise ConfigError(f"cell record {data.get('key', '?')}: status {data['status']!r} is not one of "
                              f"{', '.join(RECORD_STATUSES)}")
        return cls(**data)


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
        """The spec text this directory was started with, or None for a new directory.

        Raises ConfigError naming the file when it is unreadable or not a JSON object.
        """
        if not self.spec_path.exists():
            return None
        try:
            text = self.spec_path.read_text(encoding="utf-8")
            if not isinstance(json.loads(text), dict):
                raise ValueError("not a JSON object")
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ConfigError(f"{self.spec_path} is unreadable or corrupt ({type(error).__name__}: {error}); "
                              "run with --force to replace it with the spec being run") from None
        return text

    def bind_spec(self, spec_text: str, *, force: bool = False) -> None:
        """Tie the directory to a spec; a different spec is refused unless ``force``."""
        try:
            existing = self.read_spec()
        except ConfigError:
            if not force:
                raise
            existing = ""  # corrupt: replaced by this spec
        if existing is not None and existing != spec_text and not force:
            raise ConfigError(
                f"{self.directory} holds runs of a different spec; use another --out, "
                "or --force to continue with the new spec (finished cells whose config it leaves "
                "unchanged are kept, the others run again)"
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

    def write(self, record: "CellRecord | dict[str, Any]") -> Path:
        """Persist one finished cell atomically (checked as a :class:`CellRecord` first)."""
        record = CellRecord.from_dict(record).to_dict()
        path = self.path_of(record["key"])
        atomic_write_text(path, json.dumps(_jsonable(record), indent=1, sort_keys=True))
        return path

    def keys(self) -> set[str]:
        """Keys of the cells with a record on disk (any status)."""
        if not self.cells_dir.exists():
            return set()
        return {p.stem for p in self.cells_dir.glob("*.json")}

    def read(self, key: str) -> dict[str, Any]:
        return json.loads(self.path_of(key).read_text(encoding="utf-8"))

    def read_checked(self, key: str, move_aside: bool = True) -> dict[str, Any] | None:
        """The record of ``key``, or None for an unreadable one (moved to ``cells/corrupt/``
        when ``move_aside``)."""
        path = self.path_of(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or record.get("key") != key or "status" not in record:
                raise ValueError("not a cell record (a JSON object with this key and a status)")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            if move_aside:
                self._move_aside(path, error)
            return None
        return record

    def _move_aside(self, path: Path, error: Exception) -> None:
        import sys
        import time

        corrupt = self.cells_dir / "corrupt"
        target = corrupt / f"{path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.json"
        reason = f"{type(error).__name__}: {error}"
        try:
            corrupt.mkdir(exist_ok=True)
            os.replace(path, target)
            print(f"warning: {path} is corrupt ({reason}); moved to {target}, its cell runs again",
                  file=sys.stderr)
        except OSError:  # a read-only directory (a colleague's status): leave it, count it missing
            print(f"warning: {path} is corrupt ({reason}); its cell counts as missing", file=sys.stderr)

    def records(self, move_aside: bool = True) -> Iterator[dict[str, Any]]:
        """Every readable record (corrupt ones are moved aside, see :meth:`read_checked`)."""
        for key in sorted(self.keys()):
            record = self.read_checked(key, move_aside)
            if record is not None:
                yield record

    def remove_stale_temporaries(self) -> int:
        """Remove the temporaries an interrupted write left behind (call while holding the lock);
        returns how many."""
        removed = 0
        for folder in (self.directory, self.cells_dir):
            for path in folder.glob(f".*{TEMPORARY_SUFFIX}") if folder.exists() else ():
                path.unlink(missing_ok=True)
                removed += 1
        return removed
