"""Source files: where they are, whether they are intact, how missing ones arrive.

Owns:

* the data root: ``root`` argument > ``$NEUROENERGY_DATA`` > ``./data``. The
  root is only ever read -- it may be a read-only mount (as in CI);
* checksum verification against the digests shipped with the package
  (``_checksums.py``). Hashing runs once per file: the result is remembered
  in ``<cache>/verified/<dataset>.json`` keyed by path, size, mtime, inode and
  ctime, so a changed file is hashed again and a corrupted one always fails
  (ctime changes with every write and cannot be set back, as mtime can: a
  same-size edit with its mtime restored is caught);
* downloads: a file missing from the root (and from the download cache) is
  fetched from the official source into ``<cache>/downloads/<relpath>`` when
  the network is reachable. With ``NEUROENERGY_OFFLINE=1``, or when the
  source host does not accept a TCP connection within ``CONNECT_TIMEOUT_S``
  seconds, loading fails at once with :class:`DataNotFoundError` naming every
  missing file and where it goes;
* mirrors: with ``$NEUROENERGY_MIRROR`` (or ``mirror=``) set to an
  ``http(s)://`` or ``file://`` URL of a tree laid out like the data root,
  every file is taken from ``<mirror>/<relpath>`` instead of the official
  source, and verified against the same checksums.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import socket
import threading
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Protocol
from urllib.parse import quote, urlsplit

from neuroenergy._io import atomic_write
from neuroenergy.errors import ChecksumError, DataNotFoundError, InvalidInputError

ENV_DATA = "NEUROENERGY_DATA"
ENV_OFFLINE = "NEUROENERGY_OFFLINE"
ENV_MIRROR = "NEUROENERGY_MIRROR"
CONNECT_TIMEOUT_S = 3.0
"""Seconds to wait for a TCP connection to the source host before calling it offline."""
READ_TIMEOUT_S = 30.0
"""Seconds a download may stall (no byte received) before it is abandoned."""
_MAX_LISTED = 20  # missing files named in one error message; all are in .missing

log = logging.getLogger("neuroenergy.data")


class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...


#: ``progress(description, total_bytes or None)`` -> a context manager yielding a bar with ``update(n)``.
Progress = Callable[[str, "int | None"], ContextManager[ProgressBar]]

__all__ = [
    "ENV_DATA",
    "ENV_OFFLINE",
    "ENV_MIRROR",
    "mirror_url",
    "download_source",
    "CONNECT_TIMEOUT_S",
    "Archive",
    "SourceFile",
    "resolve_root",
    "offline_forced",
    "ensure_files",
    "verify",
]


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root`` if given, else ``$NEUROENERGY_DATA``, else ``./data``.

    Relative paths are taken from the current directory. The directory need
    not exist (missing files may then be downloaded into the cache).
    """
    if root is None:
        root = os.environ.get(ENV_DATA) or "data"
    if not isinstance(root, (str, os.PathLike)):
        raise InvalidInputError(f"root must be a path (str or os.PathLike), got {type(root).__name__}")
    # absolute(), not resolve(): a root given through a symlink keeps its name in messages.
    return Path(root).expanduser().absolute()


def mirror_url(mirror: str | None = None) -> str | None:
    """The mirror to download from: ``mirror`` if given, else ``$NEUROENERGY_MIRROR``, else None.

    Raises InvalidInputError unless it is an ``http://``, ``https://`` or ``file://`` URL.
    """
    url = mirror if mirror is not None else (os.environ.get(ENV_MIRROR) or None)
    if url is None:
        return None
    if urlsplit(url).scheme not in {"http", "https", "file"}:
        raise InvalidInputError(
            f"mirror {url!r} is not an http://, https:// or file:// URL (a tree laid out like the data root)"
        )
    return url.rstrip("/")


