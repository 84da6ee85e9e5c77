"""Lambda-sweep summary: energy ratio and accuracy change of every lambda against lambda = 0.

For each dataset x architecture x lambda > 0, runs are paired with the
lambda = 0 run of the same seed (same initialisation and data order), so the
seed-to-seed spread cancels:

* energy ratio = geometric mean over seeds of ``E(lambda) / E(0)``, with a
  Student-t interval on the log ratios, back-transformed (ratios are
  multiplicative, and the claim is about orders of magnitude);
* accuracy change = mean over seeds of ``acc(lambda) - acc(0)`` in percentage
  points, with a Student-t interval (and the same for balanced accuracy when
  the cube holds it).

Flags against the paper (thresholds in :mod:`neuroenergy.stats.paper`):
``energy_claim`` (reduction factor ``1 / ratio`` >= 10**2.5, i.e. about three
orders of magnitude), ``accuracy_claim`` (|mean change| < 0.5 pp, as the paper
states it) and ``accuracy_equivalent``: a TOST (two one-sided paired t-tests,
each at ``paper.SWEEP.tost_alpha`` = 5%) of the hypothesis that the change lies inside
+-0.5 pp, i.e. the 90% CI of the change lies inside the margin. "Equivalent"
is evidence that the change is small; a mean change below 0.5 pp with a wide
CI is not.

:func:`lambda_frontier` reads this table once more: per dataset x
architecture, the largest lambda whose accuracy is still equivalent to
lambda = 0, and by how much the energy fell there.
"""

from __future__ import annotations

import warnings
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd
import scipy.stats as sps

from neuroenergy.errors import InvalidInputError
from neuroenergy.results.schema import DIMS
from neuroenergy.stats._cube import (CubeLike, StatsWarning, as_cube, cell_frame, split_ok, warn_dropped,
                                     as_strings)
from neuroenergy.stats.compare import _check_confidence, t_interval
from neuroenergy.stats import paper

__all__ = ["lambda_sweep", "lambda_frontier", "SWEEP_ENERGY_VARIABLES", "FRONTIER_COLUMNS"]

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


def _paired_change(values: np.ndarray, pair: np.ndarray, others: list[int], i0: int) -> tuple[np.ndarray, ...]:
    """Mean, sd and n over seeds of ``(values(lam) - values(0)) * 100`` (pp) for every lambda in ``others``."""
    diff = np.where(pair, (values[:, :, others, :] - values[:, :, i0:i0 + 1, :]) * 100.0, np.nan)
    n = np.sum(np.isfinite(diff), axis=-1)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        mean = np.nanmean(diff, axis=-1)
        sd = np.nanstd(diff, axis=-1, ddof=1)
    return mean, sd, n


