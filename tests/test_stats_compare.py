"""neuroenergy.stats.compare: ranked means with t-CIs, Tukey HSD, the interaction table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import DroppedCellsWarning, best_architectures, interaction_table, posthoc
from neuroenergy.stats.compare import tukey_versus
from stats_cubes import make_cube

#: Student t 0.975 quantile with 2 degrees of freedom, closed form (2p - 1) / sqrt(2 p (1 - p));
#: printed t tables: 4.303.
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)


def _cube(status=None):
    # dataset d1: a {0.90, 0.91, 0.92}, b {0.93, 0.94, 0.95}, c {0.90, 0.92, 0.94}
    # dataset d2: a {0.80, 0.80, 0.80}, b {0.70, 0.72, 0.74}, c {0.75, 0.75, 0.75}
    acc = np.array([
        [[0.90, 0.91, 0.92], [0.80, 0.80, 0.80]],
        [[0.93, 0.94, 0.95], [0.70, 0.72, 0.74]],
        [[0.90, 0.92, 0.94], [0.75, 0.75, 0.75]],
    ])[:, :, None, :]
    return make_cube(["a", "b", "c"], ["d1", "d2"], [0.0], [0, 1, 2], {"accuracy": acc},
                     families=["baseline", "energy_first", "baseline"], modalities=["vision", "audio"],
                     status=status)


def test_best_architectures_ranks_and_t_intervals_by_hand():
    table = best_architectures(_cube())
    d1 = table[table["dataset"] == "d1"]
    assert list(d1["architecture"]) == ["b", "c", "a"]  # means 0.94 > 0.92 > 0.91
    assert list(d1["rank"]) == [1, 2, 3]
    b = d1.iloc[0]
    assert b["family"] == "energy_first" and b["modality"] == "vision" and b["n"] == 3
    assert b["mean"] == pytest.approx(0.94)
    assert b["sd"] == pytest.approx(0.01)  # deviations -0.01, 0, 0.01 -> sqrt(0.0002 / 2)
    half = T_975_DF2 * 0.01 / np.sqrt(3)  # = 0.0248414
    assert b["ci_low"] == pytest.approx(0.94 - half) and b["ci_high"] == pytest.approx(0.94 + half)
    d2 = table[table["dataset"] == "d2"]
    assert list(d2["architecture"]) == ["a", "c", "b"]
    assert d2.iloc[0]["ci_low"] == pytest.approx(0.80) and d2.iloc[0]["ci_high"] == pytest.approx(0.80)


def test_best_architectures_with_one_seed_left_has_no_interval():
    status = {("a", "d1", 0.0, 0): "failed", ("a", "d1", 0.0, 1): "missing"}
    with pytest.warns(DroppedCellsWarning, match="architecture=a dataset=d1 lam=0 seed=0: failed"):
        table = best_architectures(_cube(status))
    a = table[(table["dataset"] == "d1") & (table["architecture"] == "a")].iloc[0]
    assert a["n"] == 1 and a["mean"] == pytest.approx(0.92)
    assert np.isnan(a["sd"]) and np.isnan(a["ci_low"]) and np.isnan(a["ci_high"])


def test_posthoc_tukey_matches_scipy_and_hand_differences():
    table = posthoc(_cube(), "d1")
    assert list(zip(table["group1"], table["group2"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    np.testing.assert_allclose(table["meandiff"], [0.03, 0.01, -0.02], atol=1e-12)
    # An independent implementation of the same test (scipy's Tukey-Kramer).
    groups = [[0.90, 0.91, 0.92], [0.93, 0.94, 0.95], [0.90, 0.92, 0.94]]
    reference = sps.tukey_hsd(*groups)
    ci = reference.confidence_interval(0.95)
    np.testing.assert_allclose(table["p_adj"], [reference.pvalue[0, 1], reference.pvalue[0, 2],
                                                reference.pvalue[1, 2]], rtol=1e-5)
    # scipy reports group i - group j; posthoc reports group2 - group1.
    np.testing.assert_allclose(table["ci_low"], [-ci.high[0, 1], -ci.high[0, 2], -ci.high[1, 2]], rtol=1e-5)
    np.testing.assert_allclose(table["ci_high"], [-ci.low[0, 1], -ci.low[0, 2], -ci.low[1, 2]], rtol=1e-5)
    assert list(table["reject"]) == list(reference.pvalue[[0, 0, 1], [1, 2, 2]] < 0.05)


def test_tukey_versus_equals_the_matching_posthoc_rows():
    cube = _cube()
    full = posthoc(cube, "d1")
    values = np.array([0.90, 0.91, 0.92, 0.93, 0.94, 0.95, 0.90, 0.92, 0.94])
    groups = np.repeat(["a", "b", "c"], 3)
    versus = tukey_versus(values, groups, "b").set_index("group")
    assert versus.loc["a", "meandiff"] == pytest.approx(-0.03)
    assert versus.loc["a", "p_adj"] == pytest.approx(full.iloc[0]["p_adj"], rel=1e-6)
    assert versus.loc["c", "p_adj"] == pytest.approx(full.iloc[2]["p_adj"], rel=1e-6)


def test_posthoc_errors():
    with pytest.raises(InvalidInputError, match="unknown dataset 'd3'"):
        posthoc(_cube(), "d3")
    status = {("b", "d1", 0.0, s): "failed" for s in range(3)} | {("c", "d1", 0.0, s): "failed" for s in range(3)}
    with pytest.raises(InvalidInputError, match="at least two architectures"):
        posthoc(_cube(status), "d1", warn=False)


def test_interaction_table_means():
    table = interaction_table(_cube())
    assert list(table.index) == ["a", "b", "c"] and list(table.columns) == ["d1", "d2"]
    np.testing.assert_allclose(table.to_numpy(), [[0.91, 0.80], [0.94, 0.72], [0.92, 0.75]], atol=1e-12)
    status = {("c", "d2", 0.0, s): "diverged" for s in range(3)}
    with pytest.warns(DroppedCellsWarning):
        table = interaction_table(_cube(status))
    assert np.isnan(table.loc["c", "d2"]) and table.loc["c", "d1"] == pytest.approx(0.92)