def offline_forced() -> bool:
    """True when ``$NEUROENERGY_OFFLINE`` is 1/true/yes/on: never touch the network."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Archive:
    """An official archive (zip) from which source files are extracted.

    Attributes:
        url: where the archive is downloaded from.
        filename: name under ``<cache>/downloads/_archives/``.
        md5: the archive's published md5, if any (checked before extraction).
    """

    url: str
    filename: str
    md5: str | None = None


@dataclass(frozen=True)
class SourceFile:
    """One file a dataset reads, with its known digest and official origin.

    Attributes:
        relpath: POSIX path relative to the data root, e.g.
            ``"MNIST/raw/train-images-idx3-ubyte.gz"``.
        sha256: known sha256 (hex); or None when only ``md5`` is published.
        size: known size in bytes (a cheap first check), or None.
        md5: known md5 (hex), used only when the official source publishes
            nothing stronger (the N-MNIST archives).
        urls: direct download URLs, tried in order.
        archive: alternatively, the official archive holding this file ...
        member: ... under this member name (default: ``relpath``; a member
            whose name ends with ``/<member>`` also matches).
        group: files with the same group must come from one directory (the
            .hea/.dat/.atr of a WFDB record); None: the file stands alone.
    """

    relpath: str
    sha256: str | None = None
    size: int | None = None
    md5: str | None = None
    urls: tuple[str, ...] = ()
    archive: Archive | None = None
    member: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        if not (self.sha256 or self.md5):
            raise InvalidInputError(f"source file {self.relpath} needs a sha256 or md5 digest")

    @property
    def digest(self) -> str:
        """``"sha256:<hex>"`` (or ``"md5:<hex>"``): what the file must hash to."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}"

    @property
    def origin(self) -> str:
        """Where this file officially comes from (for messages)."""
        if self.urls:
            return self.urls[0]
        if self.archive:
            return f"{self.archive.url} (member {self.member or self.relpath})"
        return "(no download available)"


# --------------------------------------------------------------------------- locate


def ensure_files(
    dataset: str,
    sources: Sequence[SourceFile],
    root: Path,
    cache: Path,
    *,
    official: str = "",
    hint: str = "",
) -> dict[str, Path]:
    """Find, fetch if needed, and verify every source file of a load.

    A file (or a whole ``group``) present in the root is read from there;
    otherwise from ``<cache>/downloads``; otherwise it is downloaded there.

    Returns:
        ``{relpath: path}`` for every source, all verified.

    Raises:
        DataNotFoundError: files are missing and cannot be downloaded; the
            message names each missing file's path in the root, and the
            exception's ``missing`` attribute holds all of them.
        ChecksumError: a file does not match its known digest; names the file.
    """
    downloads = cache / "downloads"
    located: dict[str, Path] = {}
    to_fetch: list[SourceFile] = []
    for group in _groups(sources):
        in_root = [root / s.relpath for s in group]
        if all(p.is_file() for p in in_root):
            located.update((s.relpath, p) for s, p in zip(group, in_root))
            continue
        for s in group:
            cached = downloads / s.relpath
            if cached.is_file():
                located[s.relpath] = cached
            else:
                to_fetch.append(s)
    if to_fetch:
        _fetch(dataset, to_fetch, root, downloads, official, hint)
        located.update((s.relpath, downloads / s.relpath) for s in to_fetch)
    verify(dataset, [(s, located[s.relpath]) for s in sources], cache)
    return located


def _groups(sources: Sequence[SourceFile]) -> list[list[SourceFile]]:
    groups: dict[str, list[SourceFile]] = {}
    for s in sources:
        groups.setdefault(s.group or f"file:{s.relpath}", []).append(s)
    return list(groups.values())


# --------------------------------------------------------------------------- verify


def verify(dataset: str, pairs: Iterable[tuple[SourceFile, Path]], cache: Path) -> None:
    """Check each file against its known digest; hash only files not already verified.

    A file counts as verified when ``<cache>/verified/<dataset>.json`` holds
    the same path, size, mtime, inode, ctime (ns) and expected digest. Raises
    ChecksumError naming the first file that does not match.
    """
    memo_path = cache / "verified" / f"{dataset}.json"
    memo = _read_memo(memo_path)
    fresh: dict[str, list[object]] = {}
    try:
        for source, path in pairs:
            st = path.stat()
            record = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, source.digest]
            if memo.get(str(path)) == record:
                continue
            if source.size is not None and st.st_size != source.size:
                raise ChecksumError(
                    f"{path} is corrupted or not the expected {dataset} file {source.relpath}: "
                    f"{st.st_size} bytes, expected {source.size}. {_replace_advice(source, path, cache)}"
                )
            algo, expected = source.digest.split(":", 1)
            actual = hash_file(path, algo)
            if actual != expected:
                raise ChecksumError(
                    f"{path} is corrupted or not the expected {dataset} file {source.relpath}: "
                    f"{algo} {actual}, expected {expected}. {_replace_advice(source, path, cache)}"
                )
            fresh[str(path)] = record
    finally:
        if fresh:
            # Merge with what other processes may have written meanwhile; a lost
            # entry only costs one more hash later.
            _write_memo(memo_path, {**_read_memo(memo_path), **fresh})


