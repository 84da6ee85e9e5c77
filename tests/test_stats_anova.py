"""neuroenergy.stats.anova: published tables (Moore data), a hand-computed design, cube handling, errors."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import DroppedCellsWarning, StatsWarning, anova, anova_frame
from neuroenergy.stats.anova import _type2_by_comparison
from stats_cubes import make_cube, two_by_two_cube

MOORE = Path(__file__).parent / "data" / "stats" / "moore.csv"


@pytest.fixture(scope="module")
def moore() -> pd.DataFrame:
    # Provenance: tests/data/stats/README.md (carData::Moore, 45 rows).
    data = pd.read_csv(MOORE).rename(columns={"partner.status": "partner_status"})
    assert len(data) == 45
    return data


# ---------------------------------------------------------------------------- published: Moore

def test_moore_type2_matches_published_table(moore):
    # statsmodels documentation, "ANOVA" page (statsmodels.org/stable/anova.html):
    #   anova_lm(ols('conformity ~ C(fcategory, Sum)*C(partner_status, Sum)'), typ=2)
    #                          sum_sq    df          F    PR(>F)
    #   fcategory           11.614700   2.0   0.276958  0.759564
    #   partner_status     212.213778   1.0  10.120692  0.002874
    #   interaction        175.488928   2.0   4.184623  0.022572
    #   Residual           817.763961  39.0
    # and R car::Anova(mod) (car reference manual, Anova examples) prints the same
    # to its precision: 11.61 2 0.2770 0.759564 / 212.21 1 10.1207 0.002874 /
    # 175.49 2 4.1846 0.022572 / 817.76 39.
    table = anova_frame(moore, "conformity", ["fcategory", "partner_status"], typ=2)
    assert list(table.index) == ["fcategory", "partner_status", "fcategory:partner_status", "Residual"]
    np.testing.assert_allclose(table["SS"], [11.614700, 212.213778, 175.488928, 817.763961], atol=5e-7)
    np.testing.assert_array_equal(table["df"], [2, 1, 2, 39])
    np.testing.assert_allclose(table["F"].iloc[:3], [0.276958, 10.120692, 4.184623], atol=5e-7)
    np.testing.assert_allclose(table["p"].iloc[:3], [0.759564, 0.002874, 0.022572], atol=5e-7)


def test_moore_type3_matches_published_table(moore):
    # R car::Anova(mod, type=3) with contr.sum (car reference manual, Anova examples):
    #                          Sum Sq Df  F value    Pr(>F)
    # (Intercept)              5752.8  1 274.3592 < 2.2e-16
    # fcategory                  36.0  2   0.8589  0.431492
    # partner.status            239.6  1  11.4250  0.001657
    # fcategory:partner.status  175.5  2   4.1846  0.022572
    # Residuals                 817.8 39
    table = anova_frame(moore, "conformity", ["fcategory", "partner_status"], typ=3)
    assert list(table.index) == ["Intercept", "fcategory", "partner_status", "fcategory:partner_status", "Residual"]
    np.testing.assert_allclose(table["SS"], [5752.8, 36.0, 239.6, 175.5, 817.8], atol=0.05)
    np.testing.assert_array_equal(table["df"], [1, 2, 1, 2, 39])
    np.testing.assert_allclose(table["F"].iloc[:4], [274.3592, 0.8589, 11.4250, 4.1846], atol=5e-5)
    np.testing.assert_allclose(table["p"].iloc[1:4], [0.431492, 0.001657, 0.022572], atol=5e-7)
    assert table["p"].iloc[0] < 2.2e-16
    assert np.isnan(table.loc["Intercept", "partial_eta2"])


def test_moore_effect_sizes_match_r_effectsize(moore):
    # R package parameters' test suite (easystats/parameters, model_parameters on
    # car::Anova of the same model, effectsize conventions):
    #   Eta2           = 0.00954307605193938, 0.174362851640174, 0.14418832844695
    #   Omega2_partial = -0.0332021359560262, 0.16852504689992, 0.123989486951785
    table = anova_frame(moore, "conformity", ["fcategory", "partner_status"], typ=2)
    np.testing.assert_allclose(table["eta2"].iloc[:3], [0.00954307605193938, 0.174362851640174, 0.14418832844695],
                               rtol=1e-6)
    np.testing.assert_allclose(table["omega2_partial"].iloc[:3],
                               [-0.0332021359560262, 0.16852504689992, 0.123989486951785], rtol=1e-6)
    # partial eta^2 from the published SS: SS / (SS + 817.763961).
    np.testing.assert_allclose(table["partial_eta2"].iloc[:3],
                               [11.614700 / (11.614700 + 817.763961), 212.213778 / (212.213778 + 817.763961),
                                175.488928 / (175.488928 + 817.763961)], rtol=1e-6)


def test_nested_model_comparisons_reproduce_the_published_type2_table(moore):
    # The empty-cell path (model comparisons) must agree with anova_lm on a complete design.
    frame = pd.DataFrame({"y": moore["conformity"].astype(float), "fcategory": moore["fcategory"],
                          "partner_status": moore["partner_status"]})
    table = _type2_by_comparison(frame, ("fcategory", "partner_status"))
    np.testing.assert_allclose(table["sum_sq"], [11.614700, 212.213778, 175.488928, 817.763961], atol=5e-7)
    np.testing.assert_array_equal(table["df"], [2, 1, 2, 39])
    np.testing.assert_allclose(table["PR(>F)"].iloc[:3], [0.759564, 0.002874, 0.022572], atol=5e-7)


# ---------------------------------------------------------------------------- hand-computed 2 x 2

def _student_t4_two_sided_p(t: float) -> float:
    """Two-sided p of Student's t with 4 df, closed form (F(1, 4) = t^2)."""
    u = t * t / 4.0
    cdf = 0.5 + 3.0 / 8.0 * t / math.sqrt(1 + u) * (1 - t * t / (12 * (1 + u)))
    return 2 * (1 - cdf)


