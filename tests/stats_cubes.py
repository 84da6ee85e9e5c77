"""Small hand-made result cubes for the statistics tests (a builder, not tests).

``make_cube`` follows ``neuroenergy.results.schema``: dims architecture,
dataset, lam, seed (+ eval), coords modality(dataset) and family(architecture),
a ``status`` variable, NaN numbers in cells that are not ok.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import xarray as xr

DIMS = ("architecture", "dataset", "lam", "seed")


def make_cube(architectures: Sequence[str], datasets: Sequence[str], lams: Sequence[float],
              seeds: Sequence[int], variables: Mapping[str, np.ndarray], *,
              families: Sequence[str] | None = None, modalities: Sequence[str] | None = None,
              status: Mapping[tuple, str] | None = None, target_accuracy: Sequence[float] | None = None,
              extra: Mapping[str, tuple[tuple[str, ...], np.ndarray]] | None = None) -> xr.Dataset:
    """A cube with the given cell variables.

    ``variables`` maps a name to an array of shape (A, D, L, S), or
    (A, D, L, S, E) for ``curve_*``. ``status`` maps (architecture, dataset,
    lam, seed) to a status other than ok; those cells' numbers become NaN.
    """
    shape = (len(architectures), len(datasets), len(lams), len(seeds))
    state = np.full(shape, "ok", dtype=object)
    index = {dim: {v: i for i, v in enumerate(values)}
             for dim, values in zip(DIMS, (architectures, datasets, lams, seeds))}
    for (a, d, lam, s), value in (status or {}).items():
        state[index["architecture"][a], index["dataset"][d], index["lam"][lam], index["seed"][s]] = value
    bad = state != "ok"
    data_vars = {}
    for name, values in variables.items():
        values = np.array(values, dtype=float)
        dims = DIMS + (("eval",) if values.ndim == 5 else ())
        values[bad] = np.nan
        data_vars[name] = (dims, values)
    data_vars["status"] = (DIMS, state.astype(str))
    if target_accuracy is not None:
        data_vars["target_accuracy"] = (("dataset",), np.asarray(target_accuracy, dtype=float))
    for name, (dims, values) in (extra or {}).items():
        data_vars[name] = (dims, values)
    coords = {"architecture": list(architectures), "dataset": list(datasets), "lam": np.asarray(lams, dtype=float),
              "seed": np.asarray(seeds, dtype=int),
              "family": ("architecture", list(families or ["baseline"] * len(architectures))),
              "modality": ("dataset", list(modalities or ["vision"] * len(datasets)))}
    if any(np.ndim(v) == 5 for v in variables.values()):
        coords["eval"] = np.arange(next(np.shape(v)[4] for v in variables.values() if np.ndim(v) == 5))
    return xr.Dataset(data_vars, coords=coords,
                      attrs={"spec": "# test", "costs": "45nm-fp32", "package_versions": "{}",
                             "git_commit": "test", "created": "test"})


def two_by_two_cube() -> xr.Dataset:
    """The hand-computed balanced 2 x 2 design with 2 replicates (seeds), lambda = 0.

    accuracy:      b1        b2
        a1      1, 3      5, 7
        a2      4, 6      6, 10
    (numbers, not fractions: the ANOVA arithmetic does not care).
    """
    acc = np.array([[[[1, 3]], [[5, 7]]], [[[4, 6]], [[6, 10]]]], dtype=float)
    return make_cube(["a1", "a2"], ["b1", "b2"], [0.0], [0, 1], {"accuracy": acc})
