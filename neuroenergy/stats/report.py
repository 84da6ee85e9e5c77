"""The study's report: one list of sections, built once, rendered as the ``stats`` text and as ``report.md``.

:func:`format_tables` returns the plain text that ``python -m
neuroenergy.protocols stats DIR`` prints; :func:`write_report` writes
``report.md`` and its PNG figures for ``report DIR``. Both run the same
statistics with their defaults (balanced-accuracy ANOVA over architecture x dataset,
Type II, at lambda = 0 or the cube's only level), build the same
:class:`~neuroenergy.stats.document.Document` from :data:`SECTIONS` and render
it with :func:`~neuroenergy.stats.document.render`; the text leaves out the
figures and the sections marked ``in_stats=False``. A section whose data the
cube lacks (a cube with only lambda = 0 has no sweep) says why instead of
failing; cells that are not ok are counted in the header and listed in the
report's last section. The paper's claims, thresholds and verdict rules are
read from :mod:`neuroenergy.stats.paper`.

Adding a statistic to the report: compute it in :func:`_study` (one
:class:`_Result` field), then add or extend one :class:`ReportSection` entry.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from neuroenergy._io import atomic_write_text
from neuroenergy.errors import InvalidInputError, NeuroEnergyError
from neuroenergy.results.schema import DIMS, ROLE_DIM
from neuroenergy.stats import paper
from neuroenergy.stats._cube import (CubeLike, DroppedCellsWarning, StatsWarning, as_cube, cell_frame,
                                     energy_model_text, format_cell, resolve_lam, split_ok, status_counts)
from neuroenergy.stats.anova import anova
from neuroenergy.stats.compare import above_chance, best_architectures, tukey_versus
from neuroenergy.stats.document import (Block, Bullets, Document, Figure, Paragraph, Section, Subheading, render,
                                        table)
from neuroenergy.stats.efficiency import EfficiencyResult, efficiency
from neuroenergy.stats.sweep import lambda_frontier, lambda_sweep

__all__ = ["format_tables", "write_report", "FIGURES", "SECTIONS", "ReportSection", "study_document"]

#: File names of the report's figures (read-only).
FIGURES: Mapping[str, str] = MappingProxyType({
    "interaction": "interaction.png",
    "sweep": "lambda_sweep.png",
    "efficiency": "efficiency_gains.png",
    "energy": "energy_breakdown.png",
    "ann": "snn_vs_ann.png",
})


@dataclass
class _Result:
    """A statistic's result, or why the cube cannot give it."""

    value: Any = None
    missing: str = ""


@dataclass
class _Study:
    """Every statistic of the report, computed once by :func:`_study` (one :class:`_Result` per statistic)."""

    ds: xr.Dataset
    lam: float | None
    counts: dict[str, int]
    dropped: pd.DataFrame
    anova: _Result
    best: _Result
    sweep: _Result
    eff: _Result
    notes: list[str] = field(default_factory=list)
    anova_accuracy: _Result = field(default_factory=_Result)
    frontier: _Result = field(default_factory=_Result)
    pooled: _Result = field(default_factory=_Result)
    chance: _Result = field(default_factory=_Result)
    #: The cubes behind the sections (one per run directory given), in the order given.
    sources: list[xr.Dataset] = field(default_factory=list)


def _attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> _Result:
    try:
        return _Result(function(*args, **kwargs))
    except NeuroEnergyError as exc:
        return _Result(None, str(exc))


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while the statistics run, when threadpoolctl is installed.

    The regressions here are small (runs x design columns); a multi-threaded BLAS
    gains nothing on them, and on a busy machine waking its threads costs more
    than the whole computation. The limit is restored on exit; without
    threadpoolctl nothing changes.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _pick(cubes: list[xr.Dataset], protocol: str, usable: Callable[[xr.Dataset], bool]) -> xr.Dataset:
    """The cube of ``protocol`` (by its ``protocol`` attribute), else the first ``usable`` one, else the first."""
    for ds in cubes:
        if ds.attrs.get("protocol") == protocol:
            return ds
    return next((ds for ds in cubes if usable(ds)), cubes[0])


def _study(cube: CubeLike | Sequence[CubeLike]) -> _Study:
    cubes = [as_cube(c) for c in cube] if isinstance(cube, (list, tuple)) else [as_cube(cube)]
    # Each finding from the study designed for it: accuracy from the factorial, the sweep from
    # lambda_sweep, efficiency from the efficiency protocol (their longer learning curves).
    ds = _pick(cubes, "factorial", lambda d: d.sizes["architecture"] > 1 and d.sizes["dataset"] > 1)
    sweep_ds = _pick(cubes, "lambda_sweep", lambda d: d.sizes["lam"] > 1)
    eff_ds = _pick(cubes, "efficiency", lambda d: d is ds)
    try:
        lam: float | None = resolve_lam(ds, None)
    except NeuroEnergyError:
        lam = None
    frame = cell_frame(ds, [])
    _, dropped = split_ok(frame, [])
    for other in cubes:
        if other is not ds:
            other_dropped = split_ok(cell_frame(other, []), [])[1]
            if len(other_dropped):
                dropped = pd.concat([dropped, other_dropped.assign(
                    reason=other_dropped["reason"] + f" ({other.attrs.get('protocol', 'other cube')})")])
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Dropped cells are listed once in the report, not per statistic.
        section_anova = _attempt(anova, ds, warn=False)
        section_anova_acc = (_attempt(anova, ds, response="accuracy", warn=False)
                             if "balanced_accuracy" in ds.data_vars else _Result(None, "same as above"))
        section_best = _attempt(best_architectures, ds, warn=False)
        section_chance = _attempt(_chance_table, ds)
        section_sweep = _attempt(lambda_sweep, sweep_ds, warn=False)
        section_frontier = _attempt(lambda_frontier, sweep_ds, warn=False)
        section_eff = _attempt(efficiency, eff_ds, warn=False)
        section_pooled = _attempt(efficiency, eff_ds, method="pooled", warn=False)
    for item in caught:
        if issubclass(item.category, StatsWarning) and not issubclass(item.category, DroppedCellsWarning):
            notes.append(str(item.message))
        elif not issubclass(item.category, DroppedCellsWarning):
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    if section_best.value is not None and "accuracy" in ds.data_vars \
            and section_best.value.attrs["response"] != "accuracy":
        plain = best_architectures(ds, response="accuracy", warn=False)[["dataset", "architecture", "mean"]]
        merged = section_best.value.merge(plain.rename(columns={"mean": "accuracy_mean"}),
                                          on=["dataset", "architecture"], how="left")
        merged.attrs.update(section_best.value.attrs)
        section_best = _Result(merged)
    return _Study(ds=ds, lam=lam, counts=status_counts(ds), dropped=dropped, anova=section_anova,
                  best=section_best, sweep=section_sweep, eff=section_eff, notes=notes,
                  anova_accuracy=section_anova_acc, chance=section_chance, sources=cubes,
                  frontier=section_frontier, pooled=section_pooled)