@pytest.mark.parametrize("typ", [2, "III"])
def test_balanced_two_by_two_by_hand(typ):
    # Cells (2 seeds each): a1b1 {1,3} mean 2; a1b2 {5,7} mean 6; a2b1 {4,6} mean 5; a2b2 {6,10} mean 8.
    # Grand mean 21/4 = 5.25. Marginal means: a1 4, a2 6.5; b1 3.5, b2 7.
    # SS_A  = 4 [(4-5.25)^2 + (6.5-5.25)^2]        = 12.5,  df 1
    # SS_B  = 4 [(3.5-5.25)^2 + (7-5.25)^2]        = 24.5,  df 1
    # SS_AB = 2 * 4 * 0.25^2 (all four residual cell effects are +-0.25) = 0.5, df 1
    # SS_E  = 2 + 2 + 2 + 8                        = 14,    df 4, MSE 3.5
    # SS_T  = 51.5 = 12.5 + 24.5 + 0.5 + 14 (balanced: Type II = Type III).
    table = anova(two_by_two_cube(), typ=typ)
    effects = table.loc[["architecture", "dataset", "architecture:dataset"]]
    np.testing.assert_allclose(effects["SS"], [12.5, 24.5, 0.5], rtol=1e-12)
    np.testing.assert_array_equal(effects["df"], [1, 1, 1])
    assert table.loc["Residual", "SS"] == pytest.approx(14.0, rel=1e-12)
    assert table.loc["Residual", "df"] == 4
    np.testing.assert_allclose(effects["F"], [12.5 / 3.5, 7.0, 0.5 / 3.5], rtol=1e-12)
    np.testing.assert_allclose(effects["p"], [_student_t4_two_sided_p(math.sqrt(12.5 / 3.5)),
                                              _student_t4_two_sided_p(math.sqrt(7.0)),
                                              _student_t4_two_sided_p(math.sqrt(0.5 / 3.5))], rtol=1e-9)
    np.testing.assert_allclose(effects["partial_eta2"], [12.5 / 26.5, 24.5 / 38.5, 0.5 / 14.5], rtol=1e-12)
    np.testing.assert_allclose(effects["eta2"], [12.5 / 51.5, 24.5 / 51.5, 0.5 / 51.5], rtol=1e-12)
    # omega^2 = (SS - df MSE) / (SS_T + MSE): A (12.5 - 3.5)/55 = 9/55.
    np.testing.assert_allclose(effects["omega2"], [9 / 55, 21 / 55, -3 / 55], rtol=1e-12)
    assert table.attrs["n_runs"] == 8 and table.attrs["lam"] == 0.0


