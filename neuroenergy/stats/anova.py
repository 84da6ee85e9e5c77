"""Factorial ANOVA of a cube variable with effect sizes (Type II default, Type III available).

The model is the full factorial linear model ``y ~ f1 * f2 * ...`` fitted by
ordinary least squares (statsmodels) on the ok cells, each factor coded with
sum-to-zero contrasts (``C(f, Sum)``) so that Type III tests are the usual
(SAS/car) ones; Type II sums of squares do not depend on the coding.

Effect sizes per term (``N`` ok runs, ``MSE = SS_res / df_res``):

* ``partial_eta2 = SS / (SS + SS_res)``
* ``eta2 = SS / SS_table`` with ``SS_table`` = the terms' SS plus ``SS_res``
  (R ``effectsize`` convention; equals the total SS in a balanced design)
* ``omega2 = (SS - df * MSE) / (SS_table + MSE)``
* ``omega2_partial = (SS - df * MSE) / (SS + (N - df) * MSE)``

The Type III intercept row has no effect sizes.
"""

from __future__ import annotations

import itertools
import re
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.tools.sm_exceptions import SingularMatrixWarning

from neuroenergy.errors import InvalidInputError
from neuroenergy.results.schema import DIMS
from neuroenergy.stats._cube import (CubeLike, StatsWarning, as_cube, cell_frame, numeric_cell_variables,
                                     resolve_lam, resolve_response, split_ok, warn_dropped)

__all__ = ["anova", "anova_frame", "FACTOR_NAMES"]

#: Names that can be factors: the cell dims and the coordinates over them.
FACTOR_NAMES: tuple[str, ...] = DIMS + ("modality", "family")

_COLUMNS = ["SS", "df", "MS", "F", "p", "partial_eta2", "eta2", "omega2", "omega2_partial"]
_TERM = re.compile(r"C\((\w+), Sum\)")


def _check_typ(typ: int | str) -> int:
    table = {2: 2, "2": 2, "II": 2, "ii": 2, 3: 3, "3": 3, "III": 3, "iii": 3}
    if typ not in table:
        raise InvalidInputError(f"typ must be 2 ('II') or 3 ('III'), not {typ!r}")
    return table[typ]


