"""Which architecture is best on which dataset: ranked means with CIs, Tukey HSD, the interaction table."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multicomp import pairwise_tukeyhsd

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats._cube import (CubeLike, as_cube, cell_frame, numeric_cell_variables, resolve_lam,
                                     resolve_response, split_ok, warn_dropped)

__all__ = ["best_architectures", "posthoc", "interaction_table", "above_chance", "chance_level", "t_interval",
           "tukey_versus"]


def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray,
               confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Student-t confidence interval of a mean, elementwise; NaN where n < 2."""
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = sps.t.ppf(0.5 + confidence / 2.0, n - 1) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean - half, mean + half


def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1), e.g. 0.95, not {confidence!r}")
    return float(confidence)


def _ok_cells(cube: CubeLike, response: str | None, lam: float | None, what: str,
              warn: bool) -> tuple[pd.DataFrame, float, str]:
    ds = as_cube(cube)
    response = resolve_response(ds, response)
    variables = numeric_cell_variables(ds)
    if response not in variables:
        raise InvalidInputError(f"unknown response {response!r}; the cube's numeric cell variables are "
                                f"{', '.join(variables)}")
    selected = resolve_lam(ds, lam)
    frame = cell_frame(ds, [response], lam=selected)
    ok, dropped = split_ok(frame, [response])
    if warn:
        warn_dropped(dropped, what, len(frame), stacklevel=4)
    # Keep the cube's order of datasets and architectures in every table.
    for dim in ("dataset", "architecture"):
        order = [str(v) for v in ds[dim].values]
        ok[dim] = pd.Categorical(ok[dim], categories=order, ordered=True)
    return ok, selected, response


def best_architectures(cube: CubeLike, lam: float | None = None, response: str | None = None,
                       confidence: float = 0.95, *, warn: bool = True) -> pd.DataFrame:
    """Architectures ranked per dataset by mean ``response`` over seeds, with t-CIs.

    Args:
        cube: a result cube (or its path).
        lam: lambda level; ``None`` is the cube's only level, else 0.
        response: the variable to rank by (higher is better), default test
            ``accuracy`` (fraction in [0, 1]).
        confidence: level of the two-sided Student-t interval over seeds.
        warn: warn about excluded cells.

    Returns:
        One row per dataset x architecture with at least one ok run, sorted by
        dataset (cube order) and rank: ``dataset``, ``modality``, ``rank`` (1 =
        highest mean; ties share the rank), ``architecture``, ``family``, ``n``
        (seeds), ``mean``, ``sd``, ``ci_low``, ``ci_high`` (response units;
        CI NaN with one seed). ``attrs['lam']`` is the level used.
    """
    confidence = _check_confidence(confidence)
    ok, selected, response = _ok_cells(cube, response, lam, "best_architectures", warn)
    grouped = ok.groupby(["dataset", "architecture"], observed=True)[response]
    table = grouped.agg(n="count", mean="mean", sd="std").reset_index()
    table["ci_low"], table["ci_high"] = t_interval(table["mean"], table["sd"], table["n"], confidence)
    labels = ok.drop_duplicates(["dataset", "architecture"])[["dataset", "architecture", "modality", "family"]]
    table = table.merge(labels, on=["dataset", "architecture"], how="left")
    table["rank"] = table.groupby("dataset", observed=True)["mean"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values(["dataset", "rank", "architecture"]).reset_index(drop=True)
    table["dataset"] = table["dataset"].astype(str)
    table["architecture"] = table["architecture"].astype(str)
    table = table[["dataset", "modality", "rank", "architecture", "family", "n", "mean", "sd", "ci_low", "ci_high"]]
    table.attrs.update(lam=selected, response=response, confidence=confidence)
    return table


def posthoc(cube: CubeLike, dataset: str, lam: float | None = None, response: str | None = None,
            alpha: float = 0.05, *, warn: bool = True) -> pd.DataFrame:
    """Pairwise Tukey HSD comparisons of architectures within one dataset.

    Args:
        cube: a result cube (or its path).
        dataset: the dataset whose architectures are compared.
        lam: lambda level; ``None`` is the cube's only level, else 0.
        response: the compared variable, default ``balanced_accuracy`` (``accuracy`` for cubes without it).
        alpha: family-wise error rate of the comparisons.
        warn: warn about excluded cells.

    Returns:
        One row per pair (``group1`` < ``group2`` in the cube's architecture
        order): ``group1``, ``group2``, ``meandiff`` (mean of group2 minus mean
        of group1, response units), ``p_adj`` (Tukey-adjusted), ``ci_low``,
        ``ci_high`` (simultaneous 1 - alpha interval of ``meandiff``),
        ``reject`` (True: the means differ at ``alpha``).

    Raises:
        InvalidInputError: unknown dataset, fewer than two architectures with
            ok runs, or no residual degrees of freedom.
    """
    if not 0.0 < float(alpha) < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), not {alpha!r}")
    ds = as_cube(cube)
    names = [str(v) for v in ds["dataset"].values]
    if str(dataset) not in names:
        raise InvalidInputError(f"unknown dataset {dataset!r}; the cube's datasets are {', '.join(names)}")
    ok, _, response = _ok_cells(ds, response, lam, f"posthoc ({dataset})", warn)
    ok = ok[ok["dataset"] == str(dataset)]
    groups = ok["architecture"].astype(str).to_numpy()
    present = [a for a in ok["architecture"].cat.categories if a in set(groups)]
    if len(present) < 2:
        raise InvalidInputError(f"posthoc needs at least two architectures with ok runs on {dataset}; "
                                f"found {len(present)}")
    if len(groups) - len(present) < 1:
        raise InvalidInputError(f"posthoc on {dataset}: {len(groups)} runs of {len(present)} architectures leave "
                                f"no degrees of freedom for the error variance; it needs several seeds")
    # statsmodels orders groups by np.unique (alphabetical); map its pairs back
    # to names and re-order them to the cube's architecture order.
    result = pairwise_tukeyhsd(ok[response].to_numpy(dtype=float), groups, alpha=alpha)
    unique = [str(g) for g in result.groupsunique]
    first, second = np.triu_indices(len(unique), 1)
    rows = []
    order = {name: i for i, name in enumerate(present)}
    for k, (i, j) in enumerate(zip(first, second)):
        g1, g2, diff = unique[i], unique[j], float(result.meandiffs[k])
        low, high = (float(v) for v in result.confint[k])
        if order[g1] > order[g2]:
            g1, g2, diff, low, high = g2, g1, -diff, -high, -low
        rows.append((g1, g2, diff, float(result.pvalues[k]), low, high, bool(result.reject[k])))
    table = pd.DataFrame(rows, columns=["group1", "group2", "meandiff", "p_adj", "ci_low", "ci_high", "reject"])
    table["_o1"] = table["group1"].map(order)
    table["_o2"] = table["group2"].map(order)
    table = table.sort_values(["_o1", "_o2"]).drop(columns=["_o1", "_o2"]).reset_index(drop=True)
    table.attrs.update(dataset=str(dataset), alpha=float(alpha), response=response)
    return table


