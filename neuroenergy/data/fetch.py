"""Filling and checking a data root: what ``neuroenergy data {list,fetch,verify}`` does.

Owns the list of every source file a dataset reads (both splits, default
options), :func:`fetch_root` (download what is missing *into the data root*,
from the official sources or a mirror, each file verified before it
appears), and :func:`verify_root` (name every missing or corrupted file).
Loading (:func:`neuroenergy.data.load`) never writes into the root; this
module does, only when asked, and refuses a root it cannot write.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neuroenergy.data.sources import (
    Progress,
    SourceFile,
    check_reachable,
    download_source,
    hash_file,
    mirror_url,
    offline_forced,
)
from neuroenergy.errors import DataNotFoundError, InvalidInputError

__all__ = ["dataset_sources", "fetch_root", "verify_root", "FetchResult", "Problem"]


def _names(names: Iterable[str] | None) -> list[str]:
    from neuroenergy.data import list_datasets

    known = list_datasets()
    chosen = list(names) if names else known
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise InvalidInputError(f"unknown dataset {', '.join(unknown)}; datasets: {', '.join(known)}")
    return chosen


def dataset_sources(name: str, root: Path, *, full: bool = False) -> list[SourceFile]:
    """Every source file of dataset ``name`` (train and test, default options), each once, in order.

    A dataset with a verified subset (N-MNIST: 1,000 / 100 extracted samples)
    gives the subset's files unless ``full`` (then: what a load of ``root``
    reads, the official archives when the subset is not there).
    """
    from neuroenergy.data import DATASETS, cache_dir
    from neuroenergy.data.core import SPLITS

    definition = DATASETS.get(name)
    options = definition.check_options({})
    seen: dict[str, SourceFile] = {}
    for split in SPLITS:
        subset = getattr(definition, "subset_sources", None)
        listed = (subset(split) if subset is not None and not full
                  else definition.sources(split, root, cache_dir(), options))
        for source in listed:
            seen.setdefault(source.relpath, source)
    return list(seen.values())


@dataclass
class FetchResult:
    """What one fetch did, per dataset: files already present, files downloaded, bytes written."""

    present: dict[str, int] = field(default_factory=dict)
    downloaded: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)


def _writable(root: Path) -> bool:
    probe = root
    while not probe.exists():  # the nearest existing ancestor decides
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK)


def fetch_root(
    names: Sequence[str] | None,
    root: Path,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
    archive_dir: Path | None = None,
    full: bool = False,
) -> FetchResult:
    """Download every missing source file of ``names`` (default: all) into ``root``.

    Files come from ``mirror`` (or ``$NEUROENERGY_MIRROR``) when set, else
    from the official sources; each is verified against the shipped sha256
    before it appears under ``root``. N-MNIST: the verified subset unless
    ``full`` (the official 60,000 / 10,000 archives, md5-checked). Official archives are kept in
    ``archive_dir`` (default: ``<cache>/downloads/_archives``), not in the root.

    Raises:
        InvalidInputError: unknown dataset, or a bad mirror URL.
        DataNotFoundError: files are missing and the root is read-only, the
            network is forbidden (``NEUROENERGY_OFFLINE``) or the source is
            unreachable; or a download failed.
        ChecksumError: a downloaded file does not match its checksum.
    """
    from neuroenergy.data import cache_dir

    mirror = mirror_url(mirror)
    archive_dir = archive_dir or cache_dir() / "downloads" / "_archives"
    result = FetchResult()
    for name in _names(names):
        sources = dataset_sources(name, root, full=full)
        missing = [s for s in sources if not (root / s.relpath).is_file()]
        result.present[name] = len(sources) - len(missing)
        result.downloaded[name] = 0
        result.bytes[name] = 0
        if not missing:
            continue
        where = f"{len(missing)} missing file{'s' if len(missing) != 1 else ''} of {name!r} (first: {root / missing[0].relpath})"
        if not _writable(root):
            raise DataNotFoundError(
                f"data root {root} is read-only and {where}; fetch into a writable root instead "
                f"(--root DIR or NEUROENERGY_DATA=DIR), then point NEUROENERGY_DATA at it"
            )
        if offline_forced():
            raise DataNotFoundError(f"{where}; not downloaded: NEUROENERGY_OFFLINE is set (unset it to fetch)")

        def error(reason: str) -> DataNotFoundError:
            return DataNotFoundError(f"{where}; not downloaded: {reason}")

        check_reachable(name, missing, mirror, error)
        archives: dict[str, Path] = {}
        for source in missing:
            download_source(name, source, root, archives, mirror=mirror, archive_dir=archive_dir, progress=progress)
            result.downloaded[name] += 1
            result.bytes[name] += (root / source.relpath).stat().st_size
    return result


@dataclass(frozen=True)
class Problem:
    """A bad file of a data root: ``kind`` is ``missing``, ``size`` or ``checksum``."""

    dataset: str
    path: Path
    kind: str
    detail: str


def verify_root(names: Sequence[str] | None, root: Path, *, full: bool = False) -> tuple[dict[str, int], list[Problem]]:
    """Hash every source file of ``names`` (default: all) under ``root``.

    Returns ``({dataset: files checked}, problems)``: every missing, wrong-size
    or wrong-digest file, each named (nothing is written anywhere).
    """
    checked: dict[str, int] = {}
    problems: list[Problem] = []
    for name in _names(names):
        sources = dataset_sources(name, root, full=full)
        checked[name] = len(sources)
        for source in sources:
            path = root / source.relpath
            if not path.is_file():
                problems.append(Problem(name, path, "missing", f"from {source.origin}"))
                continue
            size = path.stat().st_size
            if source.size is not None and size != source.size:
                problems.append(Problem(name, path, "size", f"{size} bytes, expected {source.size}"))
                continue
            algo, expected = source.digest.split(":", 1)
            actual = hash_file(path, algo)
            if actual != expected:
                problems.append(Problem(name, path, "checksum", f"{algo} {actual}, expected {expected}"))
    return checked, problems
