"""Reading result cubes for the statistics: opening, lambda selection, cells in long form.

Every statistic works on *cells* (one architecture x dataset x lambda x seed
run). A cell counts when its ``status`` is ``ok`` and the numbers the statistic
needs are finite; every other cell in the selection is dropped and listed in a
:class:`DroppedCellsWarning`, so a reader always learns what was left out.
"""

from __future__ import annotations

import os
import warnings
from typing import Iterable, Sequence, Union

import numpy as np
import pandas as pd
import xarray as xr

from neuroenergy.errors import InvalidInputError
from neuroenergy.results.cube import load_cube
from neuroenergy.results.schema import DIMS, upgrade_cube

__all__ = [
    "energy_model_text",
    "CubeLike",
    "StatsWarning",
    "DroppedCellsWarning",
    "as_cube",
    "resolve_lam",
    "cell_frame",
    "split_ok",
    "warn_dropped",
    "format_cell",
    "status_counts",
    "numeric_cell_variables",
    "as_strings",
    "DEFAULT_RESPONSE",
    "resolve_response",
]

CubeLike = Union[xr.Dataset, str, "os.PathLike[str]"]

#: The response of the accuracy statistics: balanced accuracy means the same on balanced and
#: imbalanced datasets (MIT-BIH's majority class alone scores ~0.75 accuracy, 0.20 balanced).
DEFAULT_RESPONSE = "balanced_accuracy"


def resolve_response(ds: xr.Dataset, response: str | None) -> str:
    """``response``, or :data:`DEFAULT_RESPONSE` when the cube holds it, else ``accuracy`` (older cubes)."""
    if response is not None:
        return response
    return DEFAULT_RESPONSE if DEFAULT_RESPONSE in ds.data_vars else "accuracy"


#: How many dropped cells a warning message names before it says "and N more".
_MAX_LISTED = 20


class StatsWarning(UserWarning):
    """Something about the data that a statistic handled but the reader should know."""


class DroppedCellsWarning(StatsWarning):
    """Cells were left out of a statistic (status not ``ok``, or NaN numbers)."""


def as_cube(cube: CubeLike) -> xr.Dataset:
    """Return ``cube`` as an ``xarray.Dataset``, loading it (:func:`~neuroenergy.results.load_cube`)
    if it is a path.

    Args:
        cube: a result cube, or the path of one saved as netCDF4/HDF5 (or
            of the run directory holding it).

    Raises:
        InvalidInputError: the path does not exist or is not a cube, or the
            dataset lacks the cube dimensions.
    """
    if isinstance(cube, xr.Dataset):
        ds = upgrade_cube(cube)
    elif isinstance(cube, (str, os.PathLike)):
        ds = load_cube(cube)
    else:
        raise InvalidInputError(f"cube must be an xarray.Dataset or a path, not {type(cube).__name__}")
    missing = [dim for dim in DIMS if dim not in ds.dims]
    if missing:
        raise InvalidInputError(f"not a neuroenergy result cube: dimension(s) {', '.join(missing)} missing "
                                f"(a cube has {', '.join(DIMS)})")
    return ds


def resolve_lam(ds: xr.Dataset, lam: float | None) -> float:
    """The lambda level a single-lambda statistic uses.

    ``None`` means: the cube's only level if it has one, else ``0`` (the
    unregularised condition, so accuracy is not confounded with the energy
    term); a cube with several levels and no ``0`` needs an explicit ``lam``.

    Raises:
        InvalidInputError: ``lam`` is not one of the cube's levels, or ``None``
            cannot be resolved.
    """
    levels = np.asarray(ds["lam"].values, dtype=float)
    shown = ", ".join(f"{v:g}" for v in levels)
    if levels.size == 0:
        raise InvalidInputError("the cube has no lambda level")
    if lam is None:
        if levels.size == 1:
            return float(levels[0])
        if np.any(levels == 0.0):
            return 0.0
        raise InvalidInputError(f"the cube has {levels.size} lambda levels ({shown}) and none is 0; "
                                f"pass lam= one of them, or make 'lam' a factor")
    try:
        wanted = float(lam)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"lam must be a number, not {lam!r}") from exc
    # Lambdas come from TOML text and float round trips; compare with a tight
    # relative tolerance instead of ==.
    match = np.isclose(levels, wanted, rtol=1e-9, atol=0.0)
    if not match.any():
        raise InvalidInputError(f"lam={wanted:g} is not a level of the cube (levels: {shown})")
    return float(levels[match][0])