def test_failed_cells_are_dropped_with_a_warning_listing_them():
    # The 2 x 2 design plus a third seed: ok in three cells (value = cell mean, so no SS
    # changes... except df) and failed in one; the failed cell must be listed and excluded.
    base = two_by_two_cube()
    acc = np.concatenate([base["accuracy"].values, np.array([[[[2]], [[6]]], [[[5]], [[8]]]], float)], axis=3)
    cube = make_cube(["a1", "a2"], ["b1", "b2"], [0.0], [0, 1, 2], {"accuracy": acc},
                     status={("a2", "b2", 0.0, 2): "failed"})
    with pytest.warns(DroppedCellsWarning, match=r"architecture=a2 dataset=b2 lam=0 seed=2: failed") as record:
        table = anova(cube)
    assert "1 of 12 cells" in str(record[0].message)
    assert table.attrs["n_runs"] == 11 and table.attrs["n_dropped"] == 1
    # Added observations sit at their cell means: SS_E = 14 still, df_E = 11 - 4 = 7.
    assert table.loc["Residual", "SS"] == pytest.approx(14.0)
    assert table.loc["Residual", "df"] == 7


def test_ok_cell_with_nan_is_dropped_and_named():
    acc = two_by_two_cube()["accuracy"].values.copy()
    acc[0, 0, 0, 0] = np.nan  # status ok, but no number
    cube = make_cube(["a1", "a2"], ["b1", "b2"], [0.0], [0, 1], {"accuracy": acc})
    with pytest.warns(DroppedCellsWarning, match="seed=0: ok but accuracy is NaN"):
        table = anova(cube)
    assert table.attrs["n_runs"] == 7