def _tost_p(mean: np.ndarray, sd: np.ndarray, n: np.ndarray, margin: float) -> np.ndarray:
    """TOST p-value: the larger p of the one-sided t-tests of H0 mean <= -margin and H0 mean >= +margin.

    NaN where n < 2. With no spread (sd = 0) a mean strictly inside the margin
    has p = 0 and any other has p = 1, which is the limit of the t-tests.
    """
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    df = np.where(n >= 2, n - 1, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = sd / np.sqrt(n)
        p_low = sps.t.sf((mean + margin) / se, df)    # H0: mean <= -margin
        p_high = sps.t.cdf((mean - margin) / se, df)  # H0: mean >= +margin
    still = se == 0
    p_low = np.where(still, np.where(mean > -margin, 0.0, 1.0), p_low)
    p_high = np.where(still, np.where(mean < margin, 0.0, 1.0), p_high)
    return np.where(n >= 2, np.maximum(p_low, p_high), np.nan)


def lambda_sweep(cube: CubeLike, confidence: float = 0.95, *, margin_pp: float | None = None,
                 tost_alpha: float | None = None, warn: bool = True) -> pd.DataFrame:
    """Energy ratio and accuracy change vs lambda = 0, per dataset x architecture x lambda.

    Args:
        cube: a result cube (or its path) with a lambda = 0 level and at least
            one other level.
        confidence: level of the Student-t intervals (the ``*_ci_*`` columns).
        margin_pp: equivalence margin of the TOST, percentage points of
            accuracy, and the bound of ``accuracy_claim`` (default
            ``paper.SWEEP.margin_pp``, the paper's 0.5 pp).
        tost_alpha: level of each one-sided test of the TOST (default
            ``paper.SWEEP.tost_alpha``, 5%, so equivalence = the
            ``1 - 2 alpha`` = 90% CI inside the margin).
        warn: warn about excluded cells (not ok; a pair needs both cells ok).

    Returns:
        One row per dataset x architecture x lambda > 0 (cube order, lambda
        ascending): ``dataset``, ``modality``, ``architecture``, ``family``,
        ``lam``, ``n_pairs`` (seeds with both cells ok); for ``activation``
        (internal activation energy E, per sample) and ``energy_pj`` (inference
        energy, pJ per sample): ``<v>_ratio`` (geometric mean of E(lam)/E(0),
        dimensionless), ``<v>_ratio_ci_low``, ``<v>_ratio_ci_high`` and
        ``<v>_reduction`` (= 1 / ratio, "x times lower"); ``acc_change_pp``
        with ``acc_change_ci_low``/``_ci_high`` (percentage points, at
        ``confidence``), ``acc_change_tost_low``/``_tost_high`` (the
        ``1 - 2 tost_alpha`` = 90% CI, pp) and ``tost_p`` (the TOST p-value:
        the larger of the two one-sided p-values; NaN with fewer than 2
        pairs); when the cube has ``balanced_accuracy``:
        ``bal_acc_change_pp`` with ``bal_acc_change_ci_low``/``_ci_high``
        (pp, at ``confidence``); flags ``energy_claim``, ``accuracy_claim``
        and ``accuracy_equivalent`` (``tost_p < tost_alpha``, i.e. the 90% CI
        inside +-``margin_pp``) as pandas nullable booleans, NA when not
        testable. ``attrs`` hold the thresholds used.

    Raises:
        InvalidInputError: no lambda = 0 level, no other level, or no
            ``accuracy``/energy variable.
    """
    confidence = _check_confidence(confidence)
    claim = paper.SWEEP
    margin_pp = claim.margin_pp if margin_pp is None else margin_pp
    tost_alpha = claim.tost_alpha if tost_alpha is None else tost_alpha
    if not 0.0 < float(tost_alpha) < 0.5:
        raise InvalidInputError(f"tost_alpha must be in (0, 0.5), e.g. 0.05, not {tost_alpha!r}")
    tost_alpha = float(tost_alpha)
    if not (np.isfinite(float(margin_pp)) and float(margin_pp) > 0.0):
        raise InvalidInputError(f"margin_pp must be a positive number of percentage points, not {margin_pp!r}")
    margin_pp = float(margin_pp)
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

    mean, sd, n_acc = _paired_change(_array(ds, "accuracy"), pair, others, i0)
    low, high = t_interval(mean, sd, n_acc, confidence)
    columns["acc_change_pp"], columns["acc_change_ci_low"], columns["acc_change_ci_high"] = mean, low, high
    # TOST at level alpha <=> the 1 - 2 alpha CI inside the margin (both are reported).
    columns["acc_change_tost_low"], columns["acc_change_tost_high"] = t_interval(mean, sd, n_acc,
                                                                                 1.0 - 2.0 * tost_alpha)
    columns["tost_p"] = _tost_p(mean, sd, n_acc, margin_pp)
    if "balanced_accuracy" in ds.data_vars:
        mean, sd, n_bal = _paired_change(_array(ds, "balanced_accuracy"), pair, others, i0)
        low, high = t_interval(mean, sd, n_bal, confidence)
        columns["bal_acc_change_pp"], columns["bal_acc_change_ci_low"], columns["bal_acc_change_ci_high"] = \
            mean, low, high

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

    table["energy_claim"] = _flag(claim.energy_reduction.holds(table["activation_reduction"]),
                                  table["activation_reduction"]) if "activation_reduction" in table else pd.NA
    accuracy_rule = paper.Bound(claim.accuracy_change_pp.op, margin_pp)
    table["accuracy_claim"] = _flag(accuracy_rule.holds(table["acc_change_pp"].abs()), table["acc_change_pp"])
    table["accuracy_equivalent"] = _flag(table["tost_p"] < tost_alpha, table["tost_p"])

    table["_d"], table["_a"] = d_idx, a_idx
    table = table.sort_values(["_d", "_a", "lam"]).drop(columns=["_d", "_a"]).reset_index(drop=True)
    table.attrs.update(confidence=confidence, reference_lam=0.0,
                       energy_claim_min_reduction=claim.energy_reduction.limit,
                       accuracy_claim_max_pp=margin_pp, tost_alpha=tost_alpha,
                       tost_confidence=1.0 - 2.0 * tost_alpha)
    return table


def _flag(condition: pd.Series, value: pd.Series) -> pd.Series:
    """A nullable boolean: ``condition`` where ``value`` is known, NA where it is NaN."""
    flag = condition.astype("boolean")
    flag[~np.isfinite(value.to_numpy(dtype=float))] = pd.NA
    return flag


#: The columns of :func:`lambda_frontier`, in order.
FRONTIER_COLUMNS = ("dataset", "modality", "architecture", "family", "largest_equivalent_lam", "n_pairs",
                    "activation_reduction", "activation_reduction_ci_low", "activation_reduction_ci_high",
                    "energy_pj_reduction", "energy_pj_reduction_ci_low", "energy_pj_reduction_ci_high",
                    "acc_change_pp", "max_lam", "max_lam_activation_ratio", "max_lam_acc_change_pp")


def lambda_frontier(cube: CubeLike, confidence: float = 0.95, *, warn: bool = True) -> pd.DataFrame:
    """The paper's sweep claim as one number per architecture: how far lambda goes before accuracy moves.

    Read from :func:`lambda_sweep`'s table (TOST equivalence at +-0.5 pp,
    paired by seed). The largest equivalent lambda is the largest level whose
    ``accuracy_equivalent`` is true; a smaller level need not be equivalent
    too (each level is tested on its own).

    Args:
        cube: a result cube (or its path) with lambda = 0 and at least one
            other level.
        confidence: level of the CIs of the energy reductions.
        warn: warn about excluded cells.

    Returns:
        One row per dataset x architecture (cube order): ``dataset``,
        ``modality``, ``architecture``, ``family``;
        ``largest_equivalent_lam`` (largest lambda > 0 whose accuracy is
        TOST-equivalent to lambda = 0; NaN when none is) and there:
        ``n_pairs`` (seeds paired), ``activation_reduction`` (E(0) / E(lam),
        the factor by which activation energy per sample fell: 1 / geometric
        mean ratio) with ``activation_reduction_ci_low``/``_ci_high`` (the
        reciprocal of the ratio's CI), the same for inference energy in pJ per
        sample (``energy_pj_reduction``, ``_ci_low``, ``_ci_high``) and
        ``acc_change_pp`` (percentage points); all NaN when no level is
        equivalent. Then, at the cube's largest lambda ``max_lam`` whatever
        its equivalence: ``max_lam_activation_ratio`` (E(max) / E(0),
        geometric mean; above ``paper.SWEEP.barely_moved_ratio`` = 0.5 the sweep
        barely moved E) and
        ``max_lam_acc_change_pp``. Energy columns are NaN when the cube lacks
        that variable.
    """
    sweep = lambda_sweep(cube, confidence, warn=warn)
    rows = []
    for (dataset, architecture), rows_da in sweep.groupby(["dataset", "architecture"], sort=False):
        first = rows_da.iloc[0]
        row = {"dataset": dataset, "modality": first["modality"], "architecture": architecture,
               "family": first["family"]}
        equivalent = rows_da[rows_da["accuracy_equivalent"].fillna(False).astype(bool)]
        at = equivalent.iloc[-1] if len(equivalent) else None  # the sweep lists lambda ascending
        row["largest_equivalent_lam"] = float(at["lam"]) if at is not None else np.nan
        row["n_pairs"] = int(at["n_pairs"]) if at is not None else pd.NA
        for prefix in SWEEP_ENERGY_VARIABLES.values():
            known = at is not None and f"{prefix}_ratio" in sweep
            # The reduction is 1 / ratio, so its CI is the ratio's CI reversed.
            row[f"{prefix}_reduction"] = 1.0 / at[f"{prefix}_ratio"] if known else np.nan
            row[f"{prefix}_reduction_ci_low"] = 1.0 / at[f"{prefix}_ratio_ci_high"] if known else np.nan
            row[f"{prefix}_reduction_ci_high"] = 1.0 / at[f"{prefix}_ratio_ci_low"] if known else np.nan
        row["acc_change_pp"] = float(at["acc_change_pp"]) if at is not None else np.nan
        last = rows_da.iloc[-1]
        row["max_lam"] = float(last["lam"])
        row["max_lam_activation_ratio"] = float(last["activation_ratio"]) if "activation_ratio" in sweep else np.nan
        row["max_lam_acc_change_pp"] = float(last["acc_change_pp"])
        rows.append(row)
    frontier = pd.DataFrame(rows, columns=list(FRONTIER_COLUMNS))
    frontier["n_pairs"] = frontier["n_pairs"].astype("Int64")
    frontier.attrs.update(sweep.attrs)
    return frontier