def as_strings(values: np.ndarray) -> np.ndarray:
    """Decode byte strings (as some netCDF writers store them) into str."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    return values.astype(str)


def numeric_cell_variables(ds: xr.Dataset) -> list[str]:
    """Names of the numeric per-cell variables of ``ds`` (dims within the cell dims)."""
    names = []
    for name, var in ds.data_vars.items():
        if set(var.dims) <= set(DIMS) and var.dims and np.issubdtype(var.dtype, np.number):
            names.append(str(name))
    return names


def cell_frame(ds: xr.Dataset, variables: Sequence[str], lam: float | None = None) -> pd.DataFrame:
    """Cells in long form: one row per architecture x dataset x lambda x seed.

    Columns: the four cell dims, ``modality``, ``family``, ``status`` and the
    requested ``variables`` (in the cube's units). ``lam`` restricts to one
    (already resolved) lambda level; ``None`` keeps all.
    """
    sub = ds if lam is None else ds.sel(lam=[lam])
    sizes = [sub.sizes[dim] for dim in DIMS]
    index = pd.MultiIndex.from_product([sub[dim].values for dim in DIMS], names=list(DIMS))
    frame = index.to_frame(index=False)
    frame["architecture"] = as_strings(frame["architecture"].to_numpy())
    frame["dataset"] = as_strings(frame["dataset"].to_numpy())
    frame["lam"] = frame["lam"].astype(float)
    for coord, dim in (("modality", "dataset"), ("family", "architecture")):
        if coord in sub.coords and sub[coord].dims == (dim,):
            mapping = dict(zip(as_strings(sub[dim].values), as_strings(sub[coord].values)))
            frame[coord] = frame[dim].map(mapping)
        else:
            frame[coord] = ""
    template = xr.DataArray(np.zeros(sizes, dtype=np.int8), dims=DIMS,
                            coords={dim: sub[dim] for dim in DIMS})
    for name in variables:
        values = sub[name].broadcast_like(template).transpose(*DIMS).values.reshape(-1)
        frame[name] = values.astype(float)
    if "status" in sub.data_vars:
        status = sub["status"].broadcast_like(template).transpose(*DIMS).values.reshape(-1)
        frame["status"] = as_strings(status)
    else:
        # A cube without a status variable (hand-made): a cell with numbers is ok.
        finite = np.ones(len(frame), dtype=bool)
        for name in variables:
            finite &= np.isfinite(frame[name].to_numpy())
        frame["status"] = np.where(finite, "ok", "missing")
    return frame


def split_ok(frame: pd.DataFrame, variables: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split cells into the usable ones and the dropped ones.

    A cell is usable when its status is ``ok`` and every one of ``variables`` is
    finite. The dropped frame has a ``reason`` column: the status, or
    ``"ok but <variable> is NaN"``.
    """
    variables = list(variables)
    ok_status = frame["status"].to_numpy() == "ok"
    reason = np.where(ok_status, "", frame["status"].to_numpy().astype(object))
    usable = ok_status.copy()
    for name in variables:
        finite = np.isfinite(frame[name].to_numpy())
        bad = ok_status & ~finite & (reason == "")
        reason = np.where(bad, f"ok but {name} is NaN", reason)
        usable &= finite
    dropped = frame.loc[~usable].copy()
    dropped["reason"] = reason[~usable]
    return frame.loc[usable].reset_index(drop=True), dropped.reset_index(drop=True)


def format_cell(row: pd.Series | dict) -> str:
    """``architecture=a dataset=d lam=0 seed=3`` for a cell row."""
    return (f"architecture={row['architecture']} dataset={row['dataset']} "
            f"lam={float(row['lam']):g} seed={int(row['seed'])}")


def warn_dropped(dropped: pd.DataFrame, what: str, total: int, stacklevel: int = 3) -> None:
    """Warn that ``dropped`` cells (from :func:`split_ok`) were left out of ``what``."""
    if dropped.empty:
        return
    lines = [f"{format_cell(row)}: {row['reason']}" for row in dropped.head(_MAX_LISTED).to_dict("records")]
    more = len(dropped) - len(lines)
    if more > 0:
        lines.append(f"... and {more} more")
    warnings.warn(f"{what}: {len(dropped)} of {total} cells excluded (not ok or NaN):\n  " + "\n  ".join(lines),
                  DroppedCellsWarning, stacklevel=stacklevel)


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Number of cells per status, over the whole cube."""
    if "status" not in ds.data_vars:
        return {}
    values, counts = np.unique(as_strings(np.asarray(ds["status"].values).reshape(-1)), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts)}


def energy_model_text(ds: xr.Dataset) -> str:
    """What the cube's energies in pJ were priced with: the energy model's own description
    (attrs ``costs_description``: a compute-only cost table or a memory-aware model), else
    its name, else that it was not recorded."""
    return str(ds.attrs.get("costs_description") or ds.attrs.get("costs") or "energy model not recorded")
