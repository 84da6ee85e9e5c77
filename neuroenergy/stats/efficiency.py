"""Training efficiency: cost to reach a target accuracy, and the gain of energy-first over baseline families.

Per run: optimiser steps, training forward-pass energy (pJ) and training wall
time (s) until the held-out accuracy first reached the target. Either the
cube's ``*_to_target`` variables (the runner's target, ``target_accuracy``
per dataset) or recomputed from the learning curves (``curve_*``) for another
target.

Gain of the energy-first family over the baseline family within a group
(modality by default): ``gain = 1 - mean(cost | energy_first) /
mean(cost | baseline)`` over the runs of each family that reached the target,
pooled over the group's datasets, architectures and seeds. A positive gain
means energy-first architectures need less. Its CI is a percentile bootstrap
that resamples runs with replacement within each family independently
(``n_boot`` resamples, seeded, so a report is reproducible).

Runs that never reached the target have no cost; they are counted, reported
and left out (a warning says how many). Leaving them out favours a family that
often fails to reach the target, which is why the counts sit beside the gain.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from neuroenergy.errors import InvalidInputError
from neuroenergy.results.schema import DIMS
from neuroenergy.stats._cube import (CubeLike, StatsWarning, as_cube, as_strings, cell_frame, resolve_lam,
                                     split_ok, warn_dropped)
from neuroenergy.stats.compare import _check_confidence
from neuroenergy.stats.paper import EFFICIENCY_GAIN_RANGE

__all__ = ["efficiency", "EfficiencyResult", "EFFICIENCY_METRICS"]

#: Cost to target: cube variable -> (units, curve variable it is read from). Read-only.
EFFICIENCY_METRICS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "train_energy_to_target_pj": ("pJ", "curve_train_energy_pj"),
    "steps_to_target": ("optimizer steps", "curve_step"),
    "train_time_to_target_s": ("s", "curve_train_time_s"),
})

FAMILIES = ("energy_first", "baseline")


@dataclass(frozen=True)
class EfficiencyResult:
    """What :func:`efficiency` returns.

    Attributes:
        runs: one row per ok run: ``architecture``, ``family``, ``dataset``,
            ``modality``, ``lam``, ``seed``, ``target`` (fraction), ``reached``
            and the three costs (NaN when not reached): ``steps_to_target``
            (optimizer steps), ``train_energy_to_target_pj`` (pJ),
            ``train_time_to_target_s`` (s).
        gains: one row per group x metric: the group column (``modality`` or
            ``dataset``), ``metric``, ``units``, ``n_energy_first``,
            ``n_baseline`` (runs that reached the target),
            ``not_reached_energy_first``, ``not_reached_baseline``,
            ``mean_energy_first``, ``mean_baseline`` (metric units), ``ratio``
            (energy-first / baseline), ``gain`` (= 1 - ratio, fraction),
            ``ci_low``, ``ci_high`` (bootstrap CI of the gain) and
            ``in_paper_range`` (gain within the paper's 5-33%).
        not_reached: per dataset x architecture with at least one such run:
            ``n_runs`` (ok runs) and ``n_not_reached``.
        target: dataset -> target accuracy (fraction) used.
        lam: the lambda level analysed.
        by: the grouping of the gains (``modality`` or ``dataset``).
        source: ``"cube"`` (stored ``*_to_target``) or ``"curves"`` (recomputed).
    """

    runs: pd.DataFrame
    gains: pd.DataFrame
    not_reached: pd.DataFrame
    target: dict[str, float] = field(default_factory=dict)
    lam: float = 0.0
    by: str = "modality"
    source: str = "cube"


def _targets(ds, target: float | Mapping[str, float] | None) -> dict[str, float]:
    datasets = [str(v) for v in as_strings(np.asarray(ds["dataset"].values))]
    if target is None:
        if "target_accuracy" in ds.data_vars:
            values = ds["target_accuracy"].broadcast_like(ds["dataset"]).values.astype(float)
            return dict(zip(datasets, values.tolist()))
        return {d: float("nan") for d in datasets}
    if isinstance(target, Mapping):
        missing = [d for d in datasets if d not in target]
        if missing:
            raise InvalidInputError(f"target has no accuracy for dataset(s) {', '.join(missing)}")
        chosen = {d: target[d] for d in datasets}
    else:
        chosen = {d: target for d in datasets}
    out = {}
    for dataset, value in chosen.items():
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"target accuracy must be a number, not {value!r}") from exc
        if not 0.0 < value <= 1.0:
            hint = f" (a fraction: {value / 100:g} for {value:g}%)" if 1.0 < value <= 100.0 else ""
            raise InvalidInputError(f"target accuracy for {dataset} must be in (0, 1]{hint}, not {value:g}")
        out[dataset] = value
    return out


def _from_curves(ds, lam: float, targets: dict[str, float]) -> dict[str, np.ndarray]:
    """Costs at the first evaluation whose accuracy reached the dataset's target, per cell."""
    if "curve_accuracy" not in ds.data_vars:
        raise InvalidInputError("a target other than the cube's needs the learning curves (curve_accuracy), "
                                "which this cube does not hold")
    sub = ds.sel(lam=[lam])
    order = DIMS + ("eval",)
    accuracy = sub["curve_accuracy"].transpose(*order).values.astype(float)
    goal = np.array([targets[str(d)] for d in as_strings(np.asarray(sub["dataset"].values))])
    with np.errstate(invalid="ignore"):
        hit = accuracy >= goal[None, :, None, None, None]  # NaN (no evaluation) never hits
    reached = hit.any(axis=-1)
    first = np.argmax(hit, axis=-1)[..., None]
    out = {}
    for metric, (_, curve) in EFFICIENCY_METRICS.items():
        if curve in sub.data_vars:
            values = np.take_along_axis(sub[curve].transpose(*order).values.astype(float), first, axis=-1)[..., 0]
            out[metric] = np.where(reached, values, np.nan).reshape(-1)
        else:
            out[metric] = np.full(reached.size, np.nan)
    out["reached"] = reached.reshape(-1)
    return out


def _bootstrap_gain(first: np.ndarray, base: np.ndarray, n_boot: int, confidence: float,
                    rng: np.random.Generator) -> tuple[float, float]:
    """Percentile-bootstrap CI of 1 - mean(first)/mean(base), resampling each sample on its own."""
    boot_first = first[rng.integers(0, first.size, size=(n_boot, first.size))].mean(axis=1)
    boot_base = base[rng.integers(0, base.size, size=(n_boot, base.size))].mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = 1.0 - boot_first / boot_base
    tail = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(gains, [tail, 1.0 - tail])
    return float(low), float(high)


def efficiency(cube: CubeLike, target: float | Mapping[str, float] | None = None, lam: float | None = None,
               by: str = "modality", n_boot: int = 2000, confidence: float = 0.95, seed: int = 0,
               *, warn: bool = True) -> EfficiencyResult:
    """Cost to reach a target accuracy per run, and energy-first vs baseline gains.

    Args:
        cube: a result cube (or its path).
        target: ``None`` uses the cube's ``*_to_target`` variables (the
            runner's ``target_accuracy`` per dataset); a fraction in (0, 1], or
            a mapping dataset -> fraction, recomputes the costs from the
            learning curves for that target.
        lam: lambda level; ``None`` is the cube's only level, else 0 (compare
            architectures without the energy term).
        by: group within which the families are compared: ``"modality"``
            (the paper's comparison) or ``"dataset"``.
        n_boot: bootstrap resamples for the CI of the gain.
        confidence: CI level.
        seed: seed of the bootstrap's random generator (same seed, same CI).
        warn: warn about excluded cells and about runs that never reached the
            target.

    Returns:
        An :class:`EfficiencyResult`.

    Raises:
        InvalidInputError: bad target, ``by`` or ``n_boot``; a cube without
            the needed variables or without the ``family`` coordinate.
    """
    confidence = _check_confidence(confidence)
    if by not in ("modality", "dataset"):
        raise InvalidInputError(f"by must be 'modality' or 'dataset', not {by!r}")
    if int(n_boot) < 100:
        raise InvalidInputError(f"n_boot must be at least 100 for a percentile CI, not {n_boot!r}")
    ds = as_cube(cube)
    if "family" not in ds.coords:
        raise InvalidInputError("the cube has no family(architecture) coordinate; "
                                "efficiency compares energy_first with baseline architectures")
    selected = resolve_lam(ds, lam)
    stored = [m for m in EFFICIENCY_METRICS if m in ds.data_vars]
    if target is None and not stored:
        if "target_accuracy" not in ds.data_vars:
            raise InvalidInputError("the cube holds neither *_to_target variables nor target_accuracy; "
                                    "pass target= (a fraction) to recompute from the learning curves")
    targets = _targets(ds, target)
    frame = cell_frame(ds, stored if target is None else [], lam=selected)
    source = "cube"
    if target is not None or not stored:
        for metric, values in _from_curves(ds, selected, targets).items():
            frame[metric] = values
        source = "curves"
    else:
        for metric in EFFICIENCY_METRICS:
            if metric not in frame:
                frame[metric] = np.nan
        indicator = "steps_to_target" if "steps_to_target" in stored else stored[0]
        frame["reached"] = np.isfinite(frame[indicator].to_numpy())
    ok, dropped = split_ok(frame, [])
    if warn:
        warn_dropped(dropped, "efficiency", len(frame))
    ok["target"] = ok["dataset"].map(targets).astype(float)
    ok["reached"] = ok["reached"].astype(bool)
    runs = ok[["architecture", "family", "dataset", "modality", "lam", "seed", "target", "reached",
               *EFFICIENCY_METRICS]].reset_index(drop=True)

    counts = runs.groupby(["dataset", "architecture"], sort=False).agg(
        n_runs=("reached", "size"), n_not_reached=("reached", lambda r: int((~r).sum()))).reset_index()
    not_reached = counts[counts["n_not_reached"] > 0].reset_index(drop=True)
    if warn and not not_reached.empty:
        listed = ", ".join(f"{r.dataset}/{r.architecture}: {r.n_not_reached}" for r in not_reached.itertuples())
        warnings.warn(f"efficiency: {int(not_reached['n_not_reached'].sum())} of {len(runs)} ok runs never "
                      f"reached the target accuracy and are excluded from the costs ({listed})",
                      StatsWarning, stacklevel=2)

    rows = []
    groups = list(dict.fromkeys(runs[by]))
    for g_index, group in enumerate(groups):
        in_group = runs[runs[by] == group]
        if not set(FAMILIES) <= set(in_group["family"]):
            continue  # the paper's comparison needs both families in the group
        for m_index, (metric, (units, _)) in enumerate(EFFICIENCY_METRICS.items()):
            samples, missed = {}, {}
            for family in FAMILIES:
                runs_f = in_group[in_group["family"] == family]
                values = runs_f.loc[runs_f["reached"], metric].to_numpy(dtype=float)
                samples[family] = values[np.isfinite(values)]
                missed[family] = int((~runs_f["reached"]).sum())
            first, base = samples["energy_first"], samples["baseline"]
            mean_first = float(first.mean()) if first.size else np.nan
            mean_base = float(base.mean()) if base.size else np.nan
            ratio = mean_first / mean_base if first.size and base.size and mean_base != 0 else np.nan
            low = high = np.nan
            if np.isfinite(ratio):
                # One generator per row, seeded by (seed, group, metric): a row's
                # CI does not depend on which other rows were computed.
                rng = np.random.default_rng([int(seed), g_index, m_index])
                low, high = _bootstrap_gain(first, base, int(n_boot), confidence, rng)
            rows.append({by: group, "metric": metric, "units": units,
                         "n_energy_first": int(first.size), "n_baseline": int(base.size),
                         "not_reached_energy_first": missed["energy_first"],
                         "not_reached_baseline": missed["baseline"],
                         "mean_energy_first": mean_first, "mean_baseline": mean_base,
                         "ratio": ratio, "gain": 1.0 - ratio, "ci_low": low, "ci_high": high})
    gains = pd.DataFrame(rows, columns=[by, "metric", "units", "n_energy_first", "n_baseline",
                                        "not_reached_energy_first", "not_reached_baseline", "mean_energy_first",
                                        "mean_baseline", "ratio", "gain", "ci_low", "ci_high"])
    lo, hi = EFFICIENCY_GAIN_RANGE
    in_range = ((gains["gain"] >= lo) & (gains["gain"] <= hi)).astype("boolean")
    in_range[~np.isfinite(gains["gain"].to_numpy(dtype=float))] = pd.NA
    gains["in_paper_range"] = in_range
    gains.attrs.update(n_boot=int(n_boot), confidence=confidence, seed=int(seed), lam=selected, by=by)
    return EfficiencyResult(runs=runs, gains=gains, not_reached=not_reached, target=targets, lam=selected,
                            by=by, source=source)
