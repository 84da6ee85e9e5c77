"""The result cube's schema: dimensions, coordinates, variables and units.

One place that names every variable of the cube, so the runner that writes
it and the statistics that read it agree; the metrics' names, units and long
names come from their declarations in :mod:`neuroenergy.metrics`. A cube is
an ``xarray.Dataset`` saved as netCDF4/HDF5, written with the netCDF-C engine
(``netcdf4``; ``h5netcdf`` opens the same file).

Dimensions: ``architecture``, ``dataset``, ``lam`` (lambda, float), ``seed``
(int), ``eval`` (learning-curve evaluation index) for ``curve_*``,
``layer_role`` for ``energy_pj_by_role`` and ``class`` for
``per_class_recall`` (present when every dataset has at most 10 classes).
Coordinates: ``modality(dataset)``, ``family(architecture)``.
Missing, failed and diverged cells hold NaN in every numeric variable and
their ``status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from neuroenergy.metrics import CELL_METRICS, CURVE_METRICS, ENERGY_BY_ROLE, PER_CLASS_RECALL

if TYPE_CHECKING:  # the schema itself stays importable without xarray
    import xarray as xr

__all__ = ["CONVENTIONS", "UNITS", "DIMS", "CELL_VARIABLES", "MAX_RECALL_CLASSES", "CURVE_VARIABLES", "STATUSES",
           "LAYER_ROLES", "ROLE_DIM", "layer_role", "RENAMED", "upgrade_cube"]

DIMS: tuple[str, ...] = ("architecture", "dataset", "lam", "seed")

#: The cube follows the CF conventions (global attribute ``Conventions``).
CONVENTIONS = "CF-1.10"
#: The UDUNITS strings the cube's metrics use: "1" for fractions, counts and other
#: per-sample dimensionless figures (the long_name says "per sample"), pJ, s.
UNITS: tuple[str, ...] = tuple(dict.fromkeys(
    m.units for m in (*CELL_METRICS.values(), *CURVE_METRICS.values(), ENERGY_BY_ROLE, PER_CLASS_RECALL)))

#: status of a cell: finished, raised an error, loss became NaN/inf, not run (yet).
STATUSES: tuple[str, ...] = ("ok", "failed", "diverged", "missing")

#: variable -> (UDUNITS units, long_name); dims ``DIMS``. Read-only; declared in
#: ``neuroenergy.metrics.CELL_METRICS`` (add a variable there).
CELL_VARIABLES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {m.name: (m.units, m.long_name) for m in CELL_METRICS.values()})

#: ``per_class_recall`` (dims ``DIMS + ("class",)``) is stored when every dataset of the cube has at
#: most this many classes (a per-class table beyond it is unreadable and mostly empty).
MAX_RECALL_CLASSES = 10

#: variable -> (UDUNITS units, long_name); dims ``DIMS + ("eval",)``. Read-only; declared in
#: ``neuroenergy.metrics.CURVE_METRICS``.
CURVE_VARIABLES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {m.name: (m.units, m.long_name) for m in CURVE_METRICS.values()})

#: Roles of ``energy_pj_by_role`` (dim ``layer_role``): where a network spends its
#: inference energy, comparable across architectures whose layer names differ.
LAYER_ROLES: tuple[str, ...] = ("input layer", "hidden & other", "recurrent", "attention",
                                "readout", "neuron updates")
#: The cube dimension of ``LAYER_ROLES``. ("layer" names a module in an ``EnergyReport``.)
ROLE_DIM = "layer_role"

#: Names earlier cubes used -> today's. Cubes written before this rename called the role
#: dimension ``layer`` (the word ``EnergyReport`` uses for a module) and its variable
#: ``energy_pj_by_layer``; :func:`upgrade_cube` renames them on load.
RENAMED: Mapping[str, str] = MappingProxyType({"layer": ROLE_DIM, "energy_pj_by_layer": "energy_pj_by_role"})


def upgrade_cube(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the names of :data:`RENAMED` brought up to date (a no-op on a current cube)."""
    names = {old: new for old, new in RENAMED.items() if old in ds.variables or old in ds.dims}
    return ds.rename(names) if names else ds


def layer_role(row: dict, first_synapse: str | None) -> str:
    """Role of one ``measure`` row (``EnergyReport.layers[i].to_dict()``).

    ``attention`` holds activity-by-activity products (``SynapticMatmul``);
    ``hidden & other`` every other synaptic layer, the energy-first models'
    extra pathways included. The input layer is the first synaptic module (module order; every
    neuroenergy architecture registers its input layer first), the readout
    the module named ``readout`` (every neuroenergy architecture); spiking
    neurons count under ``neuron updates`` (nonzero only when the cost table
    prices membrane updates).
    """
    if row["kind"] != "synapse":
        return "neuron updates"
    name, module_type = row["name"], row["module_type"]
    if module_type in ("SynapticMatmul", "SpikeMatmul"):
        return "attention"
    if module_type in ("LSTMCell", "GRUCell", "RNNCell") or name.endswith("recurrent"):
        return "recurrent"
    if name == "readout" or name.endswith(".readout"):
        return "readout"
    if name == first_synapse:
        return "input layer"
    return "hidden & other"
