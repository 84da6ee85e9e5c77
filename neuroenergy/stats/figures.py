"""The report's PNG figures, drawn with matplotlib's object API on the Agg canvas.

No pyplot: figures are ``matplotlib.figure.Figure`` objects saved directly, so
drawing a report neither needs a display nor changes the caller's matplotlib
backend or state. Each function takes the tables the statistics produced and
writes one PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, NullLocator

from neuroenergy._io import atomic_path
from neuroenergy.results.schema import ROLE_DIM
from neuroenergy.stats import paper
from neuroenergy.stats._cube import energy_model_text

__all__ = ["interaction_figure", "sweep_figure", "efficiency_figure", "energy_figure", "DPI"]

#: Resolution of the PNGs (dots per inch).
DPI = 100
_MARKERS = ("o", "v", "^", "s", "D", "P", "X", "*", "h", "<", ">")


def _colours(names: list[str]) -> dict[str, tuple]:
    """One colour per architecture, the same in every figure."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _label(architecture: str, family: str) -> str:
    return f"{architecture} (energy-first)" if family == "energy_first" else architecture


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:  # the temporary's name ends in .tmp: say the format
        fig.savefig(tmp, dpi=DPI, format=Path(path).suffix.lstrip(".") or "png")
    return path


def interaction_figure(best: pd.DataFrame, path: Path, subtitle: str = "") -> Path:
    """Interaction plot: mean test accuracy (%) per dataset, one line per architecture, 95% CIs."""
    datasets = list(dict.fromkeys(best["dataset"]))
    architectures = list(dict.fromkeys(best.sort_values("architecture")["architecture"]))
    colours = _colours(architectures)
    fig = Figure(figsize=(10.5, 5.4))
    # Fixed margins instead of constrained layout: the same look, a fraction of the time.
    fig.subplots_adjust(left=0.07, right=0.72, bottom=0.11, top=0.88)
    ax = fig.subplots()
    spread = 0.5 / max(len(architectures), 1)
    x_of = {d: i for i, d in enumerate(datasets)}
    for k, arch in enumerate(architectures):
        rows = best[best["architecture"] == arch]
        family = str(rows["family"].iloc[0])
        x = np.array([x_of[d] for d in rows["dataset"]]) + (k - (len(architectures) - 1) / 2) * spread
        y = rows["mean"].to_numpy() * 100
        low = y - rows["ci_low"].to_numpy() * 100
        high = rows["ci_high"].to_numpy() * 100 - y
        ax.errorbar(x, y, yerr=np.vstack([low, high]), color=colours[arch], capsize=2.5, lw=1.6,
                    ls="--" if family == "energy_first" else "-",
                    marker="s" if family == "energy_first" else "o", ms=5, label=_label(arch, family))
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_xlabel("dataset")
    label = {"balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1"}.get(
        best.attrs.get("response", "accuracy"), "accuracy")
    ax.set_ylabel(f"test {label} (%)")
    ax.set_title(f"{label[0].upper()}{label[1:]} by architecture x dataset (mean over seeds, 95% t-CI)"
                 + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="architecture (dashed: energy-first)", loc="center left", bbox_to_anchor=(1.01, 0.5),
              fontsize=9, title_fontsize=9)
    return _save(fig, path)


