"""``python -m neuroenergy.protocols {list,show,run,status,stats,report}``.

Exit status: 0 when every cell finished, 1 when some failed (the rest
finished), 2 for usage or input errors and unreadable or unwritable files
(one line on stderr, no traceback), 130 after Ctrl-C, 143 after SIGTERM,
129 after SIGHUP (each stops like Ctrl-C: finished cells kept, the cube
written with the rest ``missing``).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from neuroenergy.errors import NeuroEnergyError

__all__ = ["main"]

# For the cost estimate of `show`: one worker thread's throughput of an mlp on images in
# sample-time-steps per second, the mlp's cost per input kind relative to images, and each
# architecture's cost per sample relative to the mlp on the same input kind (by kind where it
# differs: the cnn's stride-1 convs on images, events and ECG, strided on audio and tokens).
# Calibrated on this machine from the quick factorial's cell times (126 cells, 2 workers); the
# cnn and transformer factors re-fitted on the quick efficiency protocol's 126 cells, run alone
# with today's code (the transformer's cheaper attention order, the cnn's blockwise convs).
_SAMPLE_STEPS_PER_CORE_S = 295_000.0
# A training sample costs a forward and a backward pass (3 forward-equivalents); the final
# test pass runs under measure()'s counting hooks, which about double a forward (fitted: it
# makes the quick factorial's whole-split MIT-BIH test agree with the efficiency protocol's
# 2,000-sample one).
_TRAIN_PASS_COST, _TEST_PASS_COST = 3.0, 2.0
_KIND_COST = {"image": 1.0, "events": 2.1, "signal": 1.0, "audio": 1.65, "tokens": 0.9}
_RELATIVE_COST: dict[str, float | dict[str, float]] = {
    "mlp": 1.0, "rnn": 1.5, "bimodal": 1.8, "lagrangian": 1.9, "lstm": 3.0,
    "transformer": {"image": 8.5, "events": 5.1, "signal": 8.5, "audio": 5.9, "tokens": 8.5},
    "cnn": {"image": 41.0, "events": 32.0, "signal": 105.0, "audio": 3.7, "tokens": 4.5},
}


def _relative_cost(architecture: str, kind: str) -> float:
    """Cost per sample-time-step of ``architecture`` on ``kind`` inputs, relative to an mlp on images."""
    cost = _RELATIVE_COST.get(architecture, 2.0)
    cost = cost.get(kind, max(cost.values())) if isinstance(cost, dict) else cost
    return cost * _KIND_COST.get(kind, 1.0)


def _parser(prog: str = "python -m neuroenergy.protocols") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run factorial studies (architecture x dataset x lambda x seed) into result cubes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list the built-in protocols", description="List the built-in protocols.")

    show = sub.add_parser("show", help="show a protocol's expanded design and estimated cost",
                          description="Show the expanded design: factors, levels, number of cells, settings, "
                                      "and a rough cost estimate.")
    show.add_argument("protocol", help="built-in name or path of a .toml spec")
    show.add_argument("--profile", help="profile (default: the spec's default_profile)")
    show.add_argument("--workers", type=int, help="workers to estimate the wall time for (default: CPU cores)")

    run = sub.add_parser("run", help="run a protocol (resumes an unfinished one)",
                         description="Run every cell of a protocol into --out. Re-running on the same --out "
                                     "resumes: finished cells are kept and not recomputed.")
    run.add_argument("protocol", help="built-in name or path of a .toml spec")
    run.add_argument("--profile", help="smoke | quick | paper (default: the spec's default_profile)")
    run.add_argument("--out", help="output directory (default: results/<protocol>-<profile>)")
    run.add_argument("--workers", type=int,
                     help="worker processes on this machine (default: number of CPU cores); with "
                          "--executor dask and a --scheduler, the cluster's workers decide instead")
    run.add_argument("--executor", choices=["local", "dask"], default="local",
                     help="where cells run: local worker processes (default), or a Dask cluster "
                          "(needs pip install 'neuroenergy[dask]')")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="with --executor dask: the cluster's scheduler, e.g. tcp://host:8786 (started "
                          "with `dask scheduler`, or by dask-jobqueue on Slurm/PBS); each worker needs "
                          "neuroenergy installed and NEUROENERGY_DATA set; without it, a local Dask "
                          "cluster of --workers processes")
    run.add_argument("--dry-run", action="store_true", help="list the cells that would run, run nothing")
    run.add_argument("--force", action="store_true", help="accept a changed spec on an existing --out")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    status = sub.add_parser("status", help="cells done / failed / missing in an output directory",
                            description="Show the progress of a run directory.")
    status.add_argument("out", help="output directory of a run")

    stats = sub.add_parser("stats", help="print the statistics tables of a run's cube",
                           description="Print ANOVA, best architectures, lambda sweep and efficiency tables.")
    stats.add_argument("out", help="output directory of a run (or a cube file)")

    report = sub.add_parser("report", help="write report.md and figures for one or more runs' cubes",
                            description="Write report.md and PNG figures. Give the run directories of a "
                                        "study's factorial, lambda_sweep and efficiency runs together for one "
                                        "report of the paper's three findings.")
    report.add_argument("out", nargs="+", help="output directories of runs (or cube files)")
    report.add_argument("--to", help="directory for the report (default: the first run directory)")
    return parser


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, turned into the same orderly stop as Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, frame) -> None:
    raise _Stopped(signum)


def main(argv: list[str] | None = None, *, prog: str = "python -m neuroenergy.protocols",
         extend=None) -> int:
    """Run one command; ``extend(subparsers)`` may add commands that set a ``handler`` default."""
    parser = _parser(prog)
    if extend is not None:
        extend(next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)))
    args = parser.parse_args(argv)
    previous = {}
    if _in_main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, _stop)
    try:
        handler = _COMMANDS.get(args.command) or args.handler
        return handler(args)
    except NeuroEnergyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, _Stopped) else signal.SIGINT
        print(f"{_SIGNAL_NAMES.get(signum, 'interrupted')}: finished cells are saved; run the same command "
              "again to resume", file=sys.stderr)
        return 128 + int(signum)
    except BrokenPipeError:
        # `show ... | head -1`: the reader left; say nothing more (stdout is gone)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        print(f"error: {_os_error_line(error)}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_SIGNAL_NAMES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)",
                 signal.SIGHUP: "hung up (SIGHUP)"}


def _in_main_thread() -> bool:
    """Signal handlers can only be set from the main thread."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _os_error_line(error: OSError) -> str:
    """One line for a file-system error: what failed, on which file, and what to do."""
    where = f": {error.filename}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return (f"no space left on device{where}; finished cells are saved, free some space and run the "
                "same command again to resume")
    return f"{error.strerror or error}{where}"


