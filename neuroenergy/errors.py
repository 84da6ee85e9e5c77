"""The one exception family of neuroenergy.

Every error a user can cause (bad input, unknown name, missing file, invalid
spec) is a :class:`NeuroEnergyError`; the CLI prints its message as one line on
stderr and exits with status 2. Messages say what was wrong *and* what to do.
The concrete classes also derive from the matching built-in exception, so
``except ValueError`` / ``except KeyError`` in user code keeps working.
"""

from __future__ import annotations

__all__ = [
    "NeuroEnergyError",
    "InvalidInputError",
    "UnknownNameError",
    "DuplicateNameError",
    "NothingToMeasureError",
    "DataNotFoundError",
    "ChecksumError",
    "ConfigError",
    "InstallError",
]


class NeuroEnergyError(Exception):
    """Base class of every error neuroenergy raises on purpose."""


class InvalidInputError(NeuroEnergyError, ValueError):
    """An argument has the wrong type, shape, range or contents (e.g. NaN)."""


class UnknownNameError(NeuroEnergyError, KeyError):
    """A name (architecture, dataset, cost table, protocol, ...) is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(NeuroEnergyError, ValueError):
    """A name is registered twice."""


class NothingToMeasureError(NeuroEnergyError, ValueError):
    """A model holds no layer that ``measure`` can count."""


class DataNotFoundError(NeuroEnergyError, FileNotFoundError):
    """Dataset files are missing and cannot be downloaded."""


class ChecksumError(NeuroEnergyError, ValueError):
    """A data file does not match its known checksum (corrupted or wrong file)."""


class ConfigError(NeuroEnergyError, ValueError):
    """A spec or configuration (TOML file, overrides) is invalid."""


class InstallError(NeuroEnergyError, ImportError):
    """A dependency is missing or does not load beside the installed torch (mismatched builds)."""