def tukey_versus(values: pd.Series, groups: pd.Series, reference: str) -> pd.DataFrame:
    """Tukey-Kramer comparisons of one group against every other, without the rest of the pairs.

    The same statistic and adjusted p-value as :func:`posthoc` (the
    studentized range over all ``k`` groups, pooled within-group variance),
    but only for the pairs that include ``reference``: the report needs just
    "is this architecture distinguishable from the best one?", and each
    studentized-range p-value is a numerical integral.

    Returns one row per other group: ``group``, ``meandiff`` (group minus
    reference), ``p_adj`` (below 1e-15: an upper bound, not the exact value).
    """
    frame = pd.DataFrame({"y": np.asarray(values, dtype=float), "g": np.asarray(groups).astype(str)})
    summary = frame.groupby("g", sort=False)["y"].agg(["count", "mean", "var"])
    k, n_total = len(summary), int(summary["count"].sum())
    df = n_total - k
    if k < 2 or df < 1 or reference not in summary.index:
        return pd.DataFrame(columns=["group", "meandiff", "p_adj"])
    mse = float((summary["var"].fillna(0.0) * (summary["count"] - 1)).sum() / df)
    others = summary.drop(index=reference)
    ref = summary.loc[reference]
    diff = others["mean"].to_numpy() - ref["mean"]
    se = np.sqrt(mse / 2.0 * (1.0 / others["count"].to_numpy() + 1.0 / ref["count"]))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.abs(diff) / se
    # Union bound: P(range > q) <= C(k, 2) P(|t_df| > q / sqrt 2). Where it is below
    # 1e-15 the integral is at the limit of double precision and costs the most, so
    # the (smaller than 1e-15) bound stands in for it.
    bound = k * (k - 1) * sps.t.sf(q / np.sqrt(2.0), df)
    p = bound.copy()
    exact = ~(bound < 1e-15)
    if exact.any():
        p[exact] = sps.studentized_range.sf(q[exact], k, df)
    return pd.DataFrame({"group": others.index.astype(str), "meandiff": diff, "p_adj": np.clip(p, 0.0, 1.0)})