def sweep_figure(sweep: pd.DataFrame, path: Path) -> Path:
    """Per dataset: accuracy change (pp) against activation-energy ratio to lambda = 0 (log axis)."""
    datasets = list(dict.fromkeys(sweep["dataset"]))
    architectures = list(dict.fromkeys(sweep.sort_values("architecture")["architecture"]))
    lams = sorted(set(sweep["lam"]))
    colours = _colours(architectures)
    markers = {lam: _MARKERS[(i + 1) % len(_MARKERS)] for i, lam in enumerate(lams)}
    ncols = min(3, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    width, height = 4.3 * ncols + 2.4, 3.4 * nrows + 1.0
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.75 / width, right=1 - 2.2 / width, bottom=0.65 / height, top=1 - 0.65 / height,
                        wspace=0.12, hspace=0.25)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)).reshape(-1)
    ratio_col = "activation_ratio" if "activation_ratio" in sweep else "energy_pj_ratio"
    for ax, dataset in zip(axes, datasets):
        rows = sweep[sweep["dataset"] == dataset]
        ax.axhspan(-paper.SWEEP.margin_pp, paper.SWEEP.margin_pp, color="0.88", zorder=0)
        ax.axvline(1.0 / paper.SWEEP.paper_reduction, color="tab:red", ls=":", lw=1.2, zorder=1)
        segments, segment_colours = [], []
        for arch in architectures:
            r = rows[rows["architecture"] == arch].sort_values("lam")
            if r.empty:
                continue
            # The lambda = 0 reference sits at ratio 1, change 0.
            x = np.r_[1.0, r[ratio_col].to_numpy(dtype=float)]
            y = np.r_[0.0, r["acc_change_pp"].to_numpy(dtype=float)]
            ax.plot(x, y, color=colours[arch], lw=1.0, alpha=0.85, zorder=2)
            for xv, lo, hi in zip(x[1:], r["acc_change_ci_low"], r["acc_change_ci_high"]):
                if np.isfinite(xv) and np.isfinite(lo) and np.isfinite(hi):
                    segments.append([(xv, lo), (xv, hi)])
                    segment_colours.append(colours[arch])
        # All accuracy CIs of the panel as one collection (far cheaper to draw than errorbars).
        ax.add_collection(LineCollection(segments, colors=segment_colours, linewidths=0.7, alpha=0.6, zorder=2),
                          autolim=True)
        # Markers by lambda: one scatter per level, coloured by architecture.
        ax.scatter(np.ones(len(architectures)), np.zeros(len(architectures)), marker=_MARKERS[0], s=22,
                   c=[colours[a] for a in architectures], zorder=3)
        for lam in lams:
            r = rows[rows["lam"] == lam]
            ax.scatter(r[ratio_col], r["acc_change_pp"], marker=markers[lam], s=28,
                       c=[colours[a] for a in r["architecture"]], zorder=3)
        ax.set_xscale("log")
        ax.set_title(dataset, fontsize=10)
        ax.grid(alpha=0.3, which="major")
    # Decades only (the axes share x): minor log ticks cost most of this figure's drawing time.
    axes[0].xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    axes[0].xaxis.set_minor_locator(NullLocator())
    for ax in axes[len(datasets):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("accuracy change vs λ=0 (pp)")
    energy_name = "activation energy" if ratio_col == "activation_ratio" else "inference energy (pJ)"
    for k, ax in enumerate(axes[:len(datasets)]):
        if k + ncols >= len(datasets):  # the lowest axes of each column carry the x label
            ax.set_xlabel(f"{energy_name} / λ=0 value (log)")
            ax.xaxis.set_tick_params(labelbottom=True)
    handles = [Line2D([], [], color=colours[a], lw=2, label=a) for a in architectures]
    handles += [Line2D([], [], ls="", marker=_MARKERS[0], color="k", label="λ = 0")]
    handles += [Line2D([], [], ls="", marker=markers[lam], color="k", label=f"λ = {lam:g}") for lam in lams]
    handles += [Patch(color="0.88", label=f"|change| {paper.SWEEP.accuracy_change_pp.describe()} pp"),
                Line2D([], [], color="tab:red", ls=":", label=f"paper: {paper.SWEEP.paper_reduction:g}x lower")]
    fig.legend(handles=handles, loc="center right", bbox_to_anchor=(0.995, 0.5), fontsize=8.5)
    fig.suptitle("Lambda sweep: energy ratio vs accuracy change (paired by seed; geometric mean, 95% CI "
                 "of the change)", fontsize=11)
    return _save(fig, path)


def efficiency_figure(gains: pd.DataFrame, path: Path, group: str = "modality") -> Path:
    """Gain of energy-first over baseline (%, bootstrap 95% CI) per group, beside the paper's range."""
    # Steps first: the primary metric (unlike energy and time it does not scale with per-sample cost).
    metrics = [("steps_to_target", "optimizer steps to target"),
               ("train_energy_to_target_pj", "training energy to target"),
               ("train_time_to_target_s", "training wall time to target")]
    metrics = [(m, t) for m, t in metrics if m in set(gains["metric"])
               and np.isfinite(gains.loc[gains["metric"] == m, "gain"].to_numpy(dtype=float)).any()]
    groups = list(dict.fromkeys(gains[group]))
    width, height = 4.2 * max(len(metrics), 1) + 1.6, 2.0 + 0.55 * max(len(groups), 2)
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=1.5 / width, right=1 - 0.25 / width, bottom=1.0 / height, top=1 - 0.75 / height,
                        wspace=0.08)
    axes = np.atleast_1d(fig.subplots(1, max(len(metrics), 1), sharey=True, squeeze=False)).reshape(-1)
    lo, hi = paper.EFFICIENCY.gain_range
    for ax, (metric, title) in zip(axes, metrics):
        rows = gains[gains["metric"] == metric].set_index(group).reindex(groups)
        y = np.arange(len(groups))
        gain = rows["gain"].to_numpy(dtype=float) * 100
        err = np.vstack([gain - rows["ci_low"].to_numpy(dtype=float) * 100,
                         rows["ci_high"].to_numpy(dtype=float) * 100 - gain])
        ax.axvspan(lo * 100, hi * 100, color="tab:green", alpha=0.15, label=f"paper: {lo:.0%}-{hi:.0%}")
        ax.axvline(0, color="0.3", lw=0.8)
        ax.errorbar(gain, y, xerr=err, fmt="o", color="tab:blue", capsize=3, label="this study (95% CI)")
        for yi, g, row in zip(y, gain, rows.itertuples()):
            if np.isfinite(g):
                ax.annotate(f"n={row.n_energy_first}/{row.n_baseline}", (g, yi), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=7.5, color="0.3")
        ax.set_yticks(y, groups)
        ax.set_ylim(-0.7, len(groups) - 0.3)
        ax.set_xlabel("gain of energy-first over baseline (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_ylabel(group)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=2, fontsize=8.5, frameon=False)
    versus = set(gains["versus"]) if "versus" in gains else {"pooled"}
    how = ("1 - mean cost(energy-first) / mean cost(baseline), pooled families (confounded by per-sample cost)"
           if versus == {"pooled"} else
           "1 - geometric mean over matched (energy-first, baseline, dataset) pairs of median-cost ratios")
    fig.suptitle(f"Training efficiency: {how};\nn = runs that reached the target (energy-first/baseline)",
                 fontsize=10)
    return _save(fig, path)


def _scale(max_pj: float) -> tuple[float, str]:
    for factor, unit in ((1e6, "µJ"), (1e3, "nJ")):
        if max_pj >= factor:
            return factor, unit
    return 1.0, "pJ"


def energy_figure(ds: xr.Dataset, ok_frame: pd.DataFrame, path: Path, lam: float,
                  layer_var: str | None = None) -> tuple[Path, str]:
    """Per-layer energy breakdown, or (without per-layer data) energy_pj stacked over datasets.

    Returns the path and a one-line caption that says which of the two it is.
    """
    architectures = list(dict.fromkeys(ok_frame["architecture"]))
    fig = Figure(figsize=(10.5, 5.0))
    fig.subplots_adjust(left=0.08, right=0.8, bottom=0.2, top=0.92)
    ax = fig.subplots()
    x = np.arange(len(architectures))
    if layer_var is not None:
        var = ds[layer_var].sel(lam=lam)
        if "status" in ds.data_vars:
            # Only ok cells count (the schema already puts NaN in the others).
            var = var.where(ds["status"].sel(lam=lam).astype(str) == "ok")
        means = var.mean(dim=[d for d in var.dims if d not in ("architecture", ROLE_DIM)], skipna=True)
        means = means.sel(architecture=architectures).transpose("architecture", ROLE_DIM).values
        factor, unit = _scale(float(np.nanmax(np.nansum(means, axis=1))) if means.size else 1.0)
        bottom = np.zeros(len(architectures))
        layers = [str(v) for v in ds[layer_var][ROLE_DIM].values]
        from matplotlib import colormaps
        cmap = colormaps["viridis"]
        for j, layer in enumerate(layers):
            values = np.nan_to_num(means[:, j]) / factor
            ax.bar(x, values, bottom=bottom, color=cmap(j / max(len(layers) - 1, 1)), label=layer)
            bottom += values
        ax.set_ylabel(f"{layer_var} ({unit} per sample)")
        caption = f"Per-layer energy ({layer_var}) by architecture, mean over datasets and ok seeds, λ = {lam:g}."
        legend_title = "layer role"
    else:
        datasets = list(dict.fromkeys(ok_frame["dataset"]))
        means = ok_frame.groupby(["architecture", "dataset"], sort=False)["energy_pj"].mean().unstack("dataset")
        means = means.reindex(index=architectures, columns=datasets)
        factor, unit = _scale(float(np.nanmax(means.sum(axis=1).to_numpy())) if means.size else 1.0)
        bottom = np.zeros(len(architectures))
        # Not the architecture palette: here colours are datasets.
        from matplotlib import colormaps
        palette = colormaps["Set2"]
        colours = {d: palette(i % palette.N) for i, d in enumerate(datasets)}
        for dataset in datasets:
            values = np.nan_to_num(means[dataset].to_numpy(dtype=float)) / factor
            ax.bar(x, values, bottom=bottom, color=colours[dataset], label=dataset, edgecolor="white", lw=0.5)
            bottom += values
        ax.set_ylabel(f"inference energy ({unit} per sample), stacked over datasets")
        caption = ("The cube holds no per-layer energy, so this shows each architecture's total inference "
                   f"energy per sample (energy_pj, mean over ok seeds, λ = {lam:g}) stacked over datasets; "
                   f"estimates under {energy_model_text(ds)}, not hardware readings.")
        legend_title = "dataset"
    ax.set_xticks(x, architectures, rotation=20, ha="right")
    ax.set_xlabel("architecture")
    ax.set_title("Energy breakdown " + (f"per layer (mean over datasets and ok seeds, λ = {lam:g})" if layer_var
                                        else "(no per-layer data: total inference energy, stacked over datasets)"),
                 fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title=legend_title, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, title_fontsize=9)
    return _save(fig, path), caption


def ann_ratio_figure(table: pd.DataFrame, path: Path, costs: str) -> Path:
    """Heat map of SNN / ANN-equivalent inference energy (median over seeds), architecture x dataset.

    ``table``: index architectures, columns datasets, values the ratio (NaN: no ok run).
    Colours on a log scale centred on 1 (blue: the SNN is cheaper, red: the ANN is).
    """
    from matplotlib.colors import LogNorm

    values = table.to_numpy(dtype=float)
    finite = values[np.isfinite(values) & (values > 0)]
    span = max(float(np.max(np.abs(np.log10(finite)))) if finite.size else 1.0, 0.3)
    fig = Figure(figsize=(1.3 * table.shape[1] + 3.2, 0.5 * table.shape[0] + 1.9))
    fig.subplots_adjust(left=0.22, right=0.88, bottom=0.2, top=0.85)
    ax = fig.subplots()
    image = ax.imshow(np.where(np.isfinite(values) & (values > 0), values, np.nan), cmap="RdBu_r",
                      norm=LogNorm(vmin=10 ** -span, vmax=10 ** span), aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    ax.set_title(f"Inference energy SNN / same layers as an ANN (median over seeds; {costs})", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02, label="SNN / ANN (below 1: SNN cheaper)")
    return _save(fig, path)
