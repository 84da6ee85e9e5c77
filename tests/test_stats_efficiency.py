"""neuroenergy.stats.efficiency: cost to target per run, energy-first vs baseline gains with bootstrap CIs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
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
    runs = efficiency(_curve_cube(), target={"mnist": 0.6}, method="pooled").runs.set_index("architecture")
    assert runs.loc["ef", "train_energy_to_target_pj"] == 50 and runs.loc["base", "train_energy_to_target_pj"] == 200
    # target 0.85: ef never reaches it -> excluded, counted, warned; no gain can be formed.
    with pytest.warns(StatsWarning, match="never reached"):
        result = efficiency(_curve_cube(), target=0.85, method="pooled")
    energy = result.gains[result.gains["metric"] == "train_energy_to_target_pj"].iloc[0]
    assert energy["not_reached_energy_first"] == 1 and np.isnan(energy["gain"])


def test_efficiency_errors():
    with pytest.raises(InvalidInputError, match=r"\(a fraction: 0.9 for 90%\)"):
        efficiency(_curve_cube(), target=90)
    with pytest.raises(InvalidInputError, match="method must be 'matched' or 'pooled'"):
        efficiency(_curve_cube(), method="paired")
    with pytest.raises(InvalidInputError, match="by must be"):
        efficiency(_curve_cube(), by="architecture")
    with pytest.raises(InvalidInputError, match="no family"):
        efficiency(_curve_cube().drop_vars("family"))
    with pytest.raises(InvalidInputError, match="learning curves"):
        efficiency(_stored_cube(), target=0.5)
    with pytest.raises(InvalidInputError, match="no accuracy for dataset"):
        efficiency(_stored_cube(), target={"mnist": 0.5})


def _confounded_cube():
    """The case the pooled gain gets wrong: energy-first costs what the cheapest baseline costs.

    Vision, datasets mnist and fashion_mnist, seeds 0..2; steps to target per cell, seeds
    spread x {1/2, 1, 2} around the cell's median (a different seed order per architecture):
        cheap1, cheap2 (baselines)   {50, 100, 200}     median 100
        dear1, dear2   (baselines)   {500, 1000, 2000}  median 1000 (10x: per-sample-costly models)
        ef1, ef2       (energy-first) {50, 100, 200}    median 100
    Energy to target is steps x 1e6 pJ, time to target steps / 100 s: the same ratios.
    """
    spread = {"cheap1": [100, 50, 200], "cheap2": [200, 100, 50], "dear1": [1000, 2000, 500],
              "dear2": [500, 1000, 2000], "ef1": [50, 200, 100], "ef2": [100, 200, 50]}
    archs = list(spread)
    steps = np.array([[spread[a], spread[a]] for a in archs], float)[:, :, None, :]
    return make_cube(archs, ["mnist", "fashion_mnist"], [0.0], [0, 1, 2],
                     {"accuracy": np.full(steps.shape, 0.9), "steps_to_target": steps,
                      "train_energy_to_target_pj": steps * 1e6, "train_time_to_target_s": steps / 100},
                     families=["baseline"] * 4 + ["energy_first"] * 2, target_accuracy=[0.95, 0.85])


def test_matched_gains_pooled_all_and_best_by_hand():
    cube = _confounded_cube()
    pooled = efficiency(cube, method="pooled").gains.set_index(["metric"])
    result = efficiency(cube)  # matched is the default
    assert result.method == "matched"
    gains = result.gains.set_index(["metric", "versus"])
    assert list(result.gains["metric"])[:2] == ["steps_to_target"] * 2  # the primary metric first
    for metric in ("steps_to_target", "train_energy_to_target_pj", "train_time_to_target_s"):
        # pooled: energy-first mean 350/3 = 116.7; baseline mean (2 x 116.7 + 2 x 1166.7) / 4 = 641.7;
        # gain = 1 - 116.7 / 641.7 = 1 - 1 / 5.5 = 0.818 (+82%): it measures that the baseline
        # family holds the costly models.
        assert pooled.loc[metric, "gain"] == pytest.approx(1 - 1 / 5.5)
        assert pooled.loc[metric, "gain"] == pytest.approx(0.818, abs=1e-3)
        assert pooled.loc[metric, "versus"] == "pooled" and pooled.loc[metric, "n_pairs"] is pd.NA
        # against all baselines: per dataset and energy-first model, r = 100/100, 100/100,
        # 100/1000, 100/1000; geometric mean of the 16 ratios = 10^(-1/2) = 0.316 -> +68.4%.
        every = gains.loc[(metric, "all")]
        assert every["gain"] == pytest.approx(1 - 10 ** -0.5)
        assert every["gain"] == pytest.approx(0.684, abs=1e-3)
        assert (every["n_pairs"], every["n_pairs_left_out"]) == (16, 0)
        assert (every["n_energy_first"], every["n_baseline"]) == (12, 24)  # 3 seeds per cell
        # geometric means of the medians: 100 and sqrt(100 x 1000); their ratio is the gain's
        scale = {"steps_to_target": 1.0, "train_energy_to_target_pj": 1e6, "train_time_to_target_s": 0.01}[metric]
        assert every["mean_energy_first"] == pytest.approx(100 * scale)
        assert every["mean_baseline"] == pytest.approx(math.sqrt(1e5) * scale)
        # against the best baseline (cheap1: median 100, first of the tie with cheap2): r = 1 -> 0%.
        best = gains.loc[(metric, "best")]
        assert best["gain"] == pytest.approx(0.0, abs=1e-12)
        assert (best["n_pairs"], best["n_pairs_left_out"], best["n_baseline"]) == (4, 0, 6)
        assert every["ci_low"] <= every["gain"] <= every["ci_high"]
        assert (every["not_reached_share_energy_first"], every["not_reached_share_baseline"]) == (0.0, 0.0)
    pairs = result.pairs
    assert len(pairs) == 3 * 2 * 2 * 4  # metrics x datasets x energy-first x baselines
    steps = pairs[(pairs["metric"] == "steps_to_target") & (pairs["dataset"] == "mnist")
                  & (pairs["energy_first"] == "ef2")].set_index("baseline")
    assert list(steps["median_baseline"]) == [100, 100, 1000, 1000]
    assert list(steps["ratio"]) == [1.0, 1.0, 0.1, 0.1]
    assert list(steps["is_best_baseline"]) == [True, False, False, False]
    assert set(steps["n_energy_first"]) == {3} and not steps["left_out"].any()
    assert steps["units"].iloc[0] == "optimizer steps"


def test_matched_pairs_left_out_and_bootstrap_by_hand():
    # _stored_cube, steps = energy / 10, two seeds:
    #   vision mnist: baselines {10, 10}, ef1 {8, 8} -> r = 0.8 against both.
    #   vision fashion_mnist: ef1 reached once -> both its pairs left out (fewer than 2 runs).
    #   neuromorphic nmnist: base1 {20, 30} median 25, base2 {25, 25} median 25, ef1 {10, 20} median 15
    #   -> r = 0.6 against both; best baseline base1 (a tie, cube order) -> gain 0.4 both ways.
    with pytest.warns(StatsWarning, match=r"1 of 18 ok runs never reached the target accuracy .*"
                                          r"\(fashion_mnist/ef1: 1\)"), \
         pytest.warns(StatsWarning, match=r"2 of 6 energy-first/baseline pairs left out .*"
                                          r"fashion_mnist: ef1/base1, fashion_mnist: ef1/base2"):
        result = efficiency(_stored_cube())
    gains = result.gains.set_index(["modality", "metric", "versus"])
    vision = gains.loc[("vision", "steps_to_target", "all")]
    assert vision["gain"] == pytest.approx(0.2) and (vision["n_pairs"], vision["n_pairs_left_out"]) == (2, 2)
    assert (vision["n_energy_first"], vision["n_baseline"]) == (2, 4)
    assert (vision["not_reached_energy_first"], vision["not_reached_share_energy_first"]) == (1, 0.25)
    assert vision["not_reached_share_baseline"] == 0.0
    vision_best = gains.loc[("vision", "steps_to_target", "best")]
    assert vision_best["gain"] == pytest.approx(0.2)
    assert (vision_best["n_pairs"], vision_best["n_pairs_left_out"]) == (1, 1)
    left = result.pairs[result.pairs["left_out"]]
    assert set(left["dataset"]) == {"fashion_mnist"} and set(left["n_energy_first"]) == {1}
    assert left["ratio"].isna().all()
    for versus in ("all", "best"):
        assert gains.loc[("neuromorphic", "steps_to_target", versus), "gain"] == pytest.approx(0.4)
    # The bootstrap resamples the two seeds of each cell: a median of two draws from {10, 20}
    # is 10, 15 or 20 (p 1/4, 1/2, 1/4); base1's is 20, 25 or 30; base2's always 25. The 16
    # equally likely outcomes put mass 1/16 on each extreme, so the 2.5% and 97.5% quantiles
    # are the extremes: against all, 1 - sqrt(20/20 x 20/25) and 1 - sqrt(10/30 x 10/25);
    # against the best, re-chosen in each resample: 1 - 20/min(20, 25) = 0 and
    # 1 - 10/min(30, 25) = 0.6 (a best baseline fixed at base1 would give 1 - 10/30 = 0.667).
    neuro_all = gains.loc[("neuromorphic", "steps_to_target", "all")]
    assert (neuro_all["ci_low"], neuro_all["ci_high"]) == (pytest.approx(1 - math.sqrt(0.8)),
                                                           pytest.approx(1 - math.sqrt(10 / 30 * 10 / 25)))
    neuro_best = gains.loc[("neuromorphic", "steps_to_target", "best")]
    assert (neuro_best["ci_low"], neuro_best["ci_high"]) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.6))
    again = efficiency(_stored_cube(), warn=False).gains
    assert again[["ci_low", "ci_high"]].equals(result.gains[["ci_low", "ci_high"]])  # seeded
    # not enough seeds anywhere: no pair, no gain
    curves = efficiency(_curve_cube(), target=0.7, warn=False).gains
    assert (curves["n_pairs"] == 0).all() and curves["gain"].isna().all()
    assert set(curves["versus"]) == {"all", "best"}
