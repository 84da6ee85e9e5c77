"""Energy: ``measure(model, batch) -> EnergyReport``, cost tables, loss terms.

Owns every count of what a network costs: spikes, synaptic operations
(NeuroBench definitions), membrane updates, activation energy and the
picojoule estimate from a named energy model: a compute-only cost table
(Horowitz 45 nm, or a chip's per-event figures) or the memory-aware
``lemaire-2022`` (operations + addressing + SRAM traffic); none is a
hardware reading. ``neuroenergy.energy.terms`` holds the differentiable E(theta, x)
used in the training loss; on the same batch each term equals the matching
``measure`` figure.
"""

from neuroenergy.energy import terms
from neuroenergy.energy.costs import (
    CostTable,
    EnergyModel,
    get_cost_table,
    list_cost_tables,
    register_cost_table,
)
from neuroenergy.energy.lemaire import LEMAIRE_2022, LemaireModel
from neuroenergy.energy.measure import OperationCounter, UnusedParameterWarning, measure
from neuroenergy.energy.report import UNITS, EnergyReport, LayerEnergy
from neuroenergy.energy.matmul import SynapticMatmul
from neuroenergy.energy.tap import EnergyTap

__all__ = [
    "measure",
    "OperationCounter",
    "EnergyReport",
    "LayerEnergy",
    "UNITS",
    "CostTable",
    "EnergyModel",
    "LemaireModel",
    "LEMAIRE_2022",
    "UnusedParameterWarning",
    "get_cost_table",
    "list_cost_tables",
    "register_cost_table",
    "EnergyTap",
    "SynapticMatmul",
    "terms",
]
