"""Cost tables: the energy per operation that turns counts into picojoules.

A :class:`CostTable` is a named, versioned, immutable object; it travels with
every result so a figure can always be traced to the table that made it.
Built-in tables follow Horowitz (ISSCC 2014) for a 45 nm process:

============  ============  ===========
name          E_MAC (pJ)    E_AC (pJ)
============  ============  ===========
45nm-fp32     4.6           0.9
45nm-fp16     1.5           0.4
45nm-int8     0.23          0.03
============  ============  ===========

These are compute-only estimates (no memory access, no data movement, no
static power); they are not hardware readings.

Per-event tables of neuromorphic chips (each prices a synaptic event and,
where the source gives it, a neuron update; an analog input's MAC is priced
as one synaptic event, since these chips take spikes only):

==============  ==========  ===============  =====================================
name            E_syn (pJ)  E_neuron (pJ)    source
==============  ==========  ===============  =====================================
loihi-2018      23.6        81               Davies et al., IEEE Micro 38(1) 2018,
                                             Table 1 (14 nm; minimum energy per
                                             synaptic spike op; active neuron update)
truenorth-2014  26          0                Merolla et al., Science 345 (2014):
                                             26 pJ per synaptic event (28 nm, 0.775 V)
==============  ==========  ===============  =====================================

These two per-event tables carry the figures as independent secondary sources
cite them from those papers (Loihi: 23.6 pJ per synaptic spike op, 81 pJ per
active neuron update, 52 pJ per inactive one; TrueNorth: 26 pJ per synaptic
event). The primary texts could not be read for this release, so treat them as
provisional. Version 2 of ``loihi-2018`` prices a membrane update at the active
figure, 81 pJ: the membrane updates ``measure`` counts are the neurons whose
potential changed, i.e. active updates (version 1 used the inactive 52 pJ).

Energy models are the wider seam: a cost table is the compute-only kind; a
memory-aware model (``lemaire-2022``, :mod:`neuroenergy.energy.lemaire`) also
prices addressing and SRAM traffic. Both are registered here under one name
space, so ``measure(..., costs=NAME)`` and a protocol spec's ``costs`` accept
either, and :func:`list_cost_tables` lists them all.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from typing import Union

from neuroenergy.energy.lemaire import LEMAIRE_2022, LemaireModel
from neuroenergy.errors import InvalidInputError
from neuroenergy.registry import Registry

__all__ = [
    "CostTable",
    "EnergyModel",
    "COMPUTE_ONLY_NOTE",
    "get_cost_table",
    "prices_neurons",
    "list_cost_tables",
    "register_cost_table",
]

COMPUTE_ONLY_NOTE = (
    "compute-only estimate (synaptic MACs/ACs, plus neuron updates where the cost "
    "table prices them); not a hardware reading"
)


@dataclass(frozen=True)
class CostTable:
    """Energy per operation, in picojoules.

    Attributes:
        name: identifier stored with results, e.g. ``"45nm-fp32"``.
        e_mac_pj: energy of one multiply-accumulate (pJ).
        e_ac_pj: energy of one accumulate (pJ), the cost of a binary (spike) input.
        e_neuron_update_pj: energy of one membrane-potential update (pJ);
            0 in the built-in tables, which price synapses only.
        source: where the numbers come from.
        version: bumped whenever the numbers of a named table change.
        includes: what one priced event covers in the source (e.g. whether
            memory access or routing is inside the figure).
    """

    name: str
    e_mac_pj: float
    e_ac_pj: float
    e_neuron_update_pj: float = 0.0
    source: str = "user-defined"
    version: str = "1"
    includes: str = "arithmetic only"
    kind: str = "compute-only"
    note: str = COMPUTE_ONLY_NOTE

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError("CostTable needs a non-empty name")
        for field in ("e_mac_pj", "e_ac_pj", "e_neuron_update_pj"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"CostTable.{field} must be a number of pJ, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"CostTable.{field} must be finite and >= 0 pJ, got {value}")
            object.__setattr__(self, field, float(value))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def energy_pj(self, macs: float, acs: float, membrane_updates: float = 0.0) -> float:
        """Energy in pJ of the given operation counts."""
        return macs * self.e_mac_pj + acs * self.e_ac_pj + membrane_updates * self.e_neuron_update_pj

    def describe(self) -> str:
        """One line: name, version, per-operation energies and source."""
        text = (
            f"{self.name} v{self.version}: E_MAC {self.e_mac_pj:g} pJ, E_AC {self.e_ac_pj:g} pJ"
        )
        if self.e_neuron_update_pj:
            text += f", E_neuron_update {self.e_neuron_update_pj:g} pJ"
        return f"{text} ({self.source})"


_HOROWITZ = "Horowitz, ISSCC 2014, 45 nm"

#: A compute-only cost table or a memory-aware energy model.
EnergyModel = Union[CostTable, LemaireModel]

_PER_EVENT_NOTE = ("per-event estimate from a chip's published energy per synaptic event "
                   "(and neuron update); not a reading of this network on that chip")

_COST_TABLES: Registry[EnergyModel] = Registry("cost table")
for _table in (
    CostTable("45nm-fp32", 4.6, 0.9, source=_HOROWITZ + ", fp32"),
    CostTable("45nm-fp16", 1.5, 0.4, source=_HOROWITZ + ", fp16"),
    CostTable("45nm-int8", 0.23, 0.03, source=_HOROWITZ + ", int8"),
    CostTable("loihi-2018", 23.6, 23.6, e_neuron_update_pj=81.0, version="2",
              source="Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', "
                     "IEEE Micro 38(1):82-99, 2018, Table 1 (14 nm)",
              includes="energy per synaptic spike op (minimum, 23.6 pJ) and per active neuron update "
                       "(81 pJ) as measured on the chip; spike routing between cores (tile hops) and "
                       "static power not included; a non-binary input (MAC) is priced as one synaptic op",
              kind="per-event", note=_PER_EVENT_NOTE),
    CostTable("truenorth-2014", 26.0, 26.0,
              source="Merolla et al., 'A million spiking-neuron integrated circuit with a scalable "
                     "communication network and interface', Science 345(6197):668-673, 2014 (28 nm, 0.775 V)",
              includes="26 pJ per synaptic event, the chip's total active energy divided by synaptic "
                       "events (neuron updates, routing and memory included in that average); a non-binary "
                       "input (MAC) is priced as one synaptic event",
              kind="per-event", note=_PER_EVENT_NOTE),
    LEMAIRE_2022,
):
    _COST_TABLES.register(_table.name, _table)


def prices_neurons(model: EnergyModel) -> bool:
    """Whether ``model`` puts a cost on neuron updates (so counting needs neuron statistics)."""
    return isinstance(model, LemaireModel) or model.e_neuron_update_pj != 0


def register_cost_table(table: EnergyModel) -> EnergyModel:
    """Make ``table`` (a CostTable or LemaireModel) available by name (``measure(..., costs=table.name)``)."""
    if not isinstance(table, (CostTable, LemaireModel)):
        raise InvalidInputError(f"expected a CostTable or LemaireModel, got {type(table).__name__}")
    return _COST_TABLES.register(table.name, table)


def list_cost_tables() -> list[str]:
    """Names of every registered energy model: cost tables and memory-aware models."""
    return _COST_TABLES.names()


def get_cost_table(costs: str | EnergyModel) -> EnergyModel:
    """Resolve a name or pass a :class:`CostTable` / :class:`LemaireModel` through."""
    if isinstance(costs, (CostTable, LemaireModel)):
        return costs
    if not isinstance(costs, str):
        raise InvalidInputError(
            f"costs must be a cost-table name or a CostTable, got {type(costs).__name__}; "
            f"known names: {', '.join(list_cost_tables())}"
        )
    return _COST_TABLES.get(costs)