def _chance_table(ds: xr.Dataset) -> pd.DataFrame:
    """above_chance for balanced accuracy and accuracy side by side (whichever the cube holds)."""
    tables = []
    for response in ("balanced_accuracy", "accuracy"):
        if response in ds.data_vars:
            try:
                table = above_chance(ds, response=response, warn=False)
            except NeuroEnergyError:
                continue
            tables.append(table.assign(response=response))
    if not tables:
        raise InvalidInputError("the cube holds no accuracy variable with a known chance level")
    return pd.concat(tables, ignore_index=True)


# ----------------------------------------------------------------------------- number formats

def _p(value: float) -> str:
    if not np.isfinite(value):
        return ""
    if value < 1e-15:
        # Below what the F and studentized-range tails resolve in double precision.
        return "<1e-15"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def _num(value: float, spec: str) -> str:
    return format(value, spec) if np.isfinite(value) else ""


def _ci(low: float, high: float, spec: str) -> str:
    return f"[{format(low, spec)}, {format(high, spec)}]" if np.isfinite(low) and np.isfinite(high) else ""


def _flag(value: Any) -> str:
    return "n/a" if value is pd.NA or value is None else ("yes" if bool(value) else "no")


# ----------------------------------------------------------------------------- table rows

_ANOVA_HEADERS = ["term", "SS", "df", "F", "p", "partial eta^2", "eta^2", "omega^2"]


def _anova_rows(table: pd.DataFrame) -> list[list[str]]:
    rows = []
    for term, r in table.iterrows():
        rows.append([str(term), f"{r.SS:.4g}", f"{r.df:g}", _num(r.F, ".3f"), _p(r.p),
                     _num(r.partial_eta2, ".3f"), _num(r.eta2, ".3f"), _num(r.omega2, ".3f")])
    return rows


def _anova_caption(table: pd.DataFrame) -> str:
    a = table.attrs
    return (f"{a['response']} ~ {' * '.join(a['factors'])}, Type {'II' if a['typ'] == 2 else 'III'} sums of "
            f"squares, λ = {a['lam']:g}, N = {a['n_runs']} ok runs. SS in ({a['response']} as a fraction)^2; "
            f"partial eta^2 = SS/(SS + SS_residual); eta^2 = SS/(sum of the table's SS); omega^2 = bias-corrected "
            f"eta^2.")


_RESPONSE_LABELS = {"balanced_accuracy": "balanced accuracy", "accuracy": "accuracy", "macro_f1": "macro-F1"}


def _best_headers(best: pd.DataFrame) -> list[str]:
    label = _RESPONSE_LABELS.get(best.attrs["response"], best.attrs["response"])
    headers = ["dataset", "rank", "architecture", "family", "n", f"{label} %", "sd (pp)", "95% CI (%)"]
    return headers + (["accuracy %"] if "accuracy_mean" in best else []) + ["vs best (Tukey)"]


def _best_rows(best: pd.DataFrame, versus: dict[str, pd.DataFrame]) -> list[list[str]]:
    rows = []
    for r in best.itertuples():
        row = [r.dataset, str(r.rank), r.architecture, r.family, str(r.n), f"{r.mean * 100:.2f}",
               _num(r.sd * 100, ".2f"), _ci(r.ci_low * 100, r.ci_high * 100, ".2f")]
        if "accuracy_mean" in best:
            row.append(_num(r.accuracy_mean * 100, ".2f"))
        row.append(_vs_best(versus.get(r.dataset), r.rank, r.architecture))
        rows.append(row)
    return rows


def _vs_best(table: pd.DataFrame | None, rank: int, architecture: str) -> str:
    if rank == 1:
        return "best"
    if table is None or table.empty or architecture not in set(table["group"]):
        return ""
    p = float(table.loc[table["group"] == architecture, "p_adj"].iloc[0])
    return f"p={_p(p)} " + ("(worse)" if p < paper.POSTHOC_ALPHA else "(tied)")