def _list(args) -> int:
    from neuroenergy.protocols.spec import list_protocols, load_spec

    for name in list_protocols():
        spec = load_spec(name)
        print(f"{name:14s} {spec.description}  [profiles: {', '.join(spec.profiles)}; "
              f"default {spec.default_profile}]")
    return 0


def _show(args) -> int:
    from neuroenergy.data import info
    from neuroenergy.models.config import ModelConfig
    from neuroenergy.protocols.executors import default_workers
    from neuroenergy.protocols.spec import load_spec

    spec = load_spec(args.protocol)
    design = spec.design(args.profile)
    t = design.training
    print(f"protocol {design.name} ({spec.path}), profile {design.profile}: {spec.description}")
    print(f"  architectures ({len(design.architectures)}): {', '.join(design.architectures)}")
    print(f"  datasets ({len(design.datasets)}): {', '.join(design.datasets)}")
    print(f"  lambda ({len(design.lams)}): {', '.join(f'{v:g}' for v in design.lams)}  "
          f"[energy term: {design.energy_term}]")
    print(f"  seeds ({len(design.seeds)}): {', '.join(map(str, design.seeds))}")
    print(f"  cells: {design.num_cells}")
    print(f"  training: {_budget_text(t)}, {t['optimizer']}, {t['num_evals']} curve evaluations, costs {t['costs']}")
    workers = args.workers or default_workers()
    print(f"  per dataset (budget; estimated CPU-core-minutes, wall minutes on {workers} workers):")
    total_core_s = 0.0
    for dataset in design.datasets:
        sizes = info(dataset).split_sizes
        core_s = 0.0
        budgets: dict[str, list[str]] = {}
        for arch in design.architectures:
            cfg = design.training_for(dataset, arch)
            n_train = min(sizes["train"], cfg.train_limit or sizes["train"])
            n_test = min(sizes["test"], cfg.test_limit or sizes["test"])
            steps = cfg.num_steps or ModelConfig.num_steps  # unset: the architectures' one default
            sample_steps = (n_train * cfg.epochs * _TRAIN_PASS_COST + n_test * _TEST_PASS_COST
                            + cfg.eval_size * cfg.num_evals) * steps
            core_s += (sample_steps * _relative_cost(arch, info(dataset).input_spec.kind) / _SAMPLE_STEPS_PER_CORE_S
                       * len(design.lams) * len(design.seeds))
            budgets.setdefault(_budget_text(cfg.to_dict(), sizes), []).append(arch)
        total_core_s += core_s
        shown = "; ".join(text if len(budgets) == 1 else f"{', '.join(archs)}: {text}"
                          for text, archs in budgets.items())
        print(f"    {dataset:14s} {shown}; ~{core_s / 60:.0f} core-min, ~{core_s / 60 / workers:.0f} min")
    print(f"  estimated cost: about {total_core_s / 60:.0f} CPU-core-minutes in total, about "
          f"{total_core_s / 60 / workers:.0f} minutes of wall time on {workers} workers (--workers); calibrated "
          f"on this project's 2-core machine, a guide rather than a promise")
    return 0