def _check_factors(factors: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(factors, str):
        factors = (factors,)
    factors = tuple(factors)
    if not factors:
        raise InvalidInputError("anova needs at least one factor")
    unknown = [f for f in factors if f not in FACTOR_NAMES]
    if unknown:
        raise InvalidInputError(f"unknown factor(s) {', '.join(map(repr, unknown))}; "
                                f"factors can be {', '.join(FACTOR_NAMES)}")
    if len(set(factors)) != len(factors):
        raise InvalidInputError(f"factor listed twice in {factors}")
    return factors


def _term_formula(term: tuple[str, ...]) -> str:
    return ":".join(f"C({f}, Sum)" for f in term)


def _term_name(statsmodels_name: str) -> str:
    found = _TERM.findall(statsmodels_name)
    return ":".join(found) if found else statsmodels_name


def _all_terms(factors: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Main effects, then two-way interactions, ... (patsy's order)."""
    return [term for k in range(1, len(factors) + 1) for term in itertools.combinations(factors, k)]


def _type2_by_comparison(data: pd.DataFrame, factors: tuple[str, ...]) -> pd.DataFrame:
    """Type II table from nested-model comparisons, correct when design cells are empty.

    SS(T) = RSS(terms not containing T) - RSS(those terms + T), with degrees of
    freedom from the ranks of the design matrices. statsmodels' ``anova_lm``
    counts a term's df from its contrast columns, which overstates them (and
    misstates SS) when some factor-level combinations have no observation.
    """
    terms = _all_terms(factors)
    with warnings.catch_warnings():
        # Empty cells make the full-factorial design rank deficient on purpose.
        warnings.simplefilter("ignore", SingularMatrixWarning)
        full = ols("y ~ " + " + ".join(_term_formula(t) for t in terms), data).fit()
        rows = {}
        for term in terms:
            base = [t for t in terms if not set(term) <= set(t)]
            rhs = " + ".join(_term_formula(t) for t in base) or "1"
            reduced = ols(f"y ~ {rhs}", data).fit()
            augmented = ols(f"y ~ {rhs} + {_term_formula(term)}", data).fit()
            rows[":".join(term)] = (max(reduced.ssr - augmented.ssr, 0.0),
                                    float(round(reduced.df_resid - augmented.df_resid)))
    mse = full.ssr / full.df_resid
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["sum_sq", "df"])
    with np.errstate(divide="ignore", invalid="ignore"):
        table["F"] = np.where(table["df"] > 0, table["sum_sq"] / table["df"] / mse, np.nan)
    table["PR(>F)"] = sps.f.sf(table["F"], table["df"], full.df_resid)
    table.loc["Residual"] = [full.ssr, full.df_resid, np.nan, np.nan]
    return table


def _effect_sizes(table: pd.DataFrame, n_obs: int) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    out["SS"] = table["sum_sq"].astype(float)
    out["df"] = table["df"].astype(float)
    out["MS"] = out["SS"] / out["df"]
    out["F"] = table["F"].astype(float)
    out["p"] = table["PR(>F)"].astype(float)
    ss_res = float(out.loc["Residual", "SS"])
    mse = float(out.loc["Residual", "MS"])
    effects = [t for t in out.index if t not in ("Residual", "Intercept")]
    ss, df = out.loc[effects, "SS"], out.loc[effects, "df"]
    ss_table = float(ss.sum()) + ss_res
    for column in ("partial_eta2", "eta2", "omega2", "omega2_partial"):
        out[column] = np.nan
    out.loc[effects, "partial_eta2"] = ss / (ss + ss_res)
    out.loc[effects, "eta2"] = ss / ss_table
    out.loc[effects, "omega2"] = (ss - df * mse) / (ss_table + mse)
    out.loc[effects, "omega2_partial"] = (ss - df * mse) / (ss + (n_obs - df) * mse)
    out.index.name = "term"
    return out[_COLUMNS]


def anova_frame(data: pd.DataFrame, response: str, factors: Sequence[str], typ: int | str = 2) -> pd.DataFrame:
    """Factorial ANOVA of ``response`` on ``factors`` for a plain long-form table.

    The engine behind :func:`anova`, usable on any data frame (one row per
    observation, factor columns of any type; rows with NaN response are an
    error, not dropped). Returns the table described in :func:`anova`.

    Raises:
        InvalidInputError: a column is missing, a factor has one level, there
            are too few rows for a residual, or Type III is asked with empty
            design cells.
    """
    typ = _check_typ(typ)
    factors = tuple(factors)
    missing = [c for c in (response, *factors) if c not in data.columns]
    if missing:
        raise InvalidInputError(f"column(s) {', '.join(missing)} not in the data")
    y = pd.to_numeric(data[response], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(y)):
        raise InvalidInputError(f"{response} holds NaN or non-numeric values; drop those rows first")
    frame = pd.DataFrame({"y": y})
    for factor in factors:
        # Strings make every factor categorical (lam and seed are numbers in the cube).
        frame[factor] = data[factor].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v)).to_numpy()
    n_obs = len(frame)
    if n_obs == 0:
        raise InvalidInputError("no observations to analyse")
    for factor in factors:
        levels = frame[factor].nunique()
        if levels < 2:
            only = frame[factor].iloc[0]
            raise InvalidInputError(f"factor {factor!r} has one level ({only!r}) among the usable runs; "
                                    f"an ANOVA needs at least two levels per factor")
    counts = frame.groupby(list(factors), sort=False).size()
    n_cells = len(counts)
    if n_obs - n_cells < 1:
        raise InvalidInputError(f"too few runs: {n_obs} usable runs in {n_cells} design cells leave no residual "
                                f"degrees of freedom; the full factorial model needs replicates (several seeds)")
    n_full = int(np.prod([frame[f].nunique() for f in factors]))
    empty = []
    if n_cells < n_full:
        seen = set(counts.index if len(factors) > 1 else [(i,) for i in counts.index])
        levels = [pd.unique(frame[f]) for f in factors]
        empty = [combo for combo in itertools.product(*levels) if combo not in seen]
    if empty and typ == 3:
        shown = "; ".join(", ".join(f"{f}={v}" for f, v in zip(factors, combo)) for combo in empty[:10])
        raise InvalidInputError(f"Type III tests are undefined with empty design cells ({len(empty)} empty: {shown}); "
                                f"use typ=2, or leave out the level with no runs")
    if empty:
        shown = "; ".join(", ".join(f"{f}={v}" for f, v in zip(factors, combo)) for combo in empty[:10])
        warnings.warn(f"anova: {len(empty)} of {n_full} design cells have no usable run ({shown}"
                      f"{'; ...' if len(empty) > 10 else ''}); Type II sums of squares from nested model "
                      f"comparisons, interaction degrees of freedom reduced accordingly",
                      StatsWarning, stacklevel=3)
        table = _type2_by_comparison(frame, factors)
    else:
        formula = "y ~ " + " * ".join(f"C({f}, Sum)" for f in factors)
        table = anova_lm(ols(formula, frame).fit(), typ=typ)
        table.index = [_term_name(name) for name in table.index]
    result = _effect_sizes(table, n_obs)
    result.attrs.update(response=response, factors=factors, typ=typ, n_runs=n_obs,
                        empty_cells=[dict(zip(factors, combo)) for combo in empty])
    return result


