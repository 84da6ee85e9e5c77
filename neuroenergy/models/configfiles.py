"""The shipped config files ``neuroenergy/models/configs/<name>.toml``, rendered from the configs.

Each built-in architecture's defaults live in its config dataclass alone
(``neuroenergy/models/<name>.py``: every field's default, check and doc). The
config file beside the package is what a user reads and copies — it is
rendered from the dataclass by :func:`render_config` and never edited by hand;
``build`` does not read it for the defaults. After changing a default or a
doc, regenerate the files and commit them::

    python -m neuroenergy.models.configfiles           # rewrite the files that differ
    python -m neuroenergy.models.configfiles --check   # exit 1 naming each stale file

The test suite runs the check, so a stale file cannot be shipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from neuroenergy._io import atomic_write_text

from .catalog import CONFIG_DIR, Architecture, get_architecture, list_architectures

__all__ = ["render_config", "builtin_config_names", "stale_config_files", "write_config_files", "main"]

#: The command that regenerates the files (named in their header and in --check's message).
COMMAND = "python -m neuroenergy.models.configfiles"

_HEADER = (
    "Defaults of the `{name}` architecture (neuroenergy.models).",
    "Copy this file, edit it, and pass its path to",
    'neuroenergy.models.build("path/to/copy.toml", input_spec, num_classes).',
    "Every key is also a keyword override of build(); tables only group them.",
    "Rendered from {config} ({module}), where the defaults live:",
    f"change one there, then run `{COMMAND}`.",
)


def _entry(name: str) -> Architecture:
    entry = get_architecture(name)
    if not isinstance(entry, Architecture):
        raise TypeError(f"architecture {name!r} is a plain builder; it has no config to render")
    return entry


def render_config(name: str) -> str:
    """The config file of architecture ``name``: its config dataclass's defaults, commented."""
    arch = _entry(name)
    config = arch.config_cls().validate()
    module = arch.config_cls.__module__.replace(".", "/") + ".py"
    header = [line.format(name=name, config=arch.config_cls.__name__, module=module) for line in _HEADER]
    return config.to_toml(name=name, family=arch.family, description=arch.description,
                          header=header)


def builtin_config_names() -> list[str]:
    """Architectures whose config file ships in ``CONFIG_DIR`` (the built-in ones)."""
    names = []
    for name in list_architectures():
        entry = get_architecture(name)
        if (isinstance(entry, Architecture) and entry.config_file is not None
                and entry.config_file.parent == CONFIG_DIR):
            names.append(name)
    return names


def stale_config_files() -> list[Path]:
    """Shipped config files that are missing or differ from :func:`render_config`."""
    stale = []
    for name in builtin_config_names():
        path = _entry(name).config_file
        if not path.is_file() or path.read_text(encoding="utf-8") != render_config(name):
            stale.append(path)
    return stale


def write_config_files() -> list[Path]:
    """Rewrite every stale shipped config file; returns the files written."""
    written = stale_config_files()
    names = {(_entry(n).config_file): n for n in builtin_config_names()}
    for path in written:
        atomic_write_text(path, render_config(names[path]))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: rewrite the stale files, or with ``--check`` name them (exit 1)."""
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Render neuroenergy/models/configs/<name>.toml from the architectures' config dataclasses.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a shipped file differs from its rendering")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_config_files()
        for path in stale:
            print(f"{path} differs from its config dataclass; run {COMMAND}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_config_files():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
