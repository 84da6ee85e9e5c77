"""Result cubes: run records -> ``xarray.Dataset`` -> netCDF4/HDF5 file.

The cube spans every cell of the design; cells without a finished record
are ``missing``, so nothing is ever silently absent. It is read with
``neuroenergy.results.load_cube(path)`` (eager) or plain
``xr.open_dataset(path)`` (lazy; any netCDF4/HDF5 engine, ``netcdf4`` or ``h5netcdf``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neuroenergy._deprecation import warn_renamed
from neuroenergy._io import atomic_path
from neuroenergy.errors import InvalidInputError
from neuroenergy.metrics import CURVE_METRICS, ENERGY_BY_ROLE, PER_CLASS_RECALL, curve_key
from neuroenergy.results.schema import (CONVENTIONS, CELL_VARIABLES, CURVE_VARIABLES, DIMS, LAYER_ROLES, ROLE_DIM,
                                        upgrade_cube,
                                        MAX_RECALL_CLASSES, layer_role)

__all__ = ["build_cube", "write_cube", "load_cube", "open_cube", "NETCDF_ENGINE"]

#: The xarray engine that writes and reads cubes. The netCDF-C library writes the
#: same netCDF4/HDF5 file as h5netcdf (read back identical by either engine) about
#: 5x faster and reads it about 10x faster: h5netcdf's per-variable dimension
#: bookkeeping costs ~4 ms for each of a cube's ~55 variables.
NETCDF_ENGINE = "netcdf4"


def build_cube(
    records: Iterable[Mapping[str, Any]],
    *,
    architectures: Sequence[str],
    datasets: Sequence[str],
    lams: Sequence[float],
    seeds: Sequence[int],
    families: Mapping[str, str],
    modalities: Mapping[str, str],
    targets: Mapping[str, float],
    attrs: Mapping[str, Any] | None = None,
    num_classes: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """Assemble the cube of a design from run records (records outside the design are ignored).

    A record is a dict with ``architecture, dataset, lam, seed, status``,
    ``metrics`` (names of ``CELL_VARIABLES``) and ``curve`` (lists under the
    ``CURVE_VARIABLES`` names without ``curve_``: ``step, accuracy, ...``).
    Names neither declares (a record of an older version) are left out;
    ``protocols.cell`` refuses to write them.
    """
    shape = (len(architectures), len(datasets), len(lams), len(seeds))
    position = {
        "architecture": {a: i for i, a in enumerate(architectures)},
        "dataset": {d: i for i, d in enumerate(datasets)},
        "lam": {float(v): i for i, v in enumerate(lams)},
        "seed": {int(s): i for i, s in enumerate(seeds)},
    }
    records = list(records)
    n_eval = max((len(r.get("curve", {}).get("step", [])) for r in records), default=0)
    cells = {name: np.full(shape, np.nan) for name in CELL_VARIABLES}
    curves = {name: np.full(shape + (n_eval,), np.nan) for name in CURVE_VARIABLES}
    n_class = max((len(r.get("per_class_recall") or []) for r in records), default=0)
    n_class = n_class if n_class <= MAX_RECALL_CLASSES else 0
    recall = np.full(shape + (n_class,), np.nan)
    by_role = np.full(shape + (len(LAYER_ROLES),), np.nan)
    majority = {d: np.nan for d in datasets}
    status = np.full(shape, "missing", dtype=object)
    errors = np.full(shape, "", dtype=object)
    hashes = np.full(shape, "", dtype=object)
    configs = np.full(shape, "", dtype=object)
    for record in records:
        try:
            index = (position["architecture"][record["architecture"]], position["dataset"][record["dataset"]],
                     position["lam"][float(record["lam"])], position["seed"][int(record["seed"])])
        except KeyError:
            continue  # a cell of an earlier design, kept on disk but not part of this cube
        status[index] = record["status"]
        counts = record.get("test_class_counts") or []
        if sum(counts) > 0:
            majority[record["dataset"]] = max(counts) / sum(counts)
        errors[index] = record.get("error") or ""
        hashes[index] = record.get("config_hash") or ""
        configs[index] = json.dumps(record.get("config") or {}, sort_keys=True)
        for name, value in (record.get("metrics") or {}).items():
            if name in cells and value is not None:
                cells[name][index] = float(value)
        if n_class and record.get("per_class_recall"):
            values = record["per_class_recall"]
            recall[index][: len(values)] = [np.nan if v is None else float(v) for v in values]
        if record.get("layers"):
            by_role[index] = _energy_by_role(record["layers"])
        curve = record.get("curve") or {}
        for metric in CURVE_METRICS.values():
            values = curve.get(curve_key(metric))
            if values:
                curves[metric.name][index][: len(values)] = [np.nan if v is None else float(v) for v in values]

    coords = {
        "architecture": list(architectures),
        "dataset": list(datasets),
        "lam": ("lam", np.asarray(lams, dtype=float),
                {"long_name": "lambda, weight of the energy term in the loss", "units": "1"}),
        "seed": np.asarray(seeds, dtype=int),
        "eval": np.arange(n_eval),
        "family": ("architecture", [families[a] for a in architectures]),
        "modality": ("dataset", [modalities[d] for d in datasets]),
        ROLE_DIM: list(LAYER_ROLES),
    }
    # All variables go into one Dataset constructor: assigning them one by one
    # re-aligns the whole dataset each time (quadratic in the number of variables).
    data_vars: dict[str, Any] = {}
    for name, (units, description) in CELL_VARIABLES.items():
        data_vars[name] = (DIMS, cells[name], {"units": units, "long_name": description})
    for name, (units, description) in CURVE_VARIABLES.items():
        data_vars[name] = (DIMS + ("eval",), curves[name], {"units": units, "long_name": description})
    data_vars[ENERGY_BY_ROLE.name] = (DIMS + (ROLE_DIM,), by_role,
                                      {"units": ENERGY_BY_ROLE.units, "long_name": ENERGY_BY_ROLE.long_name})
    if n_class:
        coords["class"] = np.arange(n_class)
        data_vars[PER_CLASS_RECALL.name] = (DIMS + ("class",), recall,
                                            {"units": PER_CLASS_RECALL.units, "long_name": PER_CLASS_RECALL.long_name})
    data_vars["status"] = (DIMS, status.astype(str), {"long_name": "ok / failed / diverged / missing"})
    data_vars["error"] = (DIMS, errors.astype(str), {"long_name": "error message of failed or diverged cells"})
    data_vars["config_hash"] = (DIMS, hashes.astype(str), {
        "long_name": "hash of the cell's resolved config and package version "
                     "(neuroenergy.protocols.cell.config_hash); empty for missing cells"})
    data_vars["config"] = (DIMS, configs.astype(str), {
        "long_name": "the cell's resolved config (JSON) it was trained with"})
    data_vars["target_accuracy"] = (
        "dataset", np.asarray([targets.get(d, np.nan) for d in datasets], dtype=float),
        {"units": "1", "long_name": "held-out accuracy target (fraction) for *_to_target"})
    data_vars["majority_rate"] = ("dataset", np.asarray([majority[d] for d in datasets], dtype=float), {
        "units": "1", "long_name": "share (fraction) of the test split's most frequent class: the chance level "
                                   "of accuracy"})
    if num_classes is not None:
        data_vars["num_classes"] = ("dataset", np.asarray([num_classes[d] for d in datasets], dtype=int), {
            "units": "1", "long_name": "number of classes K (chance level of balanced accuracy: 1/K)"})
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update({k: _attr(v) for k, v in (attrs or {}).items()})
    ds.attrs["Conventions"] = CONVENTIONS
    return ds


def _energy_by_role(layers: list[Mapping[str, Any]]) -> np.ndarray:
    """pJ per sample of each role in ``LAYER_ROLES`` from a record's per-layer rows."""
    first = next((row["name"] for row in layers if row["kind"] == "synapse"), None)
    totals = np.zeros(len(LAYER_ROLES))
    for row in layers:
        totals[LAYER_ROLES.index(layer_role(row, first))] += float(row.get("energy_pj") or 0.0)
    return totals


