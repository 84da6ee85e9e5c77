"""Protocols: TOML specs of factorial designs, the runner and the CLI.

``load_spec(name_or_path)`` -> ``ProtocolSpec``; ``spec.design(profile)`` ->
``Design`` (its cells); ``run_design(spec, design, out)`` runs them into a
resumable run directory and result cube; ``run_cell(config)`` is one cell.
CLI: ``python -m neuroenergy.protocols {list,show,run,status,stats,report}``.
"""

from neuroenergy.protocols.cell import run_cell
from neuroenergy.protocols.runner import RunSummary, assemble_cube, run_design
from neuroenergy.protocols.spec import Cell, Design, ProtocolSpec, list_protocols, load_spec

__all__ = ["load_spec", "list_protocols", "ProtocolSpec", "Design", "Cell", "run_design", "run_cell",
           "RunSummary", "assemble_cube"]
