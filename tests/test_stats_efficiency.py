"""neuroenergy.stats.efficiency: cost to target per run, energy-first vs baseline gains with bootstrap CIs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import StatsWarning, efficiency
from stats_cubes import make_cube

ARCHS = ["base1", "base2", "ef1"]
FAMILIES = ["baseline", "baseline", "energy_first"]


def _stored_cube(status=None):
    # energy to target (pJ); dims (architecture, dataset, lam, seed); NaN = never reached.
    # vision (mnist, fashion_mnist): baselines 100 everywhere, ef1 80 except one run that never
    #   reached the target -> gain = 1 - 80/100 = 0.20 exactly, every resample the same.
    # neuromorphic (nmnist): baselines {200, 300, 250, 250} mean 250, ef1 {100, 200} mean 150
    #   -> gain = 1 - 150/250 = 0.40.
    energy = np.array([
        [[100, 100], [100, 100], [200, 300]],
        [[100, 100], [100, 100], [250, 250]],
        [[80, 80], [80, np.nan], [100, 200]],
    ], float)[:, :, None, :]
    steps = np.where(np.isfinite(energy), energy / 10, np.nan)
    time = np.where(np.isfinite(energy), energy / 100, np.nan)
    accuracy = np.full(energy.shape, 0.9)
    return make_cube(ARCHS, ["mnist", "fashion_mnist", "nmnist"], [0.0], [0, 1],
                     {"accuracy": accuracy, "train_energy_to_target_pj": energy, "steps_to_target": steps,
                      "train_time_to_target_s": time},
                     families=FAMILIES, modalities=["vision", "vision", "neuromorphic"],
                     target_accuracy=[0.95, 0.85, 0.9], status=status)


def test_gains_by_hand_from_stored_costs():
    with pytest.warns(StatsWarning, match=r"1 of 18 ok runs never reached .*fashion_mnist/ef1: 1"):
        result = efficiency(_stored_cube(), method="pooled")
    assert result.method == "pooled" and set(result.gains["versus"]) == {"pooled"}
    assert result.source == "cube" and result.lam == 0.0 and result.by == "modality"
    assert result.target == {"mnist": 0.95, "fashion_mnist": 0.85, "nmnist": 0.9}
    gains = result.gains.set_index(["modality", "metric"])
    vision = gains.loc[("vision", "train_energy_to_target_pj")]
    assert (vision["n_energy_first"], vision["n_baseline"]) == (3, 8)
    assert (vision["not_reached_energy_first"], vision["not_reached_baseline"]) == (1, 0)
    assert vision["mean_energy_first"] == pytest.approx(80) and vision["mean_baseline"] == pytest.approx(100)
    assert vision["gain"] == pytest.approx(0.20)
    assert vision["ci_low"] == pytest.approx(0.20) and vision["ci_high"] == pytest.approx(0.20)
    assert bool(vision["in_paper_range"]) is True
    neuro = gains.loc[("neuromorphic", "train_energy_to_target_pj")]
    assert neuro["gain"] == pytest.approx(0.40)
    assert neuro["ci_low"] < 0.40 < neuro["ci_high"]
    assert bool(neuro["in_paper_range"]) is False
    # Steps and time are energy / 10 and / 100 here: the same ratios.
    assert gains.loc[("neuromorphic", "steps_to_target"), "gain"] == pytest.approx(0.40)
    assert gains.loc[("vision", "train_time_to_target_s"), "units"] == "s"
    # Per-run table: 18 ok runs, the one that never reached has NaN costs.
    runs = result.runs
    assert len(runs) == 18 and int((~runs["reached"]).sum()) == 1
    missed = runs[~runs["reached"]].iloc[0]
    assert (missed["architecture"], missed["dataset"], missed["seed"]) == ("ef1", "fashion_mnist", 1)
    assert np.isnan(missed["train_energy_to_target_pj"]) and missed["target"] == 0.85
    assert result.not_reached.to_dict("records") == [
        {"dataset": "fashion_mnist", "architecture": "ef1", "n_runs": 2, "n_not_reached": 1}]


def test_bootstrap_is_seeded_and_matches_the_exact_bootstrap_distribution():
    def neuro(seed):
        gains = efficiency(_stored_cube(), seed=seed, method="pooled", warn=False).gains
        return gains.set_index(["modality", "metric"]).loc[("neuromorphic", "train_energy_to_target_pj")]
    first, again = neuro(0), neuro(0)
    first = first.copy()
    first["modality"], first["metric"] = first.name
    assert first["modality"] == "neuromorphic" and first["metric"] == "train_energy_to_target_pj"
    assert (first["ci_low"], first["ci_high"]) == (again["ci_low"], again["ci_high"])
    # The samples are tiny, so the bootstrap distribution can be enumerated: every
    # resample of ef1 {100, 200} (2^2) with every resample of the baselines
    # {200, 300, 250, 250} (4^4), equally likely. Its 2.5% and 97.5% quantiles are
    # 1 - 200/225 (ef mean 200, baseline mean 225) and 1 - 100/275.
    gains = np.sort([1 - np.mean(e) / np.mean(b) for e in itertools.product([100, 200], repeat=2)
                     for b in itertools.product([200, 300, 250, 250], repeat=4)])
    cdf = np.arange(1, gains.size + 1) / gains.size
    exact = gains[np.searchsorted(cdf, 0.025)], gains[np.searchsorted(cdf, 0.975)]
    assert exact == (pytest.approx(1 - 200 / 225), pytest.approx(1 - 100 / 275))
    assert first["ci_low"] == pytest.approx(exact[0]) and first["ci_high"] == pytest.approx(exact[1])


def test_gains_by_dataset():
    result = efficiency(_stored_cube(), by="dataset", method="pooled", warn=False)
    energy = result.gains[result.gains["metric"] == "train_energy_to_target_pj"].set_index("dataset")
    assert energy.loc["mnist", "gain"] == pytest.approx(0.2)
    assert energy.loc["nmnist", "gain"] == pytest.approx(0.4)


def _curve_cube():
    # One dataset, a baseline and an energy-first architecture, one seed, four evaluations.
    acc = np.array([[0.1, 0.5, 0.7, 0.9], [0.2, 0.6, 0.65, 0.8]])[:, None, None, None, :]
    energy = np.array([[0, 100, 200, 300], [0, 50, 100, 150]], float)[:, None, None, None, :]
    step = np.broadcast_to(np.array([0, 10, 20, 30], float), acc.shape)
    time = np.broadcast_to(np.array([0, 1, 2, 3], float), acc.shape)
    return make_cube(["base", "ef"], ["mnist"], [0.0], [0],
                     {"accuracy": acc[..., -1], "curve_accuracy": acc, "curve_train_energy_pj": energy,
                      "curve_step": step, "curve_train_time_s": time}, families=["baseline", "energy_first"])


def test_costs_recomputed_from_curves_for_another_target():
    # target 0.7: base first reaches it at eval 2 (energy 200, step 20, 2 s); ef at eval 3 (150, 30, 3 s).
    result = efficiency(_curve_cube(), target=0.7, method="pooled")
    assert result.source == "curves"
    runs = result.runs.set_index("architecture")
    assert list(runs.loc["base", ["train_energy_to_target_pj", "steps_to_target", "train_time_to_target_s"]]) == \
        [200, 20, 2]
    assert list(runs.loc["ef", ["train_energy_to_target_pj", "steps_to_target", "train_time_to_target_s"]]) == \
        [150, 30, 3]
    energy = result.gains[result.gains["metric"] == "train_energy_to_target_pj"].iloc[0]
    assert energy["gain"] == pytest.approx(1 - 150 / 200)
    # target 0.6: ef hits 0.6 exactly at eval 1 (>= counts); base at eval 2.
    runs = efficiency(_curve_cube(), target={"mnist": 0.6}).runs.set_index("architecture")
    assert runs.loc["ef", "train_energy_to_target_pj"] == 50 and runs.loc["base", "train_energy_to_target_pj"] == 200
    # target 0.85: ef never reaches it -> excluded, counted, warned; no gain can be formed.
    with pytest.warns(StatsWarning, match="never reached"):
        result = efficiency(_curve_cube(), target=0.85, method="pooled")
    energy = result.gains[result.gains["metric"] == "train_energy_to_target_pj"].iloc[0]
    assert energy["not_reached_energy_first"] == 1 and np.isnan(energy["gain"])


def test_efficiency_errors():
    with pytest.raises(InvalidInputError, match=r"\(a fraction: 0.9 for 90%\)"):
        efficiency(_curve_cube(), target=90)
    with pytest.raises(InvalidInputError, match="by must be"):
        efficiency(_curve_cube(), by="architecture")
    with pytest.raises(InvalidInputError, match="no family"):
        efficiency(_curve_cube().drop_vars("family"))
    with pytest.raises(InvalidInputError, match="learning curves"):
        efficiency(_stored_cube(), target=0.5)
    with pytest.raises(InvalidInputError, match="no accuracy for dataset"):
        efficiency(_stored_cube(), target={"mnist": 0.5})
