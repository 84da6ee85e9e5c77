"""The shipped spec files ``neuroenergy/models/specs/<name>.toml``, rendered from the configs.

Each built-in architecture's defaults live in its config dataclass alone
(``neuroenergy/models/<name>.py``: every field's default, check and doc). The
spec file beside the package is what a user reads and copies — it is
rendered from the dataclass by :func:`render_spec` and never edited by hand;
``build`` does not read it for the defaults. After changing a default or a
doc, regenerate the files and commit them::

    python -m neuroenergy.models.specfiles           # rewrite the files that differ
    python -m neuroenergy.models.specfiles --check   # exit 1 naming each stale file

The test suite runs the check, so a stale file cannot be shipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from neuroenergy._io import atomic_write_text

from .catalog import SPEC_DIR, Architecture, get_architecture, list_architectures

__all__ = ["render_spec", "builtin_spec_names", "stale_spec_files", "write_spec_files", "main"]

_HEADER = (
    "Defaults of the `{name}` architecture (neuroenergy.models).",
    "Copy this file, edit it, and pass its path to",
    'neuroenergy.models.build("path/to/copy.toml", input_spec, num_classes).',
    "Every key is also a keyword override of build(); tables only group them.",
    "Rendered from {config} ({module}), where the defaults live:",
    "change one there, then run `python -m neuroenergy.models.specfiles`.",
)


def _entry(name: str) -> Architecture:
    entry = get_architecture(name)
    if not isinstance(entry, Architecture):
        raise TypeError(f"architecture {name!r} is a plain builder; it has no config to render")
    return entry


def render_spec(name: str) -> str:
    """The spec file of architecture ``name``: its config dataclass's defaults, commented."""
    arch = _entry(name)
    config = arch.config_cls().validate()
    module = arch.config_cls.__module__.replace(".", "/") + ".py"
    header = [line.format(name=name, config=arch.config_cls.__name__, module=module) for line in _HEADER]
    return config.to_toml(name=name, family=arch.family, description=arch.description,
                          header=header)


def builtin_spec_names() -> list[str]:
    """Architectures whose spec file ships in ``SPEC_DIR`` (the built-in ones)."""
    names = []
    for name in list_architectures():
        entry = get_architecture(name)
        if isinstance(entry, Architecture) and entry.spec_file is not None and entry.spec_file.parent == SPEC_DIR:
            names.append(name)
    return names


def stale_spec_files() -> list[Path]:
    """Shipped spec files that are missing or differ from :func:`render_spec`."""
    stale = []
    for name in builtin_spec_names():
        path = _entry(name).spec_file
        if not path.is_file() or path.read_text(encoding="utf-8") != render_spec(name):
            stale.append(path)
    return stale


def write_spec_files() -> list[Path]:
    """Rewrite every stale shipped spec file; returns the files written."""
    written = stale_spec_files()
    names = {(_entry(n).spec_file): n for n in builtin_spec_names()}
    for path in written:
        atomic_write_text(path, render_spec(names[path]))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m neuroenergy.models.specfiles",
        description="Render neuroenergy/models/specs/<name>.toml from the architectures' config dataclasses.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a shipped file differs from its rendering")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_spec_files()
        for path in stale:
            print(f"{path} differs from its config dataclass; run python -m neuroenergy.models.specfiles",
                  file=sys.stderr)
        return 1 if stale else 0
    for path in write_spec_files():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
