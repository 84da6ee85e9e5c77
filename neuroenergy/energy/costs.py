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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from neuroenergy.errors import InvalidInputError
from neuroenergy.registry import Registry

__all__ = [
    "CostTable",
    "COMPUTE_ONLY_NOTE",
    "get_cost_table",
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
    """

    name: str
    e_mac_pj: float
    e_ac_pj: float
    e_neuron_update_pj: float = 0.0
    source: str = "user-defined"
    version: str = "1"

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

_COST_TABLES: Registry[CostTable] = Registry("cost table")
for _table in (
    CostTable("45nm-fp32", 4.6, 0.9, source=_HOROWITZ + ", fp32"),
    CostTable("45nm-fp16", 1.5, 0.4, source=_HOROWITZ + ", fp16"),
    CostTable("45nm-int8", 0.23, 0.03, source=_HOROWITZ + ", int8"),
):
    _COST_TABLES.register(_table.name, _table)


def register_cost_table(table: CostTable) -> CostTable:
    """Make ``table`` available by name (``measure(..., costs=table.name)``)."""
    if not isinstance(table, CostTable):
        raise InvalidInputError(f"expected a CostTable, got {type(table).__name__}")
    return _COST_TABLES.register(table.name, table)


def list_cost_tables() -> list[str]:
    """Names of the registered cost tables."""
    return _COST_TABLES.names()


def get_cost_table(costs: str | CostTable) -> CostTable:
    """Resolve a name or pass a :class:`CostTable` through."""
    if isinstance(costs, CostTable):
        return costs
    if not isinstance(costs, str):
        raise InvalidInputError(
            f"costs must be a cost-table name or a CostTable, got {type(costs).__name__}; "
            f"known names: {', '.join(list_cost_tables())}"
        )
    return _COST_TABLES.get(costs)