def test_empty_design_cell_type2_by_model_comparison():
    # Cell a2b2 has no ok run: cells a1b1 {1,3}, a1b2 {5,7}, a2b1 {4,6}.
    # The additive model fits the three cell means exactly: RSS(A+B) = 2+2+2 = 6, df 6-3 = 3.
    # RSS(B) = b1 {1,3,4,6}: 13, b2 {5,7}: 2 -> 15, so SS_A = 9 (df 1).
    # RSS(A) = a1 {1,3,5,7}: 20, a2 {4,6}: 2 -> 22, so SS_B = 16 (df 1).
    # The interaction has no degree of freedom left (anova_lm would claim 1).
    cube = make_cube(["a1", "a2"], ["b1", "b2"], [0.0], [0, 1], {"accuracy": two_by_two_cube()["accuracy"].values},
                     status={("a2", "b2", 0.0, 0): "diverged", ("a2", "b2", 0.0, 1): "missing"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = anova(cube)
    messages = [str(w.message) for w in caught]
    assert any("architecture=a2, dataset=b2" in m and issubclass(w.category, StatsWarning)
               and not issubclass(w.category, DroppedCellsWarning) for w, m in zip(caught, messages))
    np.testing.assert_allclose(table.loc[["architecture", "dataset"], "SS"], [9.0, 16.0], rtol=1e-10)
    np.testing.assert_array_equal(table.loc[["architecture", "dataset", "architecture:dataset"], "df"], [1, 1, 0])
    assert table.loc["Residual", "SS"] == pytest.approx(6.0) and table.loc["Residual", "df"] == 3
    np.testing.assert_allclose(table.loc[["architecture", "dataset"], "F"], [4.5, 8.0], rtol=1e-10)
    assert np.isnan(table.loc["architecture:dataset", "F"])
    with pytest.raises(InvalidInputError, match="Type III .* empty design cells"):
        anova(cube, typ=3, warn=False)


# ---------------------------------------------------------------------------- lambda selection

def _lam_cube(lams):
    acc = np.tile(two_by_two_cube()["accuracy"].values, (1, 1, len(lams), 1))
    acc[:, :, 1:, :] += 100.0 * np.arange(1, len(lams))[None, None, :, None]  # distinguish the levels
    acc[0, 0, 1:, 0] += 1.0  # and make the other levels' tables differ
    return make_cube(["a1", "a2"], ["b1", "b2"], lams, [0, 1], {"accuracy": acc})


def test_default_lambda_is_zero_when_the_cube_has_several():
    table = anova(_lam_cube([0.0, 1e-3]))
    assert table.attrs["lam"] == 0.0
    assert table.loc["architecture", "SS"] == pytest.approx(12.5)
    other = anova(_lam_cube([0.0, 1e-3]), lam=1e-3)
    assert other.attrs["lam"] == 1e-3
    assert other.loc["Residual", "SS"] != pytest.approx(14.0)


def test_single_lambda_level_is_used_whatever_it_is():
    table = anova(_lam_cube([1e-3]))
    assert table.attrs["lam"] == 1e-3
    assert table.loc["architecture", "SS"] == pytest.approx(12.5)


def test_lambda_as_a_factor_uses_every_level():
    table = anova(_lam_cube([0.0, 1e-3]), factors=("architecture", "dataset", "lam"))
    assert "architecture:dataset:lam" in table.index
    assert table.attrs["n_runs"] == 16 and table.attrs["lam"] is None


def test_lambda_errors():
    with pytest.raises(InvalidInputError, match="none is 0"):
        anova(_lam_cube([1e-3, 1e-2]))
    with pytest.raises(InvalidInputError, match="not a level"):
        anova(_lam_cube([0.0, 1e-3]), lam=1e-4)
    with pytest.raises(InvalidInputError, match="also a factor"):
        anova(_lam_cube([0.0, 1e-3]), factors=("architecture", "lam"), lam=0.0)


# ---------------------------------------------------------------------------- errors

def test_unknown_response_and_factor():
    cube = two_by_two_cube()
    with pytest.raises(InvalidInputError, match="unknown response 'acuracy'.*accuracy"):
        anova(cube, response="acuracy")
    with pytest.raises(InvalidInputError, match="unknown factor.*'arch'"):
        anova(cube, factors=("arch", "dataset"))
    with pytest.raises(InvalidInputError, match="typ must be"):
        anova(cube, typ=1)


def test_factor_with_one_level():
    acc = two_by_two_cube()["accuracy"].values[:, :1]
    cube = make_cube(["a1", "a2"], ["b1"], [0.0], [0, 1], {"accuracy": acc})
    with pytest.raises(InvalidInputError, match="factor 'dataset' has one level"):
        anova(cube)


def test_too_few_cells_for_a_residual():
    acc = two_by_two_cube()["accuracy"].values[..., :1]  # one seed: 4 runs in 4 design cells
    cube = make_cube(["a1", "a2"], ["b1", "b2"], [0.0], [0], {"accuracy": acc})
    with pytest.raises(InvalidInputError, match="too few runs: 4 usable runs in 4 design cells"):
        anova(cube)


def test_not_a_cube():
    with pytest.raises(InvalidInputError, match="no result cube file"):
        anova("/nonexistent/cube.h5")
    with pytest.raises(InvalidInputError, match="not a neuroenergy result cube"):
        anova(two_by_two_cube().rename({"seed": "replicate"}))