def _versus_best(ds: xr.Dataset, best: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per dataset: Tukey-Kramer p-value of every architecture against the rank-1 one."""
    ok = split_ok(cell_frame(ds, [best.attrs["response"]], lam=best.attrs["lam"]), [best.attrs["response"]])[0]
    out = {}
    for dataset, rows in ok.groupby("dataset", sort=False):
        leaders = best[(best["dataset"] == dataset) & (best["rank"] == 1)]["architecture"]
        if not leaders.empty:
            out[str(dataset)] = tukey_versus(rows[best.attrs["response"]], rows["architecture"], leaders.iloc[0])
    return out


def _sweep_headers() -> list[str]:
    claim = paper.SWEEP
    return ["dataset", "architecture", "lambda", "n", "E ratio", "95% CI", "E lower by", "pJ ratio",
            "acc change (pp)", "95% CI", f"~{claim.paper_reduction:g}x?", f"|d|<{claim.margin_pp:g}pp?",
            f"CI in +-{claim.margin_pp:g}pp?"]


def _sweep_rows(sweep: pd.DataFrame) -> list[list[str]]:
    rows = []
    has_act = "activation_ratio" in sweep
    has_pj = "energy_pj_ratio" in sweep
    for r in sweep.to_dict("records"):
        rows.append([
            r["dataset"], r["architecture"], f"{r['lam']:g}", str(r["n_pairs"]),
            _num(r["activation_ratio"], ".2e") if has_act else "",
            _ci(r["activation_ratio_ci_low"], r["activation_ratio_ci_high"], ".1e") if has_act else "",
            (_num(r["activation_reduction"], ",.0f") + "x") if has_act and np.isfinite(r["activation_reduction"])
            else "",
            _num(r["energy_pj_ratio"], ".2e") if has_pj else "",
            _num(r["acc_change_pp"], "+.2f"), _ci(r["acc_change_ci_low"], r["acc_change_ci_high"], "+.2f"),
            _flag(r["energy_claim"]), _flag(r["accuracy_claim"]), _flag(r["accuracy_equivalent"]),
        ])
    return rows


def _sweep_columns_line() -> str:
    """What the sweep table's columns and claim flags mean, with the thresholds of :data:`paper.SWEEP`."""
    claim = paper.SWEEP
    limit = claim.energy_reduction.limit
    return (f"E ratio = activation energy at λ / at λ = 0 (geometric mean over seeds, 95% CI); E lower by = "
            f"1 / ratio; pJ ratio = same for inference energy (pJ per sample); acc change = accuracy at λ minus "
            f"at λ = 0 in percentage points (95% CI). ~{claim.paper_reduction:g}x? = reduction "
            f"{claim.energy_reduction.describe('.0f')}x (10^{math.log10(limit):.3g}, rounds to "
            f"{round(math.log10(limit) + 1e-9):.0f} orders of magnitude); |d|<{claim.margin_pp:g}pp? = |mean change| "
            f"{claim.accuracy_change_pp.describe()} pp; CI in +-{claim.margin_pp:g}pp? = TOST equivalence at "
            f"{claim.tost_alpha:g} (the {1 - 2 * claim.tost_alpha:.0%} CI inside +-{claim.margin_pp:g} pp).")


_METRIC_NAMES = {"train_energy_to_target_pj": "energy to target (pJ)",
                 "steps_to_target": "steps to target",
                 "train_time_to_target_s": "time to target (s)"}


def _gain_rows(result: EfficiencyResult) -> tuple[list[str], list[list[str]]]:
    headers = [result.by, "metric", "energy-first mean", "baseline mean", "gain", "95% CI", "n (ef/base)",
               "not reached (ef/base)", f"in {paper.EFFICIENCY.range_text()}?"]
    rows = []
    for r in result.gains.to_dict("records"):
        rows.append([f"{r[result.by]} (vs {r['versus']})", _METRIC_NAMES.get(r["metric"], r["metric"]),
                     _num(r["mean_energy_first"], ".4g"), _num(r["mean_baseline"], ".4g"),
                     _num(r["gain"] * 100, "+.1f") + ("%" if np.isfinite(r["gain"]) else ""),
                     _ci(r["ci_low"] * 100, r["ci_high"] * 100, "+.1f"),
                     f"{r['n_energy_first']}/{r['n_baseline']}",
                     f"{r['not_reached_energy_first']}/{r['not_reached_baseline']}", _flag(r["in_paper_range"])])
    return headers, rows


def _gain_method_line(result: EfficiencyResult) -> str:
    """How the gains of ``result`` were formed, in one sentence."""
    n_boot = result.gains.attrs.get("n_boot", 0)
    if result.method == "pooled":
        return (f"gain = 1 - mean(energy-first) / mean(baseline) within each {result.by}, runs pooled over "
                f"datasets, architectures and seeds (confounded by per-sample cost); 95% percentile bootstrap CI "
                f"({n_boot} resamples of runs within each family)")
    return (f"matched gain within each {result.by}: r = median over seeds of cost(energy-first, dataset) / "
            f"median of cost(baseline, same dataset); vs all = 1 - geometric mean of r over all pairs, vs best = "
            f"against the cheapest baseline per dataset; 95% percentile bootstrap CI ({n_boot} resamples of "
            f"seeds within each architecture x dataset)")


def _ann_ratio_table(ds: xr.Dataset, lam: float | None) -> pd.DataFrame | None:
    """Median over ok seeds of ``ann_ratio``, architecture x dataset; None when the cube cannot give it."""
    if "ann_ratio" not in ds.data_vars or lam is None:
        return None
    ok = split_ok(cell_frame(ds, ["ann_ratio"], lam=lam), ["ann_ratio"])[0]
    if ok.empty:
        return None
    table = ok.pivot_table(index="architecture", columns="dataset", values="ann_ratio", aggfunc="median",
                           observed=True)
    order = [str(a) for a in ds["architecture"].values]
    return table.reindex(index=[a for a in order if a in table.index],
                         columns=[d for d in (str(v) for v in ds["dataset"].values) if d in table.columns])


def _pooled_line(study: _Study) -> str:
    """The family-mean gain, as a secondary line: it compares families, so per-sample cost confounds it."""
    pooled = study.pooled.value
    if pooled is None or study.eff.value is None or study.eff.value.method == "pooled" or pooled.gains.empty:
        return ""
    rows = pooled.gains[pooled.gains["metric"] == paper.EFFICIENCY.metric]
    parts = [f"{r[pooled.by]} {_num(r['gain'] * 100, '+.1f')}%" for r in rows.to_dict("records")]
    name = _METRIC_NAMES.get(paper.EFFICIENCY.metric, paper.EFFICIENCY.metric)
    return ("Secondary, confounded by per-sample cost (a family that holds an expensive architecture looks "
            f"worse): the pooled family-mean gain in {name} is " + ", ".join(parts) + ".") if parts else ""


def _targets_line(result: EfficiencyResult) -> str:
    parts = [f"{d} {t:.1%}" if np.isfinite(t) else f"{d} (not recorded)" for d, t in result.target.items()]
    return "target accuracy: " + ", ".join(parts)


_FRONTIER_HEADERS = ["dataset", "architecture", "largest equivalent λ", "n", "E lower by", "95% CI",
                     "pJ lower by", "95% CI", "acc change (pp)", "largest λ", "E(max λ)/E(0)", "acc change at max (pp)"]


def _reduction(value: float) -> str:
    return (_num(value, ",.1f") + "x") if np.isfinite(value) else ""


def _frontier_rows(frontier: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in frontier.to_dict("records"):
        lam = r["largest_equivalent_lam"]
        rows.append([r["dataset"], r["architecture"], f"{lam:g}" if np.isfinite(lam) else "none",
                     "" if pd.isna(r["n_pairs"]) else str(int(r["n_pairs"])),  # Int64: NA when none is equivalent
                     _reduction(r["activation_reduction"]),
                     _ci(r["activation_reduction_ci_low"], r["activation_reduction_ci_high"], ",.1f"),
                     _reduction(r["energy_pj_reduction"]),
                     _ci(r["energy_pj_reduction_ci_low"], r["energy_pj_reduction_ci_high"], ",.1f"),
                     _num(r["acc_change_pp"], "+.2f"), f"{r['max_lam']:g}",
                     _num(r["max_lam_activation_ratio"], ".3g"), _num(r["max_lam_acc_change_pp"], "+.2f")])
    return rows


def _frontier_caption() -> str:
    claim = paper.SWEEP
    return (f"The paper: ~{claim.paper_reduction:g}x less activation energy with "
            f"{claim.accuracy_change_pp.describe()} pp accuracy change. Here, per architecture: the largest λ whose "
            f"accuracy is equivalent to λ = 0 (TOST at {claim.tost_alpha:g}: the {1 - 2 * claim.tost_alpha:.0%} CI "
            f"of the paired change inside ±{claim.margin_pp:g} pp) and the factor by which activation "
            f"energy E and inference pJ per sample fell there (geometric mean over seeds, 95% CI); then the cube's "
            f"largest λ, whose E ratio says whether the sweep was strong enough to move E at all "
            f"(> {claim.barely_moved_ratio:g}: barely).")


_CHANCE_HEADERS = ["dataset", "architecture", "response", "n", "mean %", "95% one-sided lower bound %",
                   "chance %", "learned?"]


def _chance_summary(study: _Study) -> tuple[str, list[list[str]]]:
    """One line saying how many architecture x dataset pairs beat chance, and the rows of those that did not."""
    table = study.chance.value
    conf = table.attrs.get("confidence", 0.95) if hasattr(table, "attrs") else 0.95
    rows, lines = [], []
    for response, part in table.groupby("response", sort=False):
        failed = part[part["learned"] != True]  # noqa: E712 - NA (one seed) counts as not shown to learn
        label = _RESPONSE_LABELS.get(str(response), str(response))
        chance_rule = "majority-class share" if response == "accuracy" else "1/K"
        lines.append(f"{len(part) - len(failed)}/{len(part)} architecture x dataset pairs learned on {label} "
                     f"(one-sided {conf:.0%} lower bound over seeds above chance = {chance_rule})")
        for r in failed.itertuples():
            rows.append([r.dataset, r.architecture, label, str(r.n), f"{r.mean * 100:.2f}",
                         _num(r.lower * 100, ".2f"), f"{r.chance * 100:.2f}",
                         "n/a (one seed)" if pd.isna(r.learned) else "no"])
    return "; ".join(lines), rows


def _source_lines(study: _Study) -> list[str]:
    """Which protocol, profile, budgets and cost table produced each cube behind the report."""
    lines = []
    for ds in study.sources:
        name, profile = ds.attrs.get("protocol", "?"), ds.attrs.get("profile", "?")
        try:
            design = json.loads(ds.attrs.get("design", "{}"))
        except ValueError:
            design = {}
        t = design.get("training", {})
        budget = (f"epochs {t.get('epochs')}, batch {t.get('batch_size')}, lr {t.get('lr')}, "
                  f"T {t.get('num_steps') or 'model default'}, train_limit {t.get('train_limit') or 'all'}"
                  if t else "budget not recorded")
        per = design.get("training_by_dataset") or {}
        if per:
            budget += "; per dataset: " + "; ".join(
                f"{d} " + ", ".join(f"{k} {v}" if not isinstance(v, dict) else
                                    f"[{k}: " + ", ".join(f"{kk} {vv}" for kk, vv in v.items()) + "]"
                                    for k, v in table.items()) for d, table in per.items())
        lines.append(f"{name} (profile {profile}; cost table {ds.attrs.get('costs', 'not recorded')}; energy term "
                     f"{ds.attrs.get('energy_term', '?')}, norm {ds.attrs.get('energy_norm', 'sum')}): {budget}")
    return lines


def _header_lines(study: _Study) -> list[str]:
    ds = study.ds
    sizes = " x ".join(f"{ds.sizes[d]} {d if d != 'lam' else 'lambda'}{'s' if ds.sizes[d] != 1 else ''}"
                       for d in DIMS)
    total = int(np.prod([ds.sizes[d] for d in DIMS]))
    counts = ", ".join(f"{status} {count:,}" for status, count in sorted(study.counts.items(),
                                                                         key=lambda kv: kv[0] != "ok"))
    lines = [f"cube: {total:,} cells = {sizes}" + (f"; {counts}" if counts else "")]
    costs = ds.attrs.get("costs", "")
    lines.append(f"cost table: {costs or 'not recorded'} (energies in pJ are estimates per sample under "
                 f"{energy_model_text(ds)}, not hardware readings)")
    meta = [f"{key} {ds.attrs[key]}" for key in ("created", "git_commit") if ds.attrs.get(key)]
    if meta:
        lines.append("; ".join(meta))
    lines += [f"source: {line}" for line in _source_lines(study)]
    if len(study.dropped):
        by_status = study.dropped["reason"].value_counts()
        lines.append(f"{len(study.dropped):,} {'cell is' if len(study.dropped) == 1 else 'cells are'} not ok ("
                     + ", ".join(f"{k} {v}" for k, v in by_status.items())
                     + ") and are excluded from every statistic (listed at the end of report.md)")
    return lines


# ----------------------------------------------------------------------------- paper vs this study

_PAPER_HEADERS = ["finding", "paper", "this study", "holds on our runs?"]


def _paper_rows(study: _Study) -> list[list[str]]:
    """One row per claim of :mod:`paper`: the paper's figure, ours, and the claim's verdict rule applied."""
    return _anova_claim_rows(study) + _sweep_claim_rows(study) + _efficiency_claim_rows(study)


def _anova_claim_rows(study: _Study) -> list[list[str]]:
    claim = paper.ANOVA
    rows: list[list[str]] = []
    if study.anova.value is not None and {"architecture", "architecture:dataset"} <= set(study.anova.value.index):
        t = study.anova.value
        arch, inter = t.loc["architecture"], t.loc["architecture:dataset"]
        rows.append(["1a. architecture main effect on accuracy (partial eta^2)", f"{claim.paper_main_effect:g}",
                     f"{arch.partial_eta2:.3f} (F = {arch.F:.2f}, p = {_p(arch.p)})",
                     claim.main_effect_verdict(arch.partial_eta2)])
        rows.append(["1b. architecture x dataset interaction (partial eta^2, p)",
                     f"{claim.paper_interaction:g}, p {claim.interaction_p.describe()}",
                     f"{inter.partial_eta2:.3f}, p = {_p(inter.p)}",
                     claim.interaction_verdict(inter.p, inter.partial_eta2, arch.partial_eta2)])
    else:
        rows.append(["1. accuracy ANOVA (architecture, architecture x dataset)",
                     f"{claim.paper_main_effect:g}; {claim.paper_interaction:g} (p {claim.interaction_p.describe()})",
                     "not available: " + (study.anova.missing or "the ANOVA has no such terms"), "n/a"])
    if study.best.value is not None:
        best = study.best.value
        winners = best[best["rank"] == 1]
        distinct = sorted(set(winners["architecture"]))
        n_datasets = winners["dataset"].nunique()
        rows.append(["1c. no universal best architecture", "best architecture differs by dataset",
                     f"{len(distinct)} different best architecture{'s' if len(distinct) != 1 else ''} "
                     f"(ties included) over {n_datasets} dataset{'s' if n_datasets != 1 else ''} "
                     f"({', '.join(distinct)})", claim.best_verdict(len(distinct), n_datasets)])
    return rows


def _sweep_claim_rows(study: _Study) -> list[list[str]]:
    claim = paper.SWEEP
    if study.sweep.value is None:
        return [["2. lambda sweep", claim.paper_text(), "not available: " + study.sweep.missing, "n/a"]]
    sweep = study.sweep.value
    levels = sorted(set(sweep["lam"]))
    close = [v for v in levels if np.isclose(v, claim.claim_lam, rtol=1e-9, atol=0)]
    lam = close[0] if close else max(levels)
    note = "" if close else f" (the cube has no λ = {claim.claim_lam:g}; its largest λ = {lam:g})"
    names = {paper.normalise_dataset_name(d): d for d in dict.fromkeys(sweep["dataset"])}
    chosen = [names[d] for d in claim.datasets if d in names]
    if not chosen:
        chosen = list(names.values())
        note += f" (none of {', '.join(claim.datasets)} in the cube: all datasets shown)"
    rows = []
    for dataset in chosen:
        r = sweep[(sweep["dataset"] == dataset) & (sweep["lam"] == lam)]
        red = r["activation_reduction"].to_numpy(dtype=float) if "activation_reduction" in r else np.array([])
        acc = r["acc_change_pp"].to_numpy(dtype=float)
        # The sweep's flags apply the claim's energy and accuracy bounds.
        both = (r["energy_claim"].fillna(False) & r["accuracy_claim"].fillna(False)).to_numpy(dtype=bool) \
            if "activation_reduction" in r else np.zeros(len(r), dtype=bool)
        ours = (f"{_num(np.nanmedian(red), ',.0f')}x lower (median over {len(r)} architectures; range "
                f"{_num(np.nanmin(red), ',.0f')}-{_num(np.nanmax(red), ',.0f')}x); acc change median "
                f"{_num(np.nanmedian(acc), '+.2f')} pp (range {_num(np.nanmin(acc), '+.2f')} to "
                f"{_num(np.nanmax(acc), '+.2f')})") if red.size and np.isfinite(red).any() else \
            "no activation energy in the cube"
        rows.append([f"2. lambda sweep on {dataset}{note}", claim.paper_text(), ours,
                     claim.verdict(int(both.sum()), len(r))])
    return rows


def _efficiency_claim_rows(study: _Study) -> list[list[str]]:
    claim = paper.EFFICIENCY
    eff = study.eff.value
    primary = eff.gains[eff.gains["metric"] == claim.metric] if eff is not None else None
    if eff is None or primary is None or primary.empty:
        why = study.eff.missing if eff is None else "no group holds runs of both families"
        return [["3. training efficiency", claim.paper_text(), "not available: " + why, "n/a"]]
    rows = []
    name = _METRIC_NAMES.get(claim.metric, claim.metric)
    for r in primary.to_dict("records"):
        gain = r["gain"]
        if not np.isfinite(gain):
            ours, verdict = "no run of one family reached the target", "n/a"
        else:
            ours = (f"{gain * 100:+.1f}% {_ci(r['ci_low'] * 100, r['ci_high'] * 100, '+.1f')} "
                    f"{name} (n = {r['n_energy_first']}/{r['n_baseline']} runs)")
            verdict = claim.verdict(gain, r["ci_low"], r["ci_high"])
        rows.append([f"3. training efficiency, {eff.by} {r[eff.by]} (vs {r['versus']} baselines)",
                     claim.paper_text(), ours, verdict])
    return rows


# ----------------------------------------------------------------------------- sections
# Each builder returns the blocks of one section (None: leave the section out). ``out`` is the
# directory figures are drawn into, None when nothing is drawn (the ``stats`` text).

def _paper_section(study: _Study, out: Path | None) -> list[Block]:
    return [table(_PAPER_HEADERS, _paper_rows(study), layout="records")]


def _accuracy_section(study: _Study, out: Path | None) -> list[Block]:
    blocks: list[Block] = []
    if study.anova.value is not None:
        t = study.anova.value
        blocks.append(table(_ANOVA_HEADERS, _anova_rows(t), caption=_anova_caption(t)))
    else:
        blocks.append(Paragraph(f"ANOVA not available: {study.anova.missing}"))
    if study.anova_accuracy.value is not None:
        t = study.anova_accuracy.value
        blocks += [Paragraph("Beside it, plain accuracy (its meaning differs between balanced and imbalanced "
                             "datasets):"),
                   table(_ANOVA_HEADERS, _anova_rows(t), caption=_anova_caption(t))]
    if study.chance.value is not None:
        line, rows = _chance_summary(study)
        blocks.append(Paragraph(f"Did every architecture learn? {line}."))
        if rows:
            blocks.append(table(_CHANCE_HEADERS, rows, caption="Did not learn (these cells stay in the statistics; "
                                "a comparison that involves them compares models that learned nothing):"))
    if study.best.value is None:
        return blocks + [Paragraph(f"Best architectures not available: {study.best.missing}")]
    best = study.best.value
    if out is not None:
        from neuroenergy.stats import figures  # matplotlib is only needed for figures

        subtitle = ""
        if study.anova.value is not None and "architecture:dataset" in study.anova.value.index:
            r = study.anova.value.loc["architecture:dataset"]
            subtitle = f"architecture x dataset: partial eta^2 = {r.partial_eta2:.3f}, p = {_p(r.p)}"
        figures.interaction_figure(best, out / FIGURES["interaction"], subtitle)
        blocks.append(Figure(FIGURES["interaction"], "Accuracy by architecture x dataset"))
    caption = (f"Test {_RESPONSE_LABELS.get(best.attrs['response'], best.attrs['response'])} in %, mean over "
               f"seeds with 95% Student-t CI (λ = {best.attrs['lam']:g}), rank 1 = highest mean; plain accuracy "
               "beside. "
               "`vs best`: Tukey HSD adjusted p of the difference to the rank-1 architecture of the dataset "
               f"(tied: not significantly different at alpha = {paper.POSTHOC_ALPHA:g}).")
    return blocks + [table(_best_headers(best), _best_rows(best, _versus_best(study.ds, best)), caption=caption)]


def _sweep_section(study: _Study, out: Path | None) -> list[Block]:
    if study.sweep.value is None:
        return [Paragraph(f"No sweep: {study.sweep.missing}")]
    sweep = study.sweep.value
    blocks: list[Block] = []
    if out is not None:
        from neuroenergy.stats import figures

        figures.sweep_figure(sweep, out / FIGURES["sweep"])
        blocks.append(Figure(FIGURES["sweep"], "Lambda sweep"))
    blocks += [Paragraph("Ratios are geometric means over seeds of E(λ)/E(0), paired by seed, with a t-interval on "
                         "the log ratios (95%); accuracy change in percentage points, paired by seed (95% t-CI)."),
               Paragraph(_sweep_columns_line()),
               table(_sweep_headers(), _sweep_rows(sweep))]
    if study.frontier.value is not None:
        caption = _frontier_caption()
        if out is not None:
            caption += (" The figure above is the energy-accuracy frontier: E ratio (log axis) against the "
                        "accuracy change with its CI, every architecture, one marker per λ.")
        blocks += [Subheading("The frontier: how far λ goes before accuracy moves"),
                   table(_FRONTIER_HEADERS, _frontier_rows(study.frontier.value), caption=caption)]
    return blocks


def _efficiency_section(study: _Study, out: Path | None) -> list[Block]:
    eff = study.eff.value
    if eff is None:
        return [Paragraph(f"Not available: {study.eff.missing}")]
    if eff.gains.empty:
        return [Paragraph(f"Not available: no {eff.by} holds runs of both families (baseline and energy_first).")]
    blocks: list[Block] = []
    if out is not None:
        from neuroenergy.stats import figures

        # One row per group in the figure: matched gains against all baselines (or the pooled ones).
        figures.efficiency_figure(eff.gains[eff.gains["versus"] != "best"], out / FIGURES["efficiency"], eff.by)
        blocks.append(Figure(FIGURES["efficiency"], "Efficiency gains"))
    method = _gain_method_line(eff)
    headers, rows = _gain_rows(eff)
    blocks.append(table(headers, rows, caption=(
        f"Cost to first reach the target held-out accuracy ({_targets_line(eff)}; source: "
        f"{'the cube' if eff.source == 'cube' else 'learning curves'}), λ = {eff.lam:g}. "
        f"{method[0].upper()}{method[1:]}, seed {eff.gains.attrs['seed']}. "
        f"Runs that never reached the target are excluded and counted. The paper: "
        f"{paper.EFFICIENCY.range_text()}.")))
    pooled_line = _pooled_line(study)
    if pooled_line:
        blocks.append(Paragraph(pooled_line))
    if not eff.not_reached.empty:
        blocks.append(table(["dataset", "architecture", "ok runs", "not reached"],
                            [[r.dataset, r.architecture, str(r.n_runs), str(r.n_not_reached)]
                             for r in eff.not_reached.itertuples()],
                            caption="Runs that never reached the target:"))
    return blocks


def _energy_section(study: _Study, out: Path | None) -> list[Block] | None:
    if out is None:  # the section is its figure
        return None
    ds = study.ds
    layer_vars = [str(n) for n, v in ds.data_vars.items()
                  if "energy" in str(n) and set(v.dims) == set(DIMS) | {ROLE_DIM}]
    frame = cell_frame(ds, ["energy_pj"], lam=study.lam) if "energy_pj" in ds.data_vars and study.lam is not None \
        else None
    if study.lam is None:
        return [Paragraph("Not drawn: the cube has several λ levels and no λ = 0.")]
    if frame is None and not layer_vars:
        return [Paragraph("Not drawn: the cube holds neither per-layer energy nor energy_pj.")]
    ok = split_ok(frame, ["energy_pj"])[0] if frame is not None else split_ok(cell_frame(ds, [], lam=study.lam), [])[0]
    if ok.empty:
        return [Paragraph("Not drawn: no ok cell holds energy_pj.")]
    from neuroenergy.stats import figures

    _, caption = figures.energy_figure(ds, ok, out / FIGURES["energy"], study.lam,
                                       layer_vars[0] if layer_vars else None)
    return [Figure(FIGURES["energy"], "Energy breakdown"), Paragraph(caption)]


def _ann_section(study: _Study, out: Path | None) -> list[Block]:
    ds = study.ds
    ann = _ann_ratio_table(ds, study.lam)
    if ann is None:
        return [Paragraph("Not available: the cube holds no `ann_ratio` (cubes written before neuroenergy recorded "
                          "the ANN-equivalent), or no ok cell at one λ.")]
    blocks: list[Block] = []
    if out is not None:
        from neuroenergy.stats import figures

        figures.ann_ratio_figure(ann, out / FIGURES["ann"], str(ds.attrs.get("costs", "cost table not recorded")))
        blocks.append(Figure(FIGURES["ann"], "SNN vs ANN"))
    caption = ("Inference energy per sample of each network divided by that of the same layers run once as a "
               "conventional ANN on the same input (one pass instead of T steps, dense activations, the same "
               "energy model; see `neuroenergy.energy.measure(compare_ann=True)`), median over seeds. Below 1 "
               "the spiking network is cheaper. With a compute-only cost table this leaves out memory traffic, "
               "which a memory-aware model (`lemaire-2022`) prices.")
    if ds.attrs.get("costs") == "lemaire-2022":
        caption += (" `lemaire-2022` charges a strided convolution its whole kernel per input spike (SpikingJelly's "
                    "convention and our reading of the paper), which raises the ratio of networks with large "
                    "strides (the transformer's patch embedding; see `neuroenergy.energy.lemaire`).")
    return blocks + [table(["architecture"] + [str(c) for c in ann.columns],
                           [[str(a)] + [_num(v, ".3g") for v in row] for a, row in zip(ann.index, ann.to_numpy())],
                           caption=caption)]


def _definitions_section(study: _Study, out: Path | None) -> list[Block]:
    anova_claim, sweep_claim, eff_claim = paper.ANOVA, paper.SWEEP, paper.EFFICIENCY
    limit = sweep_claim.energy_reduction.limit
    low, high = eff_claim.gain_range
    return [Bullets((
        "partial eta^2 = SS_effect / (SS_effect + SS_residual); eta^2 = SS_effect / (sum of the table's SS); "
        "omega^2 = (SS_effect - df_effect MS_residual) / (sum of the table's SS + MS_residual). Type II sums of "
        "squares; factors coded with sum-to-zero contrasts.",
        "The ANOVA, best-architecture and efficiency sections use one λ level: λ = 0 (or the cube's only "
        "level), so accuracy and cost are not confounded with the energy term.",
        f"The architecture main effect is small when its partial eta^2 is "
        f"{anova_claim.main_effect_small.describe()}; the interaction holds when its p is "
        f"{anova_claim.interaction_p.describe()} and its partial eta^2 exceeds the main effect's; \"no universal "
        f"best\" needs at least {anova_claim.min_datasets} datasets. `vs best` says worse when the Tukey HSD "
        f"adjusted p is below {paper.POSTHOC_ALPHA:g}.",
        f"\"~{sweep_claim.paper_reduction:g}x\" holds when the geometric-mean reduction of activation energy is "
        f"{sweep_claim.energy_reduction.describe('.0f')}x = 10^{math.log10(limit):.3g} (its order of magnitude "
        f"rounds to {round(math.log10(limit) + 1e-9):.0f}); the measured factor is shown beside it.",
        f"\"{sweep_claim.accuracy_change_pp.describe()} pp\" holds when |mean accuracy change| "
        f"{sweep_claim.accuracy_change_pp.describe()} pp; the stricter \"CI in +-{sweep_claim.margin_pp:g}pp\" is "
        f"a TOST at {sweep_claim.tost_alpha:g} (two one-sided t-tests): the {1 - 2 * sweep_claim.tost_alpha:.0%} CI "
        f"of the paired change lies inside.",
        f"The efficiency gain (on {_METRIC_NAMES.get(eff_claim.metric, eff_claim.metric)}) is within the paper's "
        f"range when {low:.0%} <= gain <= {high:.0%}.",
        f"Energies are estimates per sample under {energy_model_text(study.ds)}, not hardware readings.",
    ))]


def _notes_section(study: _Study, out: Path | None) -> list[Block] | None:
    return [Bullets(tuple(study.notes))] if study.notes else None


def _excluded_section(study: _Study, out: Path | None) -> list[Block]:
    if study.dropped.empty:
        return [Paragraph("None: every cell is ok.")]
    return [table(["cell", "status"], [[format_cell(r), r["reason"]] for r in study.dropped.to_dict("records")])]


@dataclass(frozen=True)
class ReportSection:
    """One section of the report: its title, the function that builds its blocks, where it appears.

    ``build(study, out)`` returns the section's blocks (None leaves the section
    out); ``out`` is the directory to draw figures into, or None when nothing
    is drawn (the ``stats`` text). ``in_stats=False``: report.md only.
    """

    title: str
    build: Callable[[_Study, Path | None], list[Block] | None]
    numbered: bool = True
    in_stats: bool = True


#: The report's sections, in order: the ``stats`` text and report.md are both rendered from these.
SECTIONS: tuple[ReportSection, ...] = (
    ReportSection("Paper vs this study", _paper_section, numbered=False),
    ReportSection("Accuracy: factorial ANOVA and best architectures", _accuracy_section),
    ReportSection("Lambda sweep", _sweep_section),
    ReportSection("Training efficiency", _efficiency_section),
    ReportSection("Energy breakdown", _energy_section),
    ReportSection("Is the SNN cheaper than the same network run as an ANN?", _ann_section),
    ReportSection("Definitions and thresholds", _definitions_section, numbered=False),
    ReportSection("Notes", _notes_section, numbered=False),
    ReportSection("Excluded cells", _excluded_section, numbered=False, in_stats=False),
)


def study_document(study: _Study, title: str, out: Path | None = None) -> Document:
    """The document of a study: the header, then every section of :data:`SECTIONS`.

    ``out``: draw the figures there and include them (report.md); None: no
    figures, and only the sections with ``in_stats`` (the ``stats`` text).
    """
    preamble = (Bullets(tuple(_header_lines(study))),
                Paragraph(f"Paper: {paper.PAPER}. Thresholds and definitions are at the end of this report."))
    sections = []
    for entry in SECTIONS:
        if out is None and not entry.in_stats:
            continue
        blocks = entry.build(study, out)
        if blocks is not None:
            sections.append(Section(entry.title, tuple(blocks), entry.numbered))
    return Document(title, preamble, tuple(sections))


# ----------------------------------------------------------------------------- entry points

def format_tables(cube: CubeLike | Sequence[CubeLike]) -> str:
    """The plain-text tables of a study, as ``python -m neuroenergy.protocols stats DIR`` prints them.

    The sections of :data:`SECTIONS` with ``in_stats`` (paper vs this study;
    1. accuracy ANOVA over architecture x dataset, Type II, lambda = 0, and the
    best architecture per dataset with 95% CIs; 2. lambda sweep: energy ratios,
    accuracy change in pp, paper-claim flags, the frontier; 3. training
    efficiency gains of energy-first over baseline per modality, bootstrap CI;
    4. SNN vs ANN energy; definitions; notes), without figures. A section the
    cube cannot support says why.

    Args:
        cube: a result cube or its path, or several (the cubes of the factorial,
            lambda_sweep and efficiency runs of one study): each section uses the
            cube of the protocol designed for it (by the cube's ``protocol``
            attribute; else the first that can give it).

    Raises:
        InvalidInputError: ``cube`` is not a readable result cube.
    """
    with _single_threaded_blas():
        study = _study(cube)
        return render(study_document(study, "neuroenergy study statistics"), "text")


def write_report(cube: CubeLike | Sequence[CubeLike], out_dir: str | Path) -> Path:
    """Write ``report.md`` and its PNG figures into ``out_dir`` (created if needed).

    ``cube``: one cube (or path), or several, as for :func:`format_tables`.

    Figures (see :data:`FIGURES`): ``interaction.png`` (accuracy by
    architecture x dataset), ``lambda_sweep.png`` (accuracy change vs energy
    ratio, log axis), ``efficiency_gains.png`` (gains with bootstrap CIs beside
    the paper's 5-33%), ``energy_breakdown.png`` (per-layer energy, or without
    per-layer data energy_pj stacked over datasets), ``snn_vs_ann.png``. A
    figure whose data the cube lacks is not drawn and the report says why.

    Returns:
        The path of ``report.md``.
    """
    out = Path(out_dir)
    with _single_threaded_blas():
        study = _study(cube)
        out.mkdir(parents=True, exist_ok=True)
        text = render(study_document(study, "neuroenergy study report", out), "markdown")
    path = out / "report.md"
    atomic_write_text(path, text)
    return path