def hash_file(path: Path, algo: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _replace_advice(source: SourceFile, path: Path, cache: Path) -> str:
    if (cache / "downloads") in path.parents:
        return f"Delete it (it is in the download cache) so that it is downloaded again from {source.origin}."
    return f"Replace it with the original from {source.origin} (or delete it to have it downloaded into the cache)."


def _read_memo(path: Path) -> dict[str, list[object]]:
    try:
        memo = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _write_memo(path: Path, memo: Mapping[str, list[object]]) -> None:
    try:
        atomic_write(path, lambda f: f.write(json.dumps(memo).encode()))
    except OSError:
        pass  # an unwritable cache only means hashing again next time


# --------------------------------------------------------------------------- fetch


def _fetch(
    dataset: str,
    to_fetch: Sequence[SourceFile],
    root: Path,
    downloads: Path,
    official: str,
    hint: str,
) -> None:
    """Download ``to_fetch`` into ``downloads`` or raise DataNotFoundError at once."""
    # Name what the user must supply: a group member that is in the root is
    # only fetched so that its group sits in one directory.
    missing = [root / s.relpath for s in to_fetch if not (root / s.relpath).is_file()]
    if offline_forced():
        raise _missing_error(dataset, missing, root, downloads, f"{ENV_OFFLINE} is set", official, hint)
    mirror = mirror_url()
    check_reachable(dataset, to_fetch, mirror, lambda reason: _missing_error(
        dataset, missing, root, downloads, reason, official, hint))
    archives: dict[str, Path] = {}
    for source in to_fetch:
        download_source(dataset, source, downloads, archives, mirror=mirror)


def check_reachable(dataset: str, to_fetch: Sequence[SourceFile], mirror: str | None, error) -> None:
    """Raise ``error(reason)`` at once when nothing in ``to_fetch`` can be downloaded."""
    if mirror is not None:
        urls = [mirror]
        if urlsplit(mirror).scheme == "file":
            return  # a local tree: each missing file is named when it is read
    else:
        candidates = [s.urls or ((s.archive.url,) if s.archive else ()) for s in to_fetch]
        urls = [u for group in candidates for u in group]
    if not urls:
        raise error("there is no download for them")
    unreachable = _probe(urls)
    if unreachable:
        where = "the mirror" if mirror is not None else "the official source"
        raise error(f"{where} is not reachable ({unreachable})")


def _missing_error(
    dataset: str,
    missing: Sequence[Path],
    root: Path,
    downloads: Path,
    reason: str,
    official: str,
    hint: str,
) -> DataNotFoundError:
    n = len(missing)
    listed = ", ".join(str(p) for p in missing[:_MAX_LISTED])
    if n > _MAX_LISTED:
        listed += f", ... and {n - _MAX_LISTED} more (the exception's .missing lists all)"
    message = (
        f"dataset {dataset!r}: {n} source file{'s are' if n != 1 else ' is'} missing from the data root "
        f"{root}: {listed}. Not downloaded: {reason}. To fix: put the file{'s' if n != 1 else ''} at "
        f"{'those paths' if n != 1 else 'that path'} (official source: {official or 'see data/README.md'}), or pass "
        f"root=... / set {ENV_DATA} to a directory laid out like that, or "
        f"{'unset ' + ENV_OFFLINE if offline_forced() else 'connect to the network'} to download "
        f"{'them' if n != 1 else 'it'} into {downloads}. See data/README.md."
    )
    if hint:
        message += " " + hint
    error = DataNotFoundError(message)
    error.missing = tuple(missing)  # type: ignore[attr-defined]
    return error


def _probe(urls: Sequence[str]) -> str | None:
    """None if some URL's host (or its proxy) accepts a TCP connection; else why not."""
    reasons: list[str] = []
    seen: set[tuple[str, int]] = set()
    for url in urls:
        endpoint = _endpoint(url)
        if endpoint in seen:
            continue
        seen.add(endpoint)
        reason = _connect(*endpoint, timeout=CONNECT_TIMEOUT_S)
        if reason is None:
            return None
        reasons.append(f"{endpoint[0]}:{endpoint[1]}: {reason}")
    return "; ".join(reasons)


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default_port


def _connect(host: str, port: int, timeout: float) -> str | None:
    """Open and close one TCP connection; the whole attempt, DNS included, is bounded.

    ``socket.create_connection``'s timeout does not cover name resolution,
    which can hang for long on a machine without network, so the attempt
    runs in a daemon thread that is simply abandoned after ``timeout``.
    """
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, name="neuroenergy-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no connection within {timeout:g} s"
    return None if outcome[0] is None else (str(outcome[0]) or type(outcome[0]).__name__)


def download_source(
    dataset: str,
    source: SourceFile,
    dest_root: Path,
    archives: dict[str, Path],
    *,
    mirror: str | None = None,
    archive_dir: Path | None = None,
    progress: Progress | None = None,
) -> None:
    """Download one source file to ``dest_root/<relpath>`` (atomically), verified.

    From ``<mirror>/<relpath>`` when a mirror is given (and nowhere else),
    else from the file's official URLs, else extracted from its official
    archive (downloaded once into ``archive_dir``, default
    ``dest_root/_archives``; ``archives`` remembers it across calls).
    ``progress(description, total_bytes)`` opens a progress bar.
    """
    dest = dest_root / source.relpath
    algo, expected = source.digest.split(":", 1)
    failures: list[str] = []
    bad_content: list[str] = []
    urls = (f"{mirror}/{quote(source.relpath)}",) if mirror is not None else source.urls
    for url in urls:
        try:
            log.info("downloading %s -> %s", url, dest)
            _download(url, dest, algo, expected, progress=progress, label=source.relpath, total=source.size)
            return
        except ChecksumError as exc:
            bad_content.append(str(exc))
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError is an OSError
            failures.append(f"{url}: {exc}")
    if source.archive is not None and mirror is None:
        try:
            archive = _archive_path(source.archive, archive_dir or dest_root / "_archives", archives, progress)
            _extract(archive, source.member or source.relpath, dest, algo, expected)
            return
        except ChecksumError as exc:
            bad_content.append(str(exc))
        except (OSError, http.client.HTTPException, ValueError, zipfile.BadZipFile, KeyError) as exc:
            failures.append(f"{source.archive.url}: {exc}")
    if bad_content:
        raise ChecksumError(f"dataset {dataset!r}: downloaded {source.relpath} is wrong: " + " | ".join(bad_content))
    raise DataNotFoundError(
        f"dataset {dataset!r}: could not download {source.relpath} into {dest}: "
        + "; ".join(failures)
        + ". Put the file there (or in the data root) by hand; see data/README.md."
    )


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _download(
    url: str,
    dest: Path,
    algo: str | None,
    expected: str | None,
    *,
    progress: Progress | None = None,
    label: str = "",
    total: int | None = None,
) -> None:
    """Stream ``url`` to ``dest`` (atomically); check the digest before the file appears."""
    request = urllib.request.Request(url, headers={"User-Agent": "neuroenergy-data/1"})
    h = hashlib.new(algo) if algo else None

    def write(f) -> None:  # noqa: ANN001 - a binary file
        with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as response:
            size = total or int(response.headers.get("Content-Length") or 0) or None
            with (progress(label or url, size) if progress else _NoBar()) as bar:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                    bar.update(len(chunk))
                    if h is not None:
                        h.update(chunk)
        if h is not None and h.hexdigest() != expected:
            raise ChecksumError(f"{url}: {algo} {h.hexdigest()}, expected {expected}")

    atomic_write(dest, write)


def _archive_path(archive: Archive, archive_dir: Path, done: dict[str, Path], progress: Progress | None) -> Path:
    path = archive_dir / archive.filename
    if archive.url in done:
        return done[archive.url]
    if not path.is_file():
        log.info("downloading %s -> %s", archive.url, path)
        _download(archive.url, path, "md5" if archive.md5 else None, archive.md5, progress=progress,
                  label=archive.filename)
    elif archive.md5 and hash_file(path, "md5") != archive.md5:
        raise ChecksumError(f"{path}: md5 differs from the published {archive.md5}; delete it to download it again")
    done[archive.url] = path
    return path


def _extract(archive: Path, member: str, dest: Path, algo: str, expected: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        if member not in names:
            matches = [n for n in names if n.endswith("/" + member)]
            if len(matches) != 1:
                raise KeyError(f"{archive.name} has no member {member}")
            member = matches[0]
        h = hashlib.new(algo)

        def write(f) -> None:  # noqa: ANN001 - a binary file
            with zf.open(member) as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
                    h.update(chunk)
            if h.hexdigest() != expected:
                raise ChecksumError(f"{archive.name}:{member}: {algo} {h.hexdigest()}, expected {expected}")

        atomic_write(dest, write)
