"""Run a design: cells in worker processes, each record persisted the moment it
finishes, the cube assembled at the end (and on interruption).

The driver is the only writer of the output directory. Re-running on the
same directory resumes: finished cells are skipped, never recomputed.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xarray as xr

from neuroenergy.errors import InvalidInputError
from neuroenergy.protocols.cell import run_cell
from neuroenergy.protocols.spec import Cell, Design, ProtocolSpec
from neuroenergy.results.cube import build_cube, write_cube
from neuroenergy.results.store import RunStore

__all__ = ["run_design", "RunSummary", "assemble_cube", "default_workers"]


@dataclass(frozen=True)
class RunSummary:
    """What a ``run`` did: counts by status over the whole design."""

    total: int
    skipped: int
    ran: int
    statuses: dict[str, int]
    cube_path: Path
    wall_time_s: float

    @property
    def exit_code(self) -> int:
        """0: every cell finished; 1: some failed or are missing, the rest finished."""
        return 0 if self.statuses.get("failed", 0) == 0 and self.statuses.get("missing", 0) == 0 else 1

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return (f"{self.total} cells: {parts}; {self.ran} run now, {self.skipped} already finished; "
                f"{self.wall_time_s:.1f} s; cube: {self.cube_path}")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    # A worker must not outlive its driver (kill -9 of the driver) nor
    # oversubscribe the cores with its own thread pool.
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C
    import torch

    torch.set_num_threads(threads)


def _versions() -> dict[str, str]:
    versions = {}
    for package in ("neuroenergy", "torch", "snntorch", "numpy", "xarray", "tonic"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["python"] = sys.version.split()[0]
    return versions


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def assemble_cube(spec: ProtocolSpec, design: Design, store: RunStore) -> Path:
    """Build the cube of ``design`` from the store's records and write it atomically."""
    return write_cube(_build_cube(spec, design, store), store.directory / "cube.h5")


def _build_cube(spec: ProtocolSpec, design: Design, store: RunStore) -> xr.Dataset:
    from neuroenergy import data, models

    attrs = {
        "protocol": design.name, "profile": design.profile, "spec": spec.text,
        "design": design.to_json(), "costs": design.training["costs"],
        "costs_description": _cost_description(design.training["costs"]),
        "energy_term": design.energy_term, "package_versions": _versions(), "git_commit": _git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": "energies are compute-only estimates per sample from the cost table, not hardware readings",
    }
    return build_cube(
        store.records(), architectures=design.architectures, datasets=design.datasets, lams=design.lams,
        seeds=design.seeds, families={a: models.family_of(a) for a in design.architectures},
        modalities={d: data.info(d).modality for d in design.datasets},
        targets={d: design.target_for(d) for d in design.datasets}, attrs=attrs,
    )


def _cost_description(name: str) -> str:
    from neuroenergy.energy.costs import get_cost_table

    return get_cost_table(name).describe()


def run_design(
    spec: ProtocolSpec,
    design: Design,
    out: str | os.PathLike,
    *,
    workers: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Run every unfinished cell of ``design`` into ``out``; returns the summary.

    Raises StoreLockedError if another run holds ``out``, ConfigError if ``out``
    belongs to a different spec (unless ``force``).
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {workers}")
    started = time.perf_counter()
    store = RunStore(out)
    store.lock()
    try:
        store.bind_spec(design.to_json(), force=force)
        cells = list(design.cells())
        finished = store.keys()
        todo = [c for c in cells if c.key not in finished]
        bar = _progress_bar(len(cells), len(cells) - len(todo), enabled=progress)
        try:
            if todo:
                _execute(design, todo, store, bar, workers)
        finally:
            bar.close()
            cube = _build_cube(spec, design, store)
            cube_path = write_cube(cube, store.directory / "cube.h5")
        # The cube spans the whole design, missing cells included: count statuses there.
        statuses = Counter(str(s) for s in cube["status"].values.ravel())
        return RunSummary(len(cells), len(cells) - len(todo), len(todo), dict(statuses), cube_path,
                          time.perf_counter() - started)
    finally:
        store.unlock()


def _progress_bar(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="cell", desc="cells", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True, smoothing=0.1,
                bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining} {postfix}")


def _record_done(store: RunStore, record: dict[str, Any], bar) -> None:
    store.write(record)
    bar.update(1)
    if record["status"] != "ok":
        bar.write(f"{record['key']}: {record['status']}: {record.get('error', '')}", file=sys.stderr)


def _execute(design: Design, todo: list[Cell], store: RunStore, bar, workers: int) -> None:
    if workers == 1:
        for cell in todo:
            bar.set_postfix_str(str(cell))
            _record_done(store, run_cell(design.cell_config(cell)), bar)
        return
    threads = max(1, default_workers() // workers)
    # fork: workers start at once with the driver's imports (torch, data caches);
    # the driver has run no parallel torch work before the pool starts.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(threads,))
    try:
        _drain(pool, design, todo, store, bar, workers)
    except BaseException:
        # Ctrl-C or a driver error: don't wait for cells in flight (they die with the driver);
        # every finished cell is already on disk.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()  # otherwise interpreter exit waits for the cells in flight
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _drain(pool: ProcessPoolExecutor, design: Design, todo: list[Cell], store: RunStore, bar, workers: int) -> None:
    pending: dict[Future, Cell] = {}
    queue = list(todo)
    while queue or pending:
        while queue and len(pending) < workers:
            cell = queue.pop(0)
            pending[pool.submit(run_cell, design.cell_config(cell))] = cell
        bar.set_postfix_str(", ".join(str(c) for c in pending.values()))
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            cell = pending.pop(future)
            try:
                record = future.result()
            except Exception as error:  # the worker process itself died
                record = {"key": cell.key, "architecture": cell.architecture, "dataset": cell.dataset,
                          "lam": cell.lam, "seed": cell.seed, "status": "failed",
                          "error": f"worker died: {type(error).__name__}: {error}", "metrics": {}, "curve": {}}
            _record_done(store, record, bar)