def anova(cube: CubeLike, response: str | None = None, factors: Sequence[str] = ("architecture", "dataset"),
          typ: int | str = 2, lam: float | None = None, *, warn: bool = True) -> pd.DataFrame:
    """Factorial ANOVA of a cube variable over the ok cells.

    Args:
        cube: a result cube (or the path of one).
        response: a numeric cell variable, e.g. ``balanced_accuracy`` (the
            default when the cube holds it, else ``accuracy``; fractions, SS
            then in fraction^2) or ``energy_pj`` (pJ per sample; SS in pJ^2).
        factors: cell dims or coordinates (``architecture``, ``dataset``,
            ``lam``, ``seed``, ``modality``, ``family``); the model holds every
            main effect and interaction.
        typ: 2 / ``"II"`` (default) or 3 / ``"III"`` (sum-to-zero contrasts).
        lam: the lambda level to analyse when ``lam`` is not a factor. ``None``
            uses the cube's only level, else lambda = 0 (the unregularised runs;
            pooling lambdas would put the energy term's effect in the residual),
            and is an error when the cube has several levels and no 0. Must be
            ``None`` when ``lam`` is a factor (then every level is used).
        warn: warn about excluded cells (``DroppedCellsWarning``, listing
            architecture/dataset/lam/seed and status). Empty design cells
            always warn (``StatsWarning``).

    Returns:
        DataFrame indexed by ``term`` (main effects such as ``architecture``,
        interactions such as ``architecture:dataset``, ``Residual``, and
        ``Intercept`` for Type III) with columns ``SS``, ``df``, ``MS``, ``F``,
        ``p``, ``partial_eta2``, ``eta2``, ``omega2``, ``omega2_partial``.
        ``attrs`` hold ``response``, ``factors``, ``typ``, ``lam``, ``n_runs``,
        ``n_dropped`` and ``empty_cells``.

    Raises:
        InvalidInputError: unknown response or factor, a factor with one level,
            too few runs for a residual, ``lam`` both selected and a factor, or
            Type III with empty design cells.
    """
    ds = as_cube(cube)
    response = resolve_response(ds, response)
    factors = _check_factors(factors)
    typ = _check_typ(typ)
    for coord, dim in (("modality", "dataset"), ("family", "architecture")):
        if coord in factors and coord not in ds.coords:
            raise InvalidInputError(f"factor {coord!r} needs the cube's {coord}({dim}) coordinate, which it lacks")
    variables = numeric_cell_variables(ds)
    if response not in variables:
        raise InvalidInputError(f"unknown response {response!r}; the cube's numeric cell variables are "
                                f"{', '.join(variables)}")
    if "lam" in factors:
        if lam is not None:
            raise InvalidInputError("lam= selects one lambda level, but 'lam' is also a factor; use one or the other")
        selected = None
    else:
        selected = resolve_lam(ds, lam)
    frame = cell_frame(ds, [response], lam=selected)
    ok, dropped = split_ok(frame, [response])
    if warn:
        warn_dropped(dropped, f"anova of {response}", len(frame))
    result = anova_frame(ok, response, factors, typ)
    result.attrs.update(lam=selected, n_dropped=len(dropped))
    return result
