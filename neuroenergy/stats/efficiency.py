"""Training efficiency: cost to reach a target accuracy, and the gain of energy-first over baseline architectures.

Per run: optimiser steps, training forward-pass energy (pJ) and training wall
time (s) until the held-out accuracy first reached the target. Either the
cube's ``*_to_target`` variables (the runner's target, ``target_accuracy``
per dataset) or recomputed from the learning curves (``curve_*``) for another
target. Steps to target is the primary metric: it does not depend on what one
sample costs an architecture, so it compares learning speed; energy and time
to target sit beside it.

Matched gains (``method="matched"``, the default), within each group
(modality by default): for each dataset d, energy-first architecture e and
baseline b, ``r(e, b, d) = median over seeds of cost(e, d) / median over seeds
of cost(b, d)``, over the runs that reached the target; a pair where either
side has fewer than 2 such runs is left out and counted. Two gains:

* ``versus="all"``: ``1 - geometric mean of r`` over the group's pairs;
* ``versus="best"``: ``1 - geometric mean over (e, d) of r(e, b*(d), d)``,
  b*(d) the baseline with the lowest median cost on d (among those with 2 or
  more runs that reached the target).

Their CIs are percentile bootstraps that resample seeds (runs that reached the
target) with replacement within each (architecture, dataset) and recompute the
medians, the ratios and, for ``best``, the choice of b*(d) (the choice is part
of the estimate; fixing it would hide a runner-up baseline that is nearly as
cheap, so the CI would be too narrow). ``n_boot`` resamples, seeded, so a
report is reproducible. Matching within a dataset keeps datasets of different
difficulty from weighing in, and the geometric mean makes a 2x saving and a 2x
loss cancel.

Pooled gains (``method="pooled"``): ``1 - mean(cost | energy_first) /
mean(cost | baseline)`` over the runs of each family that reached the target,
pooled over the group's datasets, architectures and seeds, with a bootstrap
that resamples runs within each family. It is confounded by which
architectures each family holds (one costly baseline raises the baseline
mean), and is kept to compare with earlier reports.

Runs that never reached the target have no cost; they are counted, reported
(also as a share of each family's runs) and left out (a warning says how
many). Leaving them out favours a family that often fails to reach the target,
which is why the counts sit beside the gain.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from neuroenergy.errors import InvalidInputError
from neuroenergy.metrics import CELL_METRICS
from neuroenergy.results.schema import DIMS
from neuroenergy.vocabulary import FAMILIES
from neuroenergy.stats._cube import (CubeLike, StatsWarning, as_cube, as_strings, cell_frame, resolve_lam,
                                     split_ok, warn_dropped)
from neuroenergy.stats.compare import _check_confidence
from neuroenergy.stats import paper

__all__ = ["efficiency", "EfficiencyResult", "EFFICIENCY_METRICS", "METHODS", "GAIN_COLUMNS", "PAIR_COLUMNS",
           "MIN_RUNS_PER_SIDE"]

#: Cost to target: cube variable -> (units as the tables print them, from its declaration in
#: ``neuroenergy.metrics``; curve variable it is read from), the primary metric first. Read-only.
EFFICIENCY_METRICS: Mapping[str, tuple[str, str]] = MappingProxyType({
    name: (CELL_METRICS[name].shown_units, curve)
    for name, curve in (("steps_to_target", "curve_step"),
                        ("train_energy_to_target_pj", "curve_train_energy_pj"),
                        ("train_time_to_target_s", "curve_train_time_s"))
})

#: How :func:`efficiency` forms the gains; the first is the default.
METHODS = ("matched", "pooled")

#: A matched pair needs at least this many runs on each side that reached the target.
MIN_RUNS_PER_SIDE = 2

#: Columns of ``EfficiencyResult.gains`` after the group column (``modality`` or ``dataset``).
GAIN_COLUMNS = ("metric", "units", "versus", "n_pairs", "n_pairs_left_out", "n_energy_first", "n_baseline",
                "not_reached_energy_first", "not_reached_baseline", "not_reached_share_energy_first",
                "not_reached_share_baseline", "mean_energy_first", "mean_baseline", "ratio", "gain", "ci_low",
                "ci_high")

#: Columns of ``EfficiencyResult.pairs``.
PAIR_COLUMNS = ("modality", "dataset", "energy_first", "baseline", "metric", "units", "median_energy_first",
                "median_baseline", "ratio", "n_energy_first", "n_baseline", "is_best_baseline", "left_out")


@dataclass(frozen=True)
class EfficiencyResult:
    """What :func:`efficiency` returns.

    Attributes:
        runs: one row per ok run: ``architecture``, ``family``, ``dataset``,
            ``modality``, ``lam``, ``seed``, ``target`` (fraction), ``reached``
            and the three costs (NaN when not reached): ``steps_to_target``
            (optimizer steps), ``train_energy_to_target_pj`` (pJ),
            ``train_time_to_target_s`` (s).
        gains: one row per group x metric x ``versus``: the group column
            (``modality`` or ``dataset``), then :data:`GAIN_COLUMNS`:
            ``metric``, ``units``, ``versus`` (``"all"`` or ``"best"`` for
            matched gains, ``"pooled"`` for family means), ``n_pairs``,
            ``n_pairs_left_out`` (matched pairs used and left out; for
            ``best`` the (energy-first, dataset) pairs; NA for pooled),
            ``n_energy_first``, ``n_baseline`` (runs that reached the target
            behind the gain), ``not_reached_energy_first``,
            ``not_reached_baseline`` (ok runs of the group that never reached
            it) and ``not_reached_share_energy_first``/``_baseline`` (their
            share of the family's ok runs, fraction), ``mean_energy_first``,
            ``mean_baseline`` (metric units: pooled, the family means;
            matched, the geometric means over the pairs of the seed medians),
            ``ratio`` (= mean_energy_first / mean_baseline: matched, the
            geometric mean of r), ``gain`` (= 1 - ratio, fraction; positive =
            energy-first needs less), ``ci_low``, ``ci_high`` (bootstrap CI of
            the gain) and ``in_paper_range`` (gain within the paper's 5-33%,
            ``paper.EFFICIENCY.gain_range``).
        not_reached: per dataset x architecture with at least one such run:
            ``n_runs`` (ok runs) and ``n_not_reached``.
        target: dataset -> target accuracy (fraction) used.
        lam: the lambda level analysed.
        by: the grouping of the gains (``modality`` or ``dataset``).
        source: ``"cube"`` (stored ``*_to_target``) or ``"curves"`` (recomputed).
        pairs: one row per metric x dataset x energy-first x baseline
            architecture (:data:`PAIR_COLUMNS`): ``modality``, ``dataset``,
            ``energy_first``, ``baseline``, ``metric``, ``units``,
            ``median_energy_first``, ``median_baseline`` (median over the
            seeds that reached the target, metric units; NaN with none),
            ``ratio`` (their quotient; NaN when left out), ``n_energy_first``,
            ``n_baseline`` (those seeds), ``is_best_baseline`` (the baseline
            is b*(d) for this dataset and metric) and ``left_out`` (a side has
            fewer than 2 such runs). Filled for both methods.
        method: ``"matched"`` or ``"pooled"``.
    """

    runs: pd.DataFrame
    gains: pd.DataFrame
    not_reached: pd.DataFrame
    target: dict[str, float] = field(default_factory=dict)
    lam: float = 0.0
    by: str = "modality"
    source: str = "cube"
    pairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PAIR_COLUMNS)))
    method: str = "matched"


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


def _metric_seed(metric: str) -> int:
    # Seeded by the metric's name, not its position, so reordering the metrics
    # does not change any CI.
    return zlib.crc32(metric.encode("utf-8"))


def _family_counts(in_group: pd.DataFrame) -> dict[str, float]:
    """Runs of each family in a group that never reached the target: count and share of its ok runs."""
    out: dict[str, float] = {}
    for family in FAMILIES:
        reached = in_group.loc[in_group["family"] == family, "reached"].to_numpy(dtype=bool)
        out[f"not_reached_{family}"] = int((~reached).sum())
        out[f"not_reached_share_{family}"] = float((~reached).mean()) if reached.size else np.nan
    return out


def _comparable_groups(runs: pd.DataFrame, by: str):
    """``(index, group, its runs, family counts)`` for each group holding runs of both families
    (the paper's comparison needs both); the index seeds that group's bootstrap."""
    for g_index, group in enumerate(dict.fromkeys(runs[by])):
        in_group = runs[runs[by] == group]
        if set(FAMILIES) <= set(in_group["family"]):
            yield g_index, group, in_group, _family_counts(in_group)


def _pooled_gains(runs: pd.DataFrame, by: str, n_boot: int, confidence: float, seed: int) -> pd.DataFrame:
    """Family-mean gains (``method="pooled"``): 1 - mean cost(energy-first) / mean cost(baseline)."""
    rows = []
    for g_index, group, in_group, counts in _comparable_groups(runs, by):
        for metric, (units, _) in EFFICIENCY_METRICS.items():
            samples = {}
            for family in FAMILIES:
                runs_f = in_group[in_group["family"] == family]
                values = runs_f.loc[runs_f["reached"], metric].to_numpy(dtype=float)
                samples[family] = values[np.isfinite(values)]
            first, base = samples["energy_first"], samples["baseline"]
            mean_first = float(first.mean()) if first.size else np.nan
            mean_base = float(base.mean()) if base.size else np.nan
            ratio = mean_first / mean_base if first.size and base.size and mean_base != 0 else np.nan
            low = high = np.nan
            if np.isfinite(ratio):
                # One generator per row, seeded by (seed, group, metric): a row's
                # CI does not depend on which other rows were computed.
                rng = np.random.default_rng([seed, g_index, _metric_seed(metric)])
                low, high = _bootstrap_gain(first, base, n_boot, confidence, rng)
            rows.append({by: group, "metric": metric, "units": units, "versus": "pooled",
                         "n_pairs": pd.NA, "n_pairs_left_out": pd.NA,
                         "n_energy_first": int(first.size), "n_baseline": int(base.size), **counts,
                         "mean_energy_first": mean_first, "mean_baseline": mean_base,
                         "ratio": ratio, "gain": 1.0 - ratio, "ci_low": low, "ci_high": high})
    return _gains_frame(rows, by)


def _gains_frame(rows: list[dict], by: str) -> pd.DataFrame:
    gains = pd.DataFrame(rows, columns=[by, *GAIN_COLUMNS])
    for name in ("n_pairs", "n_pairs_left_out"):
        gains[name] = gains[name].astype("Int64")  # NA for pooled rows, which have no pairs
    return gains


def _cell_costs(runs: pd.DataFrame, metric: str) -> dict[tuple[str, str], np.ndarray]:
    """(architecture, dataset) -> costs of the runs that reached the target (finite, > 0), seed order.

    A cost of 0 (the target met before any training) has no log ratio and
    says nothing about training efficiency; it is left out of the medians.
    """
    reached = runs[runs["reached"]]
    out = {}
    for (architecture, dataset), values in reached.groupby(["architecture", "dataset"], sort=False)[metric]:
        values = values.to_numpy(dtype=float)
        out[(str(architecture), str(dataset))] = values[np.isfinite(values) & (values > 0)]
    return out


def _pairs_table(runs: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Every energy-first x baseline x dataset pair per metric, with seed medians and their ratio."""
    rows = []
    datasets = list(dict.fromkeys(cells["dataset"]))
    modality = dict(zip(cells["dataset"], cells["modality"]))
    family = dict(zip(cells["architecture"], cells["family"]))
    firsts = [a for a in dict.fromkeys(cells["architecture"]) if family[a] == "energy_first"]
    bases = [a for a in dict.fromkeys(cells["architecture"]) if family[a] == "baseline"]
    for metric, (units, _) in EFFICIENCY_METRICS.items():
        costs = _cell_costs(runs, metric)
        empty = np.array([])
        for dataset in datasets:
            median = {a: float(np.median(costs[(a, dataset)])) if costs.get((a, dataset), empty).size else np.nan
                      for a in firsts + bases}
            size = {a: int(costs.get((a, dataset), empty).size) for a in firsts + bases}
            eligible = [b for b in bases if size[b] >= MIN_RUNS_PER_SIDE]
            # The best baseline: lowest median among those with enough runs; the
            # first in cube order on a tie.
            best = min(eligible, key=lambda b: median[b]) if eligible else None
            for first in firsts:
                for base in bases:
                    left_out = size[first] < MIN_RUNS_PER_SIDE or size[base] < MIN_RUNS_PER_SIDE
                    rows.append({"modality": modality[dataset], "dataset": dataset, "energy_first": first,
                                 "baseline": base, "metric": metric, "units": units,
                                 "median_energy_first": median[first], "median_baseline": median[base],
                                 "ratio": np.nan if left_out else median[first] / median[base],
                                 "n_energy_first": size[first], "n_baseline": size[base],
                                 "is_best_baseline": base == best, "left_out": left_out})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def _warn_left_out(pairs: pd.DataFrame) -> None:
    measured = pairs.groupby("metric")["n_energy_first"].transform("sum") + \
        pairs.groupby("metric")["n_baseline"].transform("sum") > 0  # a metric the cube holds at all
    left = pairs[pairs["left_out"] & measured].drop_duplicates(["dataset", "energy_first", "baseline"])
    if left.empty:
        return
    total = len(pairs.drop_duplicates(["dataset", "energy_first", "baseline"]))
    listed = ", ".join(f"{r.dataset}: {r.energy_first}/{r.baseline}" for r in left.head(20).itertuples())
    more = f" and {len(left) - 20} more" if len(left) > 20 else ""
    warnings.warn(f"efficiency: {len(left)} of {total} energy-first/baseline pairs left out of the matched gains "
                  f"(fewer than {MIN_RUNS_PER_SIDE} runs on one side reached the target): {listed}{more}",
                  StatsWarning, stacklevel=3)


def _boot_log_medians(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """log of the median of ``n_boot`` resamples (with replacement) of ``values``: shape (n_boot,)."""
    picks = values[rng.integers(0, values.size, size=(n_boot, values.size))]
    return np.log(np.median(picks, axis=1))


def _matched_gains(runs: pd.DataFrame, pairs: pd.DataFrame, by: str, n_boot: int, confidence: float,
                   seed: int) -> pd.DataFrame:
    """Matched gains per group x metric, against all baselines and against the best one per dataset."""
    rows = []
    tail = (1.0 - confidence) / 2.0
    for g_index, group, in_group, counts in _comparable_groups(runs, by):
        for metric, (units, _) in EFFICIENCY_METRICS.items():
            costs = _cell_costs(in_group, metric)
            group_pairs = pairs[(pairs[by] == group) & (pairs["metric"] == metric)]
            used = group_pairs[~group_pairs["left_out"]]
            best = used[used["is_best_baseline"]]
            n_best_slots = len(group_pairs.drop_duplicates(["dataset", "energy_first"]))
            # One set of resamples per (group, metric), shared by "all" and "best",
            # seeded by (seed, group, metric): a row's CI does not depend on other rows.
            rng = np.random.default_rng([seed, g_index, _metric_seed(metric)])
            boot = {cell: _boot_log_medians(costs[cell], n_boot, rng)
                    for cell in sorted({(r.energy_first, r.dataset) for r in used.itertuples()}
                                       | {(r.baseline, r.dataset) for r in used.itertuples()})}
            for versus, chosen, n_slots in (("all", used, len(group_pairs)), ("best", best, n_best_slots)):
                row = {by: group, "metric": metric, "units": units, "versus": versus,
                       "n_pairs": len(chosen), "n_pairs_left_out": n_slots - len(chosen), **counts,
                       "n_energy_first": _runs_behind(chosen, "energy_first", "n_energy_first"),
                       "n_baseline": _runs_behind(chosen, "baseline", "n_baseline")}
                if chosen.empty:
                    row.update(mean_energy_first=np.nan, mean_baseline=np.nan, ratio=np.nan, gain=np.nan,
                               ci_low=np.nan, ci_high=np.nan)
                    rows.append(row)
                    continue
                log_first = np.log(chosen["median_energy_first"].to_numpy(dtype=float))
                log_base = np.log(chosen["median_baseline"].to_numpy(dtype=float))
                ratio = float(np.exp(np.mean(log_first - log_base)))
                if versus == "all":
                    log_r = np.mean([boot[(r.energy_first, r.dataset)] - boot[(r.baseline, r.dataset)]
                                     for r in chosen.itertuples()], axis=0)
                else:
                    # The best baseline is chosen again in every resample: the
                    # choice is part of the estimate, and a fixed choice would
                    # hide how close the runner-up baseline is.
                    eligible = used.drop_duplicates(["dataset", "baseline"])
                    cheapest = {d: np.min([boot[(b, d)] for b in rows_d["baseline"]], axis=0)
                                for d, rows_d in eligible.groupby("dataset", sort=False)}
                    log_r = np.mean([boot[(r.energy_first, r.dataset)] - cheapest[r.dataset]
                                     for r in chosen.itertuples()], axis=0)
                low, high = np.nanquantile(1.0 - np.exp(log_r), [tail, 1.0 - tail])
                # Geometric means of the seed medians over the pairs, so that
                # gain = 1 - mean_energy_first / mean_baseline as for pooled rows.
                row.update(mean_energy_first=float(np.exp(log_first.mean())),
                           mean_baseline=float(np.exp(log_base.mean())), ratio=ratio, gain=1.0 - ratio,
                           ci_low=float(low), ci_high=float(high))
                rows.append(row)
    return _gains_frame(rows, by)


def _runs_behind(chosen: pd.DataFrame, side: str, count: str) -> int:
    """Runs that reached the target in the distinct cells of one side of the chosen pairs."""
    return int(chosen.drop_duplicates([side, "dataset"])[count].sum())


def efficiency(cube: CubeLike, target: float | Mapping[str, float] | None = None, lam: float | None = None,
               by: str = "modality", n_boot: int = 2000, confidence: float = 0.95, seed: int = 0,
               *, method: str = "matched", warn: bool = True) -> EfficiencyResult:
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
        method: ``"matched"`` (default: per-dataset pairs of architectures,
            gains against all baselines and against the best one) or
            ``"pooled"`` (family means; confounded by per-sample cost).
        warn: warn about excluded cells, about runs that never reached the
            target and about matched pairs left out.

    Returns:
        An :class:`EfficiencyResult`.

    Raises:
        InvalidInputError: bad target, ``by``, ``method`` or ``n_boot``; a cube without
            the needed variables or without the ``family`` coordinate.
    """
    confidence = _check_confidence(confidence)
    if by not in ("modality", "dataset"):
        raise InvalidInputError(f"by must be 'modality' or 'dataset', not {by!r}")
    if method not in METHODS:
        raise InvalidInputError(f"method must be {' or '.join(repr(m) for m in METHODS)}, not {method!r}")
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

    # The universe of cells is the cube's (failed cells included), so a pair
    # whose side has no ok run at all is still counted as left out.
    cells = frame[["architecture", "family", "dataset", "modality"]].drop_duplicates().reset_index(drop=True)
    pairs = _pairs_table(runs, cells)
    if method == "pooled":
        gains = _pooled_gains(runs, by, int(n_boot), confidence, int(seed))
    else:
        if warn:
            _warn_left_out(pairs)
        gains = _matched_gains(runs, pairs, by, int(n_boot), confidence, int(seed))
    in_range = paper.EFFICIENCY.in_range(gains["gain"]).astype("boolean")
    in_range[~np.isfinite(gains["gain"].to_numpy(dtype=float))] = pd.NA
    gains["in_paper_range"] = in_range
    gains.attrs.update(n_boot=int(n_boot), confidence=confidence, seed=int(seed), lam=selected, by=by,
                       method=method)
    return EfficiencyResult(runs=runs, gains=gains, not_reached=not_reached, target=targets, lam=selected,
                            by=by, source=source, pairs=pairs, method=method)