def _attr(value: Any) -> Any:
    if isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def write_cube(cube: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``cube`` as netCDF4/HDF5 atomically (temporary file, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        cube.to_netcdf(tmp, engine=NETCDF_ENGINE, format="NETCDF4")
    return path


def load_cube(path: str | os.PathLike) -> xr.Dataset:
    """Read a cube file (or the ``cube.h5`` inside a run directory) into memory; the file is closed.

    Eager, as the name says: every variable is loaded, so no HDF5 handle stays
    open to lock the file against the runner rewriting it. For lazy access
    use plain ``xr.open_dataset(path)``.

    Raises:
        InvalidInputError: no file there, or one that is not readable as netCDF4/HDF5.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "cube.h5"
    if not path.is_file():
        raise InvalidInputError(f"no result cube file at {path}; pass a cube file or a run directory "
                                "holding cube.h5 (python -m neuroenergy.protocols run ... writes one)")
    try:
        with xr.open_dataset(path, engine=NETCDF_ENGINE) as ds:
            return upgrade_cube(ds.load())
    except (OSError, ValueError, KeyError) as error:  # truncated, zero bytes, flipped bytes, not HDF5
        raise InvalidInputError(f"{path} is not a readable result cube ({type(error).__name__}: {error}); "
                                "re-run the protocol to write it again") from None


def open_cube(path: str | os.PathLike) -> xr.Dataset:
    """Deprecated name of :func:`load_cube` (it always loaded eagerly; ``open_`` suggested lazy)."""
    warn_renamed("neuroenergy.results.open_cube",
                 "neuroenergy.results.load_cube (same behaviour: it loads the cube into memory)")
    return load_cube(path)
