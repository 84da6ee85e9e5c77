"""Protocols: TOML specs of factorial designs, the runner and the CLI.

``load_spec(name_or_path)`` -> ``ProtocolSpec``; ``spec.design(profile)`` ->
``Design`` (its cells); ``run_design(spec, design, out)`` runs them into a
resumable run directory and result cube; ``run_cell(config)`` is one cell.
CLI: ``neuroenergy {list,show,run,status,stats,report}`` (also
``python -m neuroenergy.protocols``).

The names are imported on first use (PEP 562), so that the CLI's ``--help``
does not pay for torch and xarray.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "run_cell": "cell",
    "RunSummary": "runner",
    "assemble_cube": "runner",
    "run_design": "runner",
    "Cell": "spec",
    "Design": "spec",
    "ProtocolSpec": "spec",
    "list_protocols": "spec",
    "load_spec": "spec",
}

__all__ = ["load_spec", "list_protocols", "ProtocolSpec", "Design", "Cell", "run_design", "run_cell",
           "RunSummary", "assemble_cube"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'neuroenergy.protocols' has no attribute {name!r}")
    value = getattr(import_module(f"neuroenergy.protocols.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
