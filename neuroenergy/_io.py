"""Atomic file writes: the one way neuroenergy creates or replaces a file.

Owns :func:`atomic_path` and its two conveniences :func:`atomic_write`
(bytes from a callback) and :func:`atomic_write_text`. Run records, the
resolved spec, result cubes, cached arrays, checksum memos and downloads all
go through it.

How: the content goes to a temporary file in the target's directory (the same
file system, so ``os.replace`` is an atomic rename), is flushed to disk
(``fsync``), then renamed over the target. A reader — or a run resumed after a
crash or ``kill -9`` — sees the old file or the new one, never a part. On an
error the temporary is removed and the target is left as it was; only a kill
can leave a temporary behind, named ``.<name>.<random>.tmp``
(:data:`TEMPORARY_SUFFIX`), and deleting one is always safe. A new file gets
mode ``0o666 & ~umask``, as a plain ``open`` would give it (``mkstemp`` alone
would make it private to the owner, and a colleague could not read a shared
run directory or cache).

A leaf module: it imports nothing from neuroenergy, so every package can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["TEMPORARY_SUFFIX", "atomic_path", "atomic_write", "atomic_write_text"]

#: Suffix of the temporary files :func:`atomic_path` creates (``.<name>.<random>.tmp``).
TEMPORARY_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask.

    Read from ``/proc/self/status`` where the kernel reports it (Linux >= 4.7):
    ``os.umask`` can only be read by setting it, which races with other threads.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; on leaving, it replaces ``path``.

    The temporary exists (empty) when yielded, so a writer that needs a file
    name (``xarray.Dataset.to_netcdf``, ``numpy.save``) can write to it. When
    the block ends normally the temporary is fsync'ed and renamed over
    ``path``; when it raises (anything, ``KeyboardInterrupt`` included) the
    temporary is removed, ``path`` is untouched and the exception propagates.
    The parent directory is created when missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        try:
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb") as written:  # the writer may have closed its own handle without syncing
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Create or replace ``path`` with the bytes ``write(file)`` writes to a binary file, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Create or replace ``path`` with ``text`` (UTF-8), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
