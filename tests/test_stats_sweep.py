"""neuroenergy.stats.lambda_sweep: paired geometric-mean ratios, accuracy change, paper-claim flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import DroppedCellsWarning, lambda_sweep
from stats_cubes import make_cube

# Student t 0.975 quantiles in closed form (printed tables: 4.303 and 12.706):
# 2 df: (2p - 1) / sqrt(2 p (1 - p)); 1 df (Cauchy): tan(pi (p - 1/2)).
T_975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)
T_975_DF1 = math.tan(math.pi * 0.475)


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
    # 1000x >= 10^2.5; |-0.3| < 0.5 pp; but the CI [-0.96, +0.36] is not inside +-0.5 pp.
    assert r["energy_claim"] == True  # noqa: E712 (pandas nullable boolean)
    assert r["accuracy_claim"] == True  # noqa: E712
    assert r["accuracy_equivalent"] == False  # noqa: E712


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
