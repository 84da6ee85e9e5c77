"""Runner speed: the smoke protocol with 2 workers against 1, and the runner's overhead.

Runs ``smoke`` (default profile unless --profile) into fresh directories,
once with --workers 1 and once with --workers 2 (after an untimed-for-comparison
first run that pays the process's one-time imports), and prints:
  speed-up = wall(1 worker) / wall(2 workers)          (target >= 1.6 on 2 cores)
  its ceiling: one worker runs a cell with all the cores' torch threads, two workers
  with one thread each, so the speed-up cannot pass 2 / (how much faster a cell runs on
  2 threads than on 1); measured here from a third run, 1 worker with 1 torch thread
  contention: how much slower the one-thread cells run two at a time than alone
  (from the cubes' cell wall times), which lowers that ceiling further
  the same with --executor dask (a local Dask cluster of 2 worker processes,
  its start-up included; skipped when dask.distributed is not installed)
  overhead = (wall(1 worker) - sum of cell wall times) / sum of cell training times
             i.e. what the driver adds per cell (store, cube, progress, process
             start) as a share of training time                 (target <= 5%)
Both runs happen in this one process, side by side.

Run: NEUROENERGY_DATA=../shared/data .venv/bin/python benchmarks/bench_runner.py
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

from repeats import paired_ratio

from neuroenergy.protocols import load_spec, run_design
from neuroenergy.protocols.cell import _load
from neuroenergy.results import load_cube


@contextlib.contextmanager
def torch_threads(threads: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timed_run(spec, design, out: Path, workers: int, executor: str = "local") -> tuple[float, object]:
    _load.cache_clear()  # each run reads its data itself: forked workers must not inherit loaded sets
    start = time.perf_counter()
    run_design(spec, design, out, workers=workers, progress=False, executor=executor)
    return time.perf_counter() - start, load_cube(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="smoke")
    parser.add_argument("--profile", default=None)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each worker count (medians)")
    args = parser.parse_args()
    spec = load_spec(args.protocol)
    design = spec.design(args.profile)
    print(f"protocol {design.name}, profile {design.profile}: {design.num_cells} cells")
    with tempfile.TemporaryDirectory() as tmp:
        # The first run in a process also pays one-time imports (torch's compiler stack on
        # the first optimiser step; xarray imports dask.distributed on its first write when
        # dask is installed). It is reported apart; the comparisons use a second run.
        first, first_cube = timed_run(spec, design, Path(tmp) / "first", 1)
        ones, twos, singles, cubes, side_by_side = [], [], [], [], []
        for repeat in range(args.repeats):  # interleaved, so machine load hits all alike
            one, cube = timed_run(spec, design, Path(tmp) / f"one-{repeat}", 1)
            two, two_cube = timed_run(spec, design, Path(tmp) / f"two-{repeat}", 2)
            with torch_threads(1):
                single, single_cube = timed_run(spec, design, Path(tmp) / f"single-{repeat}", 1)
            ones.append(one)
            twos.append(two)
            singles.append(single)
            cubes.append(cube)
            # the same one-thread cells, two at a time against one at a time
            side_by_side.append(float(two_cube["wall_time_s"].sum()) / float(single_cube["wall_time_s"].sum()))
        one, two = statistics.median(ones), statistics.median(twos)
        dask = None
        if importlib.util.find_spec("distributed") is not None:
            dask, dask_cube = timed_run(spec, design, Path(tmp) / "dask", 2, executor="dask")
            if int((dask_cube["status"] == "ok").sum()) < design.num_cells:
                raise SystemExit("the Dask run did not finish every cell")
    ok = int((cube["status"] == "ok").sum())
    if ok < design.num_cells:
        raise SystemExit(f"only {ok} of {design.num_cells} cells finished ok; is NEUROENERGY_DATA set?")
    if dask is None:
        print("dask executor: dask.distributed not installed, skipped")
    else:
        print(f"dask executor, local cluster of 2 workers: {dask:.1f} s (its start-up included) -> speed-up "
              f"{one / dask:.2f} over 1 local worker; {dask - two:+.1f} s against 2 local workers")
    cell_walls = [float(c["wall_time_s"].sum()) for c in cubes]
    train_times = [float(c["train_time_s"].sum()) for c in cubes]
    cell_wall, train_time = statistics.median(cell_walls), statistics.median(train_times)
    speed_up, low, high = paired_ratio(ones, twos)
    print(f"1 worker: {one:.1f} s, 2 workers: {two:.1f} s (medians of {args.repeats}) -> speed-up "
          f"{speed_up:.2f} (median of the per-repeat ratios, range {low:.2f}-{high:.2f}; target >= 1.6)")
    threading, _, _ = paired_ratio(singles, ones)
    parallel, p_low, p_high = paired_ratio(singles, twos)
    print(f"ceiling: 1 worker runs the cells {threading:.2f}x faster on 2 torch threads than on 1, so 2 "
          f"one-thread workers can reach at most {2 / threading:.2f}; against 1 worker on 1 thread the 2 "
          f"workers reach {parallel:.2f} (range {p_low:.2f}-{p_high:.2f}; 2.00 = no serial part)")
    contention = statistics.median(side_by_side)
    print(f"contention: run two at a time, the one-thread cells take {contention:.2f}x their time alone "
          f"(median of the per-repeat ratios of summed cell wall times; the cores share memory bandwidth "
          f"and cache), so the 2 workers can reach at most {2 / (threading * contention):.2f} against 1 "
          f"worker; the rest of the gap is the serial part (worker start, uneven last cells, the cube)")
    print(f"cells: {cell_wall:.1f} s of cell wall time, {train_time:.1f} s of it training "
          f"(medians; the rest: data, model build, curve evaluations, final test)")
    # within each 1-worker run: its wall time minus its own cells' wall time
    overhead = statistics.median(w - c for w, c in zip(ones, cell_walls))
    print(f"runner overhead with 1 worker: {overhead:.2f} s in all, {overhead / design.num_cells:.3f} s per cell = "
          f"{overhead / train_time:.1%} of the optimisation time, {overhead / cell_wall:.1%} of the cells' "
          f"wall time (medians; target <= 5%)")
    first_overhead = first - float(first_cube["wall_time_s"].sum())
    print(f"first run in this process: {first:.1f} s, runner overhead {first_overhead:.2f} s "
          f"(one-time imports included)")


if __name__ == "__main__":
    main()
