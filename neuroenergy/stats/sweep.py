"""Lambda-sweep summary: energy ratio and accuracy change of every lambda against lambda = 0.

For each dataset x architecture x lambda > 0, runs are paired with the
lambda = 0 run of the same seed (same initialisation and data order), so the
seed-to-seed spread cancels:

* energy ratio = geometric mean over seeds of ``E(lambda) / E(0)``, with a
  Student-t interval on the log ratios, back-transformed (ratios are
  multiplicative, and the claim is about orders of magnitude);
* accuracy change = mean over seeds of ``acc(lambda) - acc(0)`` in percentage
  points, with a Student-t interval.

Flags against the paper (thresholds in :mod:`neuroenergy.stats.paper`):
``energy_claim`` (reduction factor ``1 / ratio`` >= 10**2.5, i.e. about three
orders of magnitude), ``accuracy_claim`` (|mean change| < 0.5 pp, as the paper
states it) and ``accuracy_equivalent`` (the whole CI inside +-0.5 pp: the
stronger evidence that the change is that small).
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from neuroenergy.errors import InvalidInputError
from neuroenergy.results.schema import DIMS
from neuroenergy.stats._cube import (CubeLike, StatsWarning, as_cube, cell_frame, split_ok, warn_dropped,
                                     as_strings)
from neuroenergy.stats.compare import _check_confidence, t_interval
from neuroenergy.stats.paper import ACCURACY_CLAIM_MAX_PP, ENERGY_CLAIM_MIN_REDUCTION

__all__ = ["lambda_sweep", "SWEEP_ENERGY_VARIABLES"]

#: Energy variables summarised as ratios: name in the cube -> column prefix. Read-only.
SWEEP_ENERGY_VARIABLES: Mapping[str, str] = MappingProxyType({"activation_energy": "activation",
                                                              "energy_pj": "energy_pj"})


def _array(ds, name: str) -> np.ndarray:
    template = ds["accuracy"]
    return ds[name].broadcast_like(template).transpose(*DIMS).values.astype(float)


def _geometric_summary(ratio: np.ndarray, confidence: float) -> tuple[np.ndarray, ...]:
    """Geometric mean and back-transformed t-CI over the last axis (NaN = not a pair)."""
    logs = np.log(ratio)
    n = np.sum(np.isfinite(logs), axis=-1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        mean = np.nanmean(logs, axis=-1)
        sd = np.nanstd(logs, axis=-1, ddof=1)
    low, high = t_interval(mean, sd, n, confidence)
    return np.exp(mean), np.exp(low), np.exp(high), n


def lambda_sweep(cube: CubeLike, confidence: float = 0.95, *, warn: bool = True) -> pd.DataFrame:
    """Energy ratio and accuracy change vs lambda = 0, per dataset x architecture x lambda.

    Args:
        cube: a result cube (or its path) with a lambda = 0 level and at least
            one other level.
        confidence: level of the Student-t intervals.
        warn: warn about excluded cells (not ok; a pair needs both cells ok).

    Returns:
        One row per dataset x architecture x lambda > 0 (cube order, lambda
        ascending): ``dataset``, ``modality``, ``architecture``, ``family``,
        ``lam``, ``n_pairs`` (seeds with both cells ok); for ``activation``
        (internal activation energy E, per sample) and ``energy_pj`` (inference
        energy, pJ per sample): ``<v>_ratio`` (geometric mean of E(lam)/E(0),
        dimensionless), ``<v>_ratio_ci_low``, ``<v>_ratio_ci_high`` and
        ``<v>_reduction`` (= 1 / ratio, "x times lower"); ``acc_change_pp``
        with ``acc_change_ci_low``/``_ci_high`` (percentage points); flags
        ``energy_claim``, ``accuracy_claim``, ``accuracy_equivalent`` (pandas
        nullable booleans; NA when not testable).

    Raises:
        InvalidInputError: no lambda = 0 level, no other level, or no
            ``accuracy``/energy variable.
    """
    confidence = _check_confidence(confidence)
    ds = as_cube(cube)
    levels = np.asarray(ds["lam"].values, dtype=float)
    shown = ", ".join(f"{v:g}" for v in levels)
    if not np.any(levels == 0.0):
        raise InvalidInputError(f"lambda_sweep needs lambda = 0 as the reference; the cube's levels are {shown}")
    if levels.size < 2:
        raise InvalidInputError("the cube has only lambda = 0: there is no sweep to summarise")
    if "accuracy" not in ds.data_vars:
        raise InvalidInputError("lambda_sweep needs the accuracy variable")
    energy_vars = [v for v in SWEEP_ENERGY_VARIABLES if v in ds.data_vars]
    if not energy_vars:
        raise InvalidInputError(f"lambda_sweep needs {' or '.join(SWEEP_ENERGY_VARIABLES)} in the cube")
    if warn:
        frame = cell_frame(ds, [])
        _, dropped = split_ok(frame, [])
        warn_dropped(dropped, "lambda_sweep", len(frame))

    status = as_strings(np.asarray(ds["status"].broadcast_like(ds["accuracy"]).transpose(*DIMS).values)) \
        if "status" in ds.data_vars else np.where(np.isfinite(_array(ds, "accuracy")), "ok", "missing")
    ok = status == "ok"
    i0 = int(np.flatnonzero(levels == 0.0)[0])
    others = [i for i in range(levels.size) if i != i0]
    pair = ok[:, :, others, :] & ok[:, :, i0:i0 + 1, :]  # (A, D, L', S)
    n_pairs = pair.sum(axis=-1)

    columns: dict[str, np.ndarray] = {}
    for name in energy_vars:
        prefix = SWEEP_ENERGY_VARIABLES[name]
        values = _array(ds, name)
        now, ref = values[:, :, others, :], values[:, :, i0:i0 + 1, :]
        # A ratio needs positive energies at both lambdas; a silent network
        # (zero energy) has no finite log ratio and is left out of the mean.
        usable = pair & (now > 0) & (ref > 0) & np.isfinite(now) & np.isfinite(ref)
        bad = int((pair & ~usable).sum())
        if bad:
            warnings.warn(f"lambda_sweep: {bad} seed pairs have zero or NaN {name}; left out of its ratio",
                          StatsWarning, stacklevel=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(usable, now / np.where(usable, ref, 1.0), np.nan)
        gm, low, high, _ = _geometric_summary(ratio, confidence)
        columns[f"{prefix}_ratio"] = gm
        columns[f"{prefix}_ratio_ci_low"] = low
        columns[f"{prefix}_ratio_ci_high"] = high
        with np.errstate(divide="ignore"):
            columns[f"{prefix}_reduction"] = 1.0 / gm

    acc = _array(ds, "accuracy")
    diff = np.where(pair, (acc[:, :, others, :] - acc[:, :, i0:i0 + 1, :]) * 100.0, np.nan)
    n_acc = np.sum(np.isfinite(diff), axis=-1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(diff, axis=-1)
        sd = np.nanstd(diff, axis=-1, ddof=1)
    low, high = t_interval(mean, sd, n_acc, confidence)
    columns["acc_change_pp"], columns["acc_change_ci_low"], columns["acc_change_ci_high"] = mean, low, high

    architectures = as_strings(np.asarray(ds["architecture"].values))
    datasets = as_strings(np.asarray(ds["dataset"].values))
    shape = n_pairs.shape
    a_idx, d_idx, l_idx = (g.reshape(-1) for g in np.meshgrid(*(np.arange(s) for s in shape), indexing="ij"))
    table = pd.DataFrame({
        "dataset": datasets[d_idx],
        "architecture": architectures[a_idx],
        "lam": levels[others][l_idx],
        "n_pairs": n_pairs.reshape(-1),
    })
    for name, values in columns.items():
        table[name] = values.reshape(-1)
    modality = dict(zip(datasets, as_strings(np.asarray(ds["modality"].values)))) if "modality" in ds.coords else {}
    family = dict(zip(architectures, as_strings(np.asarray(ds["family"].values)))) if "family" in ds.coords else {}
    table.insert(1, "modality", table["dataset"].map(modality).fillna(""))
    table.insert(3, "family", table["architecture"].map(family).fillna(""))

    table["energy_claim"] = _flag(table["activation_reduction"] >= ENERGY_CLAIM_MIN_REDUCTION,
                                  table["activation_reduction"]) if "activation_reduction" in table else pd.NA
    table["accuracy_claim"] = _flag(table["acc_change_pp"].abs() < ACCURACY_CLAIM_MAX_PP, table["acc_change_pp"])
    inside = ((table["acc_change_ci_low"] > -ACCURACY_CLAIM_MAX_PP)
              & (table["acc_change_ci_high"] < ACCURACY_CLAIM_MAX_PP))
    table["accuracy_equivalent"] = _flag(inside, table["acc_change_ci_low"])

    table["_d"], table["_a"] = d_idx, a_idx
    table = table.sort_values(["_d", "_a", "lam"]).drop(columns=["_d", "_a"]).reset_index(drop=True)
    table.attrs.update(confidence=confidence, reference_lam=0.0,
                       energy_claim_min_reduction=ENERGY_CLAIM_MIN_REDUCTION,
                       accuracy_claim_max_pp=ACCURACY_CLAIM_MAX_PP)
    return table


def _flag(condition: pd.Series, value: pd.Series) -> pd.Series:
    """A nullable boolean: ``condition`` where ``value`` is known, NA where it is NaN."""
    flag = condition.astype("boolean")
    flag[~np.isfinite(value.to_numpy(dtype=float))] = pd.NA
    return flag
