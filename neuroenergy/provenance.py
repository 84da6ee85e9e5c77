"""Where a result came from: package versions, the neuroenergy source tree, the machine.

Owns :func:`package_versions`, :func:`source_tree` (git commit and dirty flag
of neuroenergy's *own* source tree: None when the package is installed from
a wheel, even inside someone else's repository), :func:`preprocessing_versions`
(the libraries whose output a cached dataset array depends on) and
:func:`cell_provenance` (what each cell record stores).
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "PREPROCESSING_PACKAGES", "package_versions", "preprocessing_versions", "source_tree",
           "cell_provenance"]

#: Packages whose versions every cell record holds.
PACKAGES: tuple[str, ...] = ("neuroenergy", "torch", "snntorch", "tonic", "torchaudio", "wfdb", "numpy")
#: Packages that turn source files into a dataset's arrays (part of the data cache key).
PREPROCESSING_PACKAGES: tuple[str, ...] = ("numpy", "torch", "torchaudio", "tonic", "wfdb", "soundfile")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@functools.lru_cache(maxsize=None)
def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """``{package: version}`` (``"not installed"`` when absent) plus ``python``."""
    versions = {package: _version(package) for package in packages}
    versions["python"] = sys.version.split()[0]
    return versions


@functools.lru_cache(maxsize=None)
def preprocessing_versions() -> dict[str, str]:
    """Versions of the preprocessing libraries, for the data cache key."""
    return {package: _version(package) for package in PREPROCESSING_PACKAGES}


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=None)
def source_tree(package_dir: Path | None = None) -> dict[str, Any]:
    """``{"git_commit": sha or None, "git_dirty": bool or None}`` of neuroenergy's source tree.

    Only a work tree whose top level holds a ``pyproject.toml`` naming the
    project ``neuroenergy`` counts; the package must sit directly under it.
    A wheel installed into a virtual environment inside another repository
    therefore records None, not that repository's commit.
    """
    package_dir = (package_dir or Path(__file__).resolve().parent).resolve()
    none = {"git_commit": None, "git_dirty": None}
    top = _git(["rev-parse", "--show-toplevel"], package_dir)
    if not top or Path(top).resolve() != package_dir.parent:
        return none
    try:
        import tomllib

        project = tomllib.loads((Path(top) / "pyproject.toml").read_text()).get("project", {})
    except (OSError, ValueError):
        return none
    if project.get("name") != "neuroenergy":
        return none
    commit = _git(["rev-parse", "HEAD"], package_dir)
    status = _git(["status", "--porcelain", "--untracked-files=no"], package_dir)
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def cell_provenance(device: str, threads: int) -> dict[str, Any]:
    """What a cell record keeps about how it ran: versions, source tree, ``device``, torch ``threads``."""
    return {"package_versions": package_versions(), **source_tree(), "device": device, "torch_threads": threads}
