"""The CLI with chosen cells held in flight, for tests that interrupt a run at a
known point: ``HELD_RUN_CONTROL=DIR python tests/held_run.py CLI-ARGS...``.

A cell whose seed is listed in ``DIR/hold`` (whitespace-separated) writes
``DIR/<key>.pid`` (the pid of the process running it) when it starts and then
waits until ``DIR/<key>.go`` exists; only on its first attempt (a retried
cell runs straight through). The test waits for the ``.pid`` file, so what
is finished and what is in flight at the interruption is fixed, not timed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from neuroenergy.protocols import executors
from neuroenergy.protocols.cli import main

_run_cell = executors.run_cell


def _hold(config) -> None:  # a CellConfig
    control = Path(os.environ["HELD_RUN_CONTROL"])
    marker = control / f"{config.key}.pid"
    if str(config.seed) not in (control / "hold").read_text().split() or marker.exists():
        return
    partial = control / f".{config.key}.pid.part"
    partial.write_text(str(os.getpid()))
    partial.rename(marker)  # whole or absent: the test reads the pid at once
    release = control / f"{config.key}.go"
    while not release.exists():
        time.sleep(0.01)


def held_cell(config) -> dict:
    _hold(config)
    return _run_cell(config)


def held_dask_cell(config) -> dict:
    # runs on a Dask worker (sent by value, as a function of __main__), where
    # the executors module is not patched
    from neuroenergy.protocols.executors import _run_cell_on_dask_worker

    _hold(config)
    return _run_cell_on_dask_worker(config)


if __name__ == "__main__":
    executors.run_cell = held_cell
    executors._run_cell_on_dask_worker = held_dask_cell
    sys.exit(main(sys.argv[1:]))
