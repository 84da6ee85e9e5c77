"""Start-up time of the ``neuroenergy`` console script: ``--help`` of every command.

Target: under 0.5 s each (lazy imports: nothing imports torch or xarray
before a command runs). Each case is a fresh interpreter; cases are
interleaved over ``--repeats`` rounds and the median is reported, beside
``python -c pass`` (the interpreter's own start-up) for scale.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_cli.py --repeats 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": ["-c", "pass"],
    "neuroenergy --help": ["-m", "neuroenergy", "--help"],
    "neuroenergy run --help": ["-m", "neuroenergy", "run", "--help"],
    "neuroenergy data --help": ["-m", "neuroenergy", "data", "--help"],
    "neuroenergy data fetch --help": ["-m", "neuroenergy", "data", "fetch", "--help"],
    "python -m neuroenergy.protocols --help": ["-m", "neuroenergy.protocols", "--help"],
}
TARGET_S = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, argv in CASES.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL, env=os.environ)
            times[name].append(time.perf_counter() - start)
    worst = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        if name != "python -c pass":
            worst = max(worst, median)
        print(f"{name:40s} median {median:6.3f} s  (min {min(values):.3f}, max {max(values):.3f}, "
              f"{args.repeats} repeats)")
    print(f"slowest --help: {worst:.3f} s (target < {TARGET_S} s): {'ok' if worst < TARGET_S else 'SLOW'}")
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
