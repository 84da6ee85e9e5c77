"""neuroenergy.stats.lambda_sweep: paired geometric-mean ratios, accuracy change, paper-claim flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import DroppedCellsWarning, lambda_frontier, lambda_sweep
from neuroenergy.stats.sweep import FRONTIER_COLUMNS
from stats_cubes import make_cube

# Student t 0.975 quantiles in closed form (printed tables: 4.303 and 12.706):
# 2 df: (2p - 1) / sqrt(2 p (1 - p)); 1 df (Cauchy): tan(pi (p - 1/2)).
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)
T_975_DF1 = math.tan(math.pi * 0.475)
# The 0.95 quantile with 2 df (the TOST's 90% CI; printed tables: 2.920).
T_95_DF2 = 0.90 / math.sqrt(2 * 0.95 * 0.05)


def _t2_sf(t):
    """P(T > t) for Student t with 2 df: 1/2 - t / (2 sqrt(2 + t^2))."""
    return 0.5 - t / (2 * math.sqrt(2 + t * t))


def _cube(status=None):
    # One architecture on mnist, lambda 0 and 1e-2, seeds 0..2.
    # activation energy  lam=0: 1000, 2000, 500   lam=1e-2: 1, 8, 0.125
    #   -> per-seed ratios 1e-3, 4e-3, 2.5e-4 = 1e-3 * {1, 4, 1/4}: geometric mean 1e-3 (1000x lower)
    # energy_pj          lam=0: 10, 20, 40        lam=1e-2: 5, 10, 20   -> ratio 0.5 for every seed
    # accuracy           lam=0: .980 .982 .978    lam=1e-2: .978 .981 .972 -> change -0.2, -0.1, -0.6 pp
    act = np.array([[1000, 2000, 500], [1, 8, 0.125]], float)[None, None]
    pj = np.array([[10, 20, 40], [5, 10, 20]], float)[None, None]
    acc = np.array([[0.980, 0.982, 0.978], [0.978, 0.981, 0.972]])[None, None]
    return make_cube(["lif_mlp"], ["mnist"], [0.0, 1e-2], [0, 1, 2],
                     {"accuracy": acc, "activation_energy": act, "energy_pj": pj}, status=status)


def test_sweep_by_hand():
    table = lambda_sweep(_cube())
    assert len(table) == 1
    r = table.iloc[0]
    assert (r["dataset"], r["architecture"], r["lam"], r["n_pairs"]) == ("mnist", "lif_mlp", 0.01, 3)
    assert r["activation_ratio"] == pytest.approx(1e-3, rel=1e-12)
    assert r["activation_reduction"] == pytest.approx(1000.0, rel=1e-12)
    # log ratios ln(1e-3) + {0, ln 4, -ln 4}: sd = ln 4, CI = exp(ln 1e-3 +- t * ln4 / sqrt 3)
    half = T_975_DF2 * math.log(4) / math.sqrt(3)
    assert r["activation_ratio_ci_low"] == pytest.approx(1e-3 * math.exp(-half), rel=1e-10)
    assert r["activation_ratio_ci_high"] == pytest.approx(1e-3 * math.exp(half), rel=1e-10)
    assert r["energy_pj_ratio"] == pytest.approx(0.5) and r["energy_pj_reduction"] == pytest.approx(2.0)
    assert r["energy_pj_ratio_ci_low"] == pytest.approx(0.5) and r["energy_pj_ratio_ci_high"] == pytest.approx(0.5)
    # changes -0.2, -0.1, -0.6 pp: mean -0.3, sd sqrt((0.01 + 0.04 + 0.09) / 2) = sqrt(0.07)
    assert r["acc_change_pp"] == pytest.approx(-0.3, abs=1e-12)
    half = T_975_DF2 * math.sqrt(0.07) / math.sqrt(3)  # 0.6572
    assert r["acc_change_ci_low"] == pytest.approx(-0.3 - half, abs=1e-10)
    assert r["acc_change_ci_high"] == pytest.approx(-0.3 + half, abs=1e-10)
    # TOST at 5% against +-0.5 pp: the 90% CI -0.3 +- 2.920 * se, se = sqrt(0.07 / 3) = 0.1528,
    # is [-0.746, +0.146]: not inside. Its p is the larger one-sided p: H0 mean <= -0.5 gives
    # t = 0.2 / se = 1.309, p = 0.160; H0 mean >= +0.5 gives t = -0.8 / se, p = 0.017.
    se = math.sqrt(0.07 / 3)
    assert r["acc_change_tost_low"] == pytest.approx(-0.3 - T_95_DF2 * se, abs=1e-10)
    assert r["acc_change_tost_high"] == pytest.approx(-0.3 + T_95_DF2 * se, abs=1e-10)
    assert r["tost_p"] == pytest.approx(_t2_sf(0.2 / se), rel=1e-9)
    assert r["tost_p"] == pytest.approx(0.1603, abs=1e-4)
    assert "bal_acc_change_pp" not in table  # the cube has no balanced_accuracy
    # 1000x >= 10^2.5; |-0.3| < 0.5 pp; but TOST p = 0.16 >= 0.05: not shown equivalent.
    assert r["energy_claim"] == True  # noqa: E712 (pandas nullable boolean)
    assert r["accuracy_claim"] == True  # noqa: E712
    assert r["accuracy_equivalent"] == False  # noqa: E712


def test_tost_uses_the_90_percent_interval():
    # changes -0.05, -0.2, -0.35 pp: mean -0.2, sd 0.15, se = 0.15 / sqrt 3 = 0.0866.
    # 95% CI -0.2 +- 4.303 se = [-0.573, +0.173] pokes out of +-0.5 pp, but the TOST's
    # 90% CI -0.2 +- 2.920 se = [-0.453, +0.053] lies inside: equivalent at 5%.
    cube = _cube()
    acc = cube["accuracy"].values.copy()
    acc[0, 0, 1, :] = acc[0, 0, 0, :] + np.array([-0.0005, -0.002, -0.0035])
    r = lambda_sweep(cube.assign(accuracy=(cube["accuracy"].dims, acc))).iloc[0]
    se = 0.15 / math.sqrt(3)
    assert r["acc_change_ci_low"] == pytest.approx(-0.2 - T_975_DF2 * se, abs=1e-9)
    assert r["acc_change_ci_low"] < -0.5
    assert r["acc_change_tost_low"] == pytest.approx(-0.2 - T_95_DF2 * se, abs=1e-9)
    assert r["acc_change_tost_high"] == pytest.approx(-0.2 + T_95_DF2 * se, abs=1e-9)
    assert r["tost_p"] == pytest.approx(_t2_sf(0.3 / se), rel=1e-8)  # H0 mean <= -0.5 pp is the larger p
    assert r["tost_p"] < 0.05
    assert r["accuracy_equivalent"] == True  # noqa: E712
    # The margin and alpha are parameters: at +-0.4 pp the 90% CI [-0.453, ...] is no longer inside.
    narrow = lambda_sweep(cube.assign(accuracy=(cube["accuracy"].dims, acc)), margin_pp=0.4).iloc[0]
    assert narrow["accuracy_equivalent"] == False and narrow["tost_p"] > 0.05  # noqa: E712
    assert lambda_sweep(cube, margin_pp=0.4).attrs["accuracy_claim_max_pp"] == 0.4


def test_balanced_accuracy_change_columns():
    # balanced accuracy lam=0: 0.90 for each seed; lam=1e-2: 0.88, 0.89, 0.87 -> change -2, -1, -3 pp:
    # mean -2, sd 1, 95% CI -2 +- 4.303 / sqrt 3.
    cube = _cube()
    bal = np.array([[0.90, 0.90, 0.90], [0.88, 0.89, 0.87]])[None, None]
    r = lambda_sweep(cube.assign(balanced_accuracy=(cube["accuracy"].dims, bal))).iloc[0]
    assert r["bal_acc_change_pp"] == pytest.approx(-2.0, abs=1e-10)
    assert r["bal_acc_change_ci_low"] == pytest.approx(-2.0 - T_975_DF2 / math.sqrt(3), abs=1e-9)
    assert r["bal_acc_change_ci_high"] == pytest.approx(-2.0 + T_975_DF2 / math.sqrt(3), abs=1e-9)
    assert r["acc_change_pp"] == pytest.approx(-0.3)  # accuracy stays the sweep's response


def test_energy_claim_threshold_is_ten_to_the_two_and_a_half():
    cube = _cube()
    for reduction, expected in ((320.0, True), (310.0, False), (100.0, False)):
        act = cube["activation_energy"].values.copy()
        act[0, 0, 1, :] = act[0, 0, 0, :] / reduction
        table = lambda_sweep(cube.assign(activation_energy=(cube["activation_energy"].dims, act)))
        assert table.iloc[0]["activation_reduction"] == pytest.approx(reduction)
        assert bool(table.iloc[0]["energy_claim"]) is expected


def test_failed_cell_breaks_its_pair():
    status = {("lif_mlp", "mnist", 0.01, 2): "failed"}
    with pytest.warns(DroppedCellsWarning, match="architecture=lif_mlp dataset=mnist lam=0.01 seed=2: failed"):
        table = lambda_sweep(_cube(status))
    r = table.iloc[0]
    assert r["n_pairs"] == 2
    # Remaining ratios 1e-3 and 4e-3: geometric mean 2e-3; changes -0.2 and -0.1 pp.
    assert r["activation_ratio"] == pytest.approx(2e-3)
    assert r["acc_change_pp"] == pytest.approx(-0.15)
    half = T_975_DF1 * (0.1 / math.sqrt(2)) / math.sqrt(2)
    assert r["acc_change_ci_high"] == pytest.approx(-0.15 + half)


def test_a_single_pair_cannot_be_tested():
    status = {("lif_mlp", "mnist", 0.01, 1): "failed", ("lif_mlp", "mnist", 0.0, 2): "missing"}
    table = lambda_sweep(_cube(status), warn=False)
    r = table.iloc[0]
    assert r["n_pairs"] == 1 and r["acc_change_pp"] == pytest.approx(-0.2)
    assert np.isnan(r["acc_change_ci_low"])
    assert r["accuracy_equivalent"] is pd.NA


def test_sweep_errors():
    only_zero = _cube().sel(lam=[0.0])
    with pytest.raises(InvalidInputError, match="only lambda = 0"):
        lambda_sweep(only_zero)
    no_zero = _cube().assign_coords(lam=[1e-4, 1e-2])
    with pytest.raises(InvalidInputError, match="needs lambda = 0 as the reference"):
        lambda_sweep(no_zero)
    with pytest.raises(InvalidInputError, match="tost_alpha must be in"):
        lambda_sweep(_cube(), tost_alpha=0.5)
    with pytest.raises(InvalidInputError, match="margin_pp must be a positive"):
        lambda_sweep(_cube(), margin_pp=0)


def _frontier_cube(status=None):
    """Three architectures on mnist, lambda 0, 1e-3, 1e-2, seeds 0..2 (changes in pp vs lambda = 0).

    mlp      1e-3: acc -0.05, -0.2, -0.35 (90% CI [-0.453, +0.053]: equivalent);
                   activation ratios 0.1 x {1, 4, 1/4} (geometric mean 0.1); pJ ratio 0.5
             1e-2: acc -1.0, -0.5, -1.5 (mean -1.0: not equivalent); activation ratio 1e-3; pJ 0.1
             -> largest equivalent lambda 1e-3, activation 10x lower there, pJ 2x.
    bimodal  1e-3: acc 0, -0.8, +0.8 (sd 0.8, 90% CI +-1.35: not shown equivalent); ratios 0.5
             1e-2: acc -0.1 on every seed (equivalent); activation ratio 1e-3, pJ 0.25
             -> largest equivalent lambda 1e-2 although 1e-3 is not: 1000x and 4x lower.
    wide     both: acc 0, -0.8, +0.8 (never equivalent); activation ratios 0.9, then 0.8
             -> NaN, and at the largest lambda E(max)/E(0) = 0.8: the sweep barely moved E.
    """
    acc0 = np.array([0.980, 0.970, 0.990])
    noisy = np.array([0.0, -0.008, 0.008])
    acc = np.stack([
        [acc0, acc0 + np.array([-0.0005, -0.002, -0.0035]), acc0 + np.array([-0.010, -0.005, -0.015])],
        [acc0, acc0 + noisy, acc0 - 0.001],
        [acc0, acc0 + noisy, acc0 + noisy],
    ])[:, None]
    act0 = np.array([100.0, 200.0, 400.0])
    act = np.stack([
        [act0, act0 * 0.1 * np.array([1, 4, 0.25]), act0 * 1e-3],
        [act0, act0 * 0.5, act0 * 1e-3],
        [act0, act0 * 0.9, act0 * 0.8],
    ])[:, None]
    pj0 = np.full(3, 10.0)
    pj = np.stack([[pj0, pj0 * 0.5, pj0 * 0.1], [pj0, pj0 * 0.5, pj0 * 0.25], [pj0, pj0, pj0]])[:, None]
    return make_cube(["mlp", "bimodal", "wide"], ["mnist"], [0.0, 1e-3, 1e-2], [0, 1, 2],
                     {"accuracy": acc, "activation_energy": act, "energy_pj": pj},
                     families=["baseline", "energy_first", "baseline"], status=status)


def test_lambda_frontier_by_hand():
    frontier = lambda_frontier(_frontier_cube())
    assert tuple(frontier.columns) == FRONTIER_COLUMNS
    assert list(frontier["architecture"]) == ["mlp", "bimodal", "wide"]
    mlp, bimodal, wide = (frontier.iloc[i] for i in range(3))
    assert (mlp["dataset"], mlp["modality"], mlp["family"]) == ("mnist", "vision", "baseline")
    assert mlp["largest_equivalent_lam"] == pytest.approx(1e-3) and mlp["n_pairs"] == 3
    # log ratios ln 0.1 + {0, ln 4, -ln 4}: reduction 10, CI 10 exp(-+ t * ln 4 / sqrt 3).
    half = T_975_DF2 * math.log(4) / math.sqrt(3)
    assert mlp["activation_reduction"] == pytest.approx(10.0, rel=1e-10)
    assert mlp["activation_reduction_ci_low"] == pytest.approx(10 * math.exp(-half), rel=1e-10)
    assert mlp["activation_reduction_ci_high"] == pytest.approx(10 * math.exp(half), rel=1e-10)
    assert (mlp["energy_pj_reduction"], mlp["energy_pj_reduction_ci_low"], mlp["energy_pj_reduction_ci_high"])         == (pytest.approx(2.0), pytest.approx(2.0), pytest.approx(2.0))
    assert mlp["acc_change_pp"] == pytest.approx(-0.2, abs=1e-10)
    assert (mlp["max_lam"], mlp["max_lam_activation_ratio"]) == (pytest.approx(1e-2), pytest.approx(1e-3))
    assert mlp["max_lam_acc_change_pp"] == pytest.approx(-1.0, abs=1e-10)
    # bimodal: 1e-3 is not shown equivalent, 1e-2 is; the largest equivalent level counts.
    assert bimodal["largest_equivalent_lam"] == pytest.approx(1e-2)
    assert bimodal["activation_reduction"] == pytest.approx(1000.0)
    assert bimodal["energy_pj_reduction"] == pytest.approx(4.0)
    assert bimodal["acc_change_pp"] == pytest.approx(-0.1, abs=1e-10)
    # wide: never equivalent -> NaN there; E at the largest lambda is 0.8 of E at 0.
    assert np.isnan(wide["largest_equivalent_lam"]) and wide["n_pairs"] is pd.NA
    assert np.isnan(wide["activation_reduction"]) and np.isnan(wide["energy_pj_reduction_ci_high"])
    assert np.isnan(wide["acc_change_pp"])
    assert wide["max_lam_activation_ratio"] == pytest.approx(0.8)
    assert wide["max_lam_acc_change_pp"] == pytest.approx(0.0, abs=1e-10)


def test_lambda_frontier_follows_failed_pairs():
    # mlp seed 2 failed at 1e-3: pairs of seeds 0 and 1 remain, changes -0.05 and -0.2 pp:
    # mean -0.125, sd 0.15 / sqrt 2 = 0.106, 90% CI -0.125 +- 6.314 * 0.075 = [-0.60, +0.35]:
    # no longer equivalent, and 1e-2 never was -> NaN.
    status = {("mlp", "mnist", 1e-3, 2): "failed"}
    with pytest.warns(DroppedCellsWarning):
        frontier = lambda_frontier(_frontier_cube(status))
    assert np.isnan(frontier.iloc[0]["largest_equivalent_lam"])
    assert frontier.iloc[1]["largest_equivalent_lam"] == pytest.approx(1e-2)