def interaction_table(cube: CubeLike, lam: float | None = None, response: str | None = None,
                      *, warn: bool = True) -> pd.DataFrame:
    """Mean ``response`` over ok seeds for every architecture x dataset.

    Returns a DataFrame indexed by ``architecture`` with one column per
    ``dataset`` (cube order; NaN where no run is ok), in the response's units
    (accuracy: fraction).
    """
    ok, selected, response = _ok_cells(cube, response, lam, "interaction_table", warn)
    table = ok.pivot_table(index="architecture", columns="dataset", values=response, aggfunc="mean",
                           observed=False, dropna=False)
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    table.index.name, table.columns.name = "architecture", "dataset"
    table.attrs.update(lam=selected, response=response)
    return table


def chance_level(ds, response: str) -> dict[str, float]:
    """Per dataset, the score of a classifier that learned nothing.

    ``accuracy``: the share of the test split's most frequent class (a
    majority-class predictor; ``majority_rate`` in the cube). ``balanced_accuracy``
    and ``macro_f1``: 1/K (``num_classes``; for macro-F1 this is the score of a
    uniform random guess on a balanced set, a floor rather than an exact chance).
    """
    datasets = [str(d) for d in ds["dataset"].values]
    if response == "accuracy":
        if "majority_rate" not in ds.data_vars:
            raise InvalidInputError("the cube holds no majority_rate (written by neuroenergy >= 0.2): "
                                    "the chance level of accuracy is unknown")
        return dict(zip(datasets, ds["majority_rate"].values.astype(float).tolist()))
    if response in ("balanced_accuracy", "macro_f1"):
        if "num_classes" not in ds.data_vars:
            raise InvalidInputError(f"the cube holds no num_classes: the chance level of {response} is unknown")
        return dict(zip(datasets, (1.0 / ds["num_classes"].values.astype(float)).tolist()))
    raise InvalidInputError(f"no chance level is defined for {response!r}; use accuracy, balanced_accuracy "
                            "or macro_f1")


def above_chance(cube: CubeLike, response: str | None = None, lam: float | None = None,
                 confidence: float = 0.95, *, warn: bool = True) -> pd.DataFrame:
    """Did each architecture learn each dataset? A one-sided test over seeds against chance.

    ``learned`` is true when the one-sided ``confidence`` lower bound of the
    mean over seeds (Student t) lies above the dataset's chance level (see
    :func:`chance_level`); NA with fewer than two seeds. A run whose seeds all
    score exactly the majority share (sd 0) did not learn.

    Returns:
        One row per dataset x architecture with an ok run: ``dataset``,
        ``architecture``, ``family``, ``n``, ``mean``, ``sd``, ``lower``
        (one-sided bound), ``chance``, ``learned`` (nullable boolean);
        ``attrs``: ``response``, ``confidence``, ``lam``.
    """
    confidence = _check_confidence(confidence)
    ds = as_cube(cube)
    ok, selected, response = _ok_cells(ds, response, lam, "above_chance", warn)
    chance = chance_level(ds, response)
    table = ok.groupby(["dataset", "architecture"], observed=True)[response].agg(
        n="count", mean="mean", sd="std").reset_index()
    n = table["n"].to_numpy(dtype=float)
    sd = table["sd"].fillna(0.0).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(n >= 2, sps.t.ppf(confidence, n - 1) * sd / np.sqrt(n), np.nan)
    table["lower"] = table["mean"].to_numpy(dtype=float) - margin
    table["chance"] = table["dataset"].astype(str).map(chance).astype(float)
    learned = pd.Series(table["lower"] > table["chance"], dtype="boolean")
    learned[n < 2] = pd.NA
    table["learned"] = learned
    labels = ok.drop_duplicates(["dataset", "architecture"])[["dataset", "architecture", "family"]]
    table = table.merge(labels, on=["dataset", "architecture"], how="left")
    table["dataset"] = table["dataset"].astype(str)
    table["architecture"] = table["architecture"].astype(str)
    table = table[["dataset", "architecture", "family", "n", "mean", "sd", "lower", "chance", "learned"]]
    table.attrs.update(response=response, confidence=confidence, lam=selected)
    return table
