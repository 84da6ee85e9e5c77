"""Speed of the statistics layer: format_tables + write_report on a 2,203-run cube.

The cube is generated (numbers with the structure of a real study, not real
runs): 7 architectures (5 baseline, 2 energy-first) x 6 datasets x 5 lambdas
x 11 seeds = 2,310 cells, of which 107 are failed / diverged / missing, so
2,203 runs are ok, each with an 11-point learning curve. Target: the two calls
together under 2 s (median of repeats in one process); the first call, which
also pays for importing matplotlib, is printed beside it.

Run: .venv/bin/python benchmarks/bench_stats.py [--repeats N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from neuroenergy.results.schema import CELL_VARIABLES, CURVE_VARIABLES, DIMS

ARCHITECTURES = {
    "lif_mlp": "baseline", "conv_snn": "baseline", "recurrent_snn": "baseline", "spiking_resnet": "baseline",
    "spiking_transformer": "baseline", "bimodal_true": "energy_first", "physics_lagrangian": "energy_first",
}
DATASETS = {"mnist": "vision", "fashion_mnist": "vision", "nmnist": "neuromorphic", "fsdd": "audio",
            "mitbih": "physiological", "sst2": "text"}
BASE_ACCURACY = np.array([0.985, 0.895, 0.965, 0.86, 0.97, 0.79])
LAMBDAS = np.array([0.0, 1e-5, 1e-4, 1e-3, 1e-2])
SEEDS = np.arange(11)
EVALS = 11
NOT_OK = {"failed": 50, "diverged": 30, "missing": 27}  # 2,310 - 107 = 2,203 ok runs


def generate_cube(seed: int = 0) -> xr.Dataset:
    """A synthetic 2,203-run cube following the schema (benchmark input only)."""
    rng = np.random.default_rng(seed)
    a, d, l, s = len(ARCHITECTURES), len(DATASETS), len(LAMBDAS), len(SEEDS)
    shape = (a, d, l, s)
    energy_first = np.array([f == "energy_first" for f in ARCHITECTURES.values()])
    # Accuracy: dataset level + strong architecture x dataset interaction + tiny main effect.
    interaction = rng.normal(0.0, 0.025, size=(a, d))
    accuracy0 = np.clip(BASE_ACCURACY[None, :] + interaction, 0.05, 0.999)
    log_lam = np.where(LAMBDAS > 0, np.log10(np.where(LAMBDAS > 0, LAMBDAS, 1.0)), -np.inf)
    strength = np.where(LAMBDAS > 0, (log_lam + 6.0) / 4.0, 0.0)  # 0.25 at 1e-5 ... 1.0 at 1e-2
    accuracy = np.clip(accuracy0[:, :, None, None] - 0.002 * strength[None, None, :, None]
                       + rng.normal(0.0, 0.003, size=shape), 0.0, 1.0)
    # Activation energy falls ~3 orders of magnitude at lambda = 1e-2; energy_pj much less.
    act0 = 10 ** rng.uniform(3.5, 5.0, size=(a, d))
    act = act0[:, :, None, None] * 10 ** (-3.0 * strength[None, None, :, None]
                                          + rng.normal(0.0, 0.08, size=shape))
    pj0 = 10 ** rng.uniform(5.5, 7.0, size=(a, d))
    energy_pj = pj0[:, :, None, None] * 10 ** (-0.6 * strength[None, None, :, None]
                                               + rng.normal(0.0, 0.03, size=shape))
    # Learning curves: accuracy approaches the final value; energy-first spend less energy per step.
    steps = np.linspace(0, 2000, EVALS)
    tau = rng.uniform(250, 500, size=(a, d))[:, :, None, None, None] * rng.uniform(0.9, 1.1, size=shape + (1,))
    curve_acc = accuracy[..., None] * (1 - np.exp(-(steps + 1) / tau))
    per_step_pj = pj0[:, :, None, None, None] * 256 * np.where(energy_first, 0.8, 1.0)[:, None, None, None, None]
    curve_energy = np.broadcast_to(per_step_pj * steps, shape + (EVALS,))
    curve_time = np.broadcast_to(steps * rng.uniform(0.01, 0.03, size=(a, d))[:, :, None, None, None],
                                 shape + (EVALS,))
    target = 0.9 * BASE_ACCURACY
    hit = curve_acc >= target[None, :, None, None, None]
    first = np.argmax(hit, axis=-1)[..., None]
    reached = hit.any(axis=-1)

    def at_target(curve: np.ndarray) -> np.ndarray:
        return np.where(reached, np.take_along_axis(curve, first, axis=-1)[..., 0], np.nan)

    broadcast_steps = np.broadcast_to(steps, shape + (EVALS,))
    cells = {
        "accuracy": accuracy, "ce": -np.log(np.clip(accuracy, 1e-3, 1)) + 0.05, "energy_term": act,
        "activation_energy": act, "energy_pj": energy_pj, "synops_dense": energy_pj / 4.6 * 3,
        "synops_effective_ac": energy_pj / 0.9 * 0.5, "synops_effective_mac": energy_pj / 4.6 * 0.5,
        "spikes": act, "firing_rate": np.clip(act / act.max(), 0, 1),
        "activation_sparsity": rng.uniform(0.7, 0.99, shape),
        "membrane_updates": np.full(shape, 1e5), "steps_to_target": at_target(broadcast_steps),
        "samples_to_target": at_target(broadcast_steps) * 128, "train_energy_to_target_pj": at_target(curve_energy),
        "train_time_to_target_s": at_target(curve_time), "train_energy_pj": curve_energy[..., -1],
        "train_time_s": curve_time[..., -1], "wall_time_s": curve_time[..., -1] * 1.2,
        "steps": np.full(shape, steps[-1]), "num_parameters": np.full(shape, 1e5),
    }
    curves = {"curve_step": broadcast_steps, "curve_accuracy": curve_acc, "curve_ce": 1 - curve_acc,
              "curve_energy": np.broadcast_to(act[..., None], shape + (EVALS,)),
              "curve_train_energy_pj": curve_energy, "curve_train_time_s": curve_time}
    status = np.full(shape, "ok", dtype=object)
    flat = rng.choice(status.size, size=sum(NOT_OK.values()), replace=False)
    start = 0
    for name, count in NOT_OK.items():
        status.reshape(-1)[flat[start:start + count]] = name
        start += count
    bad = status != "ok"
    data_vars = {}
    # Variables the schema gained after this generator was written are left out of the cube.
    for name in (n for n in CELL_VARIABLES if n in cells):
        values = np.broadcast_to(np.asarray(cells[name], dtype=float), shape).copy()
        values[bad] = np.nan
        data_vars[name] = (DIMS, values)
    for name in CURVE_VARIABLES:
        values = np.broadcast_to(np.asarray(curves[name], dtype=float), shape + (EVALS,)).copy()
        values[bad] = np.nan
        data_vars[name] = (DIMS + ("eval",), values)
    data_vars["status"] = (DIMS, status.astype(str))
    data_vars["target_accuracy"] = (("dataset",), target)
    return xr.Dataset(
        data_vars,
        coords={"architecture": list(ARCHITECTURES), "dataset": list(DATASETS), "lam": LAMBDAS, "seed": SEEDS,
                "eval": np.arange(EVALS), "modality": ("dataset", list(DATASETS.values())),
                "family": ("architecture", list(ARCHITECTURES.values()))},
        attrs={"spec": "# generated benchmark cube", "costs": "45nm-fp32", "package_versions": "{}",
               "git_commit": "benchmark", "created": "generated"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the report here and keep it")
    args = parser.parse_args()

    cube = generate_cube()
    ok = int((cube["status"] == "ok").sum())
    print(f"cube: {int(cube['status'].size)} cells, {ok} ok runs, {cube.sizes['eval']} evaluations per curve")

    from neuroenergy.stats import format_tables, write_report

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "report"
        for _ in range(max(args.repeats, 1)):
            c0, t0 = time.process_time(), time.perf_counter()
            text = format_tables(cube)
            t1 = time.perf_counter()
            path = write_report(cube, out)
            c2, t2 = time.process_time(), time.perf_counter()
            times.append((t1 - t0, t2 - t1, t2 - t0, c2 - c0))
        figures = sorted(p.name for p in path.parent.glob("*.png"))
    first, median = times[0], [statistics.median(t[i] for t in times) for i in range(4)]
    print(f"format_tables: {len(text.splitlines())} lines; write_report: {path.name} + {', '.join(figures)}")
    # Wall time is the target; CPU time (all threads of this process) shows how much of
    # the wall time a busy machine added.
    print(f"first call (matplotlib import included): format_tables {first[0]:.3f} s + write_report "
          f"{first[1]:.3f} s = {first[2]:.3f} s wall ({first[3]:.3f} s CPU)")
    print(f"median of {len(times)}: format_tables {median[0]:.3f} s + write_report {median[1]:.3f} s = "
          f"{median[2]:.3f} s wall ({median[3]:.3f} s CPU)   target < 2 s: {'met' if median[2] < 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