def _budget_text(t, sizes: dict[str, int] | None = None) -> str:
    """One line of a training budget (a TrainingConfig as a dict); with the dataset's split
    ``sizes``, a limit above a split's size says the whole split, with its size."""
    def subset(key: str, split: str) -> str:
        limit, size = t[key], (sizes or {}).get(split)
        if limit and (size is None or limit < size):
            return f"{limit:,} {split} samples"
        return f"the whole {split} split" + (f" ({size:,} samples)" if size is not None else "")

    limit, test = subset("train_limit", "train"), subset("test_limit", "test")
    steps = f"T = {t['num_steps']}" if t["num_steps"] else "T = the model's default"
    return f"{t['epochs']:g} epochs of {limit}, batch {t['batch_size']}, lr {t['lr']:g}, {steps}, {test}"


def _run(args) -> int:
    from neuroenergy.protocols.runner import run_design
    from neuroenergy.protocols.spec import load_spec

    spec = load_spec(args.protocol)
    design = spec.design(args.profile)
    out = Path(args.out) if args.out else Path("results") / f"{design.name}-{design.profile}"
    from neuroenergy.protocols.runner import check_out_dir

    check_out_dir(out)  # before anything is said or started; a dry run checks it too
    if args.dry_run:
        from neuroenergy.results.store import RunStore

        from neuroenergy.protocols.runner import plan

        todo, retried, changed = plan(RunStore(out), design, move_aside=False)
        for cell in todo:
            print(cell)
        notes = f"; {len(retried)} of them failed before" if retried else ""
        notes += f"; {len(changed)} of them finished with another config (run only with --force)" if changed else ""
        print(f"{len(todo)} of {design.num_cells} cells would run into {out}{notes} (dry run: nothing ran)")
        return 0
    where = f"Dask cluster at {args.scheduler}" if args.scheduler else f"{args.executor} executor"
    print(f"running {design.name} (profile {design.profile}): {design.num_cells} cells into {out} "
          f"on the {where}", file=sys.stderr)
    summary = run_design(spec, design, out, workers=args.workers, force=args.force, progress=not args.quiet,
                         executor=args.executor, scheduler=args.scheduler)
    print(summary)
    return summary.exit_code


def _status(args) -> int:
    import json

    from neuroenergy.results.store import RunStore

    store = RunStore(args.out)
    spec_text = store.read_spec()
    if spec_text is None:
        raise _not_a_run(args.out)
    design = json.loads(spec_text)
    total = len(design["architectures"]) * len(design["datasets"]) * len(design["lam"]) * len(design["seeds"])
    statuses = Counter(record["status"] for record in store.records(move_aside=False))
    done = sum(statuses.values())
    running = "running now" if store.is_locked() else "not running"
    print(f"{args.out}: protocol {design['name']} (profile {design['profile']}), {running}")
    print(f"  {done}/{total} cells finished: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
          + f"; {total - done} missing")
    cube = Path(args.out) / "cube.h5"
    print(f"  cube: {cube if cube.exists() else 'not written yet'}")
    return 0


def _not_a_run(path) -> NeuroEnergyError:
    from neuroenergy.errors import InvalidInputError

    return InvalidInputError(f"{path} is not a run directory (no spec.json); start one with `run`")


def _stats(args) -> int:
    from neuroenergy import stats
    from neuroenergy.results.cube import load_cube

    print(stats.format_tables(load_cube(args.out)))
    return 0


def _report(args) -> int:
    from neuroenergy import stats
    from neuroenergy.results.cube import load_cube

    sources = [Path(p) for p in args.out]
    first = sources[0]
    target = Path(args.to) if args.to else (first if first.is_dir() else first.parent)
    if target.exists() and not target.is_dir():
        from neuroenergy.errors import InvalidInputError

        raise InvalidInputError(f"--to {target} is a file; the report needs a directory")
    path = stats.write_report([load_cube(source) for source in sources], target)
    print(f"report written: {path}")
    return 0


_COMMANDS = {"list": _list, "show": _show, "run": _run, "status": _status, "stats": _stats, "report": _report}
