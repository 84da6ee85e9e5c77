"""Run a design: cells on an executor (local worker processes or a Dask
cluster, see :mod:`neuroenergy.protocols.executors`), each record persisted
the moment it finishes, the cube assembled at the end (and on interruption).

The driver is the only writer of the output directory. Re-running on the
same directory resumes: finished cells (``ok`` or ``diverged``) are skipped,
never recomputed; ``failed`` cells and cells whose record was corrupt run
again (the summary line says how many were retried). A cell's identity is
its factors plus the hash of its resolved config (``cell.config_hash``): a
finished cell whose config changed (the spec, or the package version) is
refused, or re-run with ``--force`` — never kept under the new label.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import xarray as xr

from neuroenergy.errors import ConfigError, InvalidInputError
from neuroenergy.protocols.executors import EXECUTORS, default_workers, run_dask, run_local
from neuroenergy.protocols.cell import record_matches_config
from neuroenergy.protocols.spec import Cell, Design, ProtocolSpec
from neuroenergy.results.cube import build_cube, write_cube
from neuroenergy.results.store import FINISHED_STATUSES, RunStore

__all__ = ["run_design", "RunSummary", "assemble_cube", "default_workers", "check_out_dir", "plan"]


@dataclass(frozen=True)
class RunSummary:
    """What a ``run`` did: counts by status over the whole design."""

    total: int
    skipped: int
    ran: int
    statuses: dict[str, int]
    cube_path: Path
    wall_time_s: float
    retried: int = 0  #: of ``ran``: cells that had failed in an earlier run
    changed: int = 0  #: of ``ran``: finished cells re-run because their config changed (``--force``)

    @property
    def exit_code(self) -> int:
        """0: every cell finished; 1: some failed or are missing, the rest finished."""
        return 0 if self.statuses.get("failed", 0) == 0 and self.statuses.get("missing", 0) == 0 else 1

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        notes = [f"{self.retried} of them failed before and were retried"] if self.retried else []
        notes += [f"{self.changed} re-run for a changed config"] if self.changed else []
        retried = f" ({'; '.join(notes)})" if notes else ""
        return (f"{self.total} cells: {parts}; {self.ran} run now{retried}, {self.skipped} already finished; "
                f"{self.wall_time_s:.1f} s; cube: {self.cube_path}")


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
    # neuroenergy's own source tree only ("none" for a wheel install), with its dirty flag
    from neuroenergy.provenance import source_tree

    tree = source_tree()
    if tree["git_commit"] is None:
        return "none (not a neuroenergy source checkout)"
    return tree["git_commit"] + ("-dirty" if tree["git_dirty"] else "")


def assemble_cube(spec: ProtocolSpec, design: Design, store: RunStore) -> Path:
    """Build the cube of ``design`` from the store's records and write it atomically."""
    return write_cube(_build_cube(spec, design, store), store.directory / "cube.h5")


def _build_cube(spec: ProtocolSpec, design: Design, store: RunStore) -> xr.Dataset:
    from neuroenergy import data, models

    attrs = {
        "protocol": design.name, "profile": design.profile, "spec": spec.text,
        "design": design.to_json(), "costs": design.training["costs"],
        "costs_description": _cost_description(design.training["costs"]),
        "energy_term": design.energy_term, "energy_norm": design.energy_norm,
        "package_versions": _versions(), "git_commit": _git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": ("energies are estimates per sample from the energy model in costs (compute only for a cost "
                 "table; lemaire-2022 adds addressing and memory), not hardware readings"),
    }
    return build_cube(
        store.records(), architectures=design.architectures, datasets=design.datasets, lams=design.lams,
        seeds=design.seeds, families={a: models.family_of(a) for a in design.architectures},
        modalities={d: data.info(d).modality for d in design.datasets},
        targets={d: design.target_for(d) for d in design.datasets}, attrs=attrs,
        num_classes={d: data.info(d).num_classes for d in design.datasets},
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
    executor: str = "local",
    scheduler: str | None = None,
) -> RunSummary:
    """Run every unfinished cell of ``design`` into ``out``; returns the summary.

    ``executor``: ``"local"`` (``workers`` processes on this machine) or
    ``"dask"`` (the Dask cluster at ``scheduler``, or a local one of
    ``workers`` processes without it). Raises StoreLockedError if another run
    holds ``out``, ConfigError if ``out`` belongs to a different spec (unless
    ``force``).
    """
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {workers}")
    if executor not in EXECUTORS:
        raise InvalidInputError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise InvalidInputError("a scheduler address applies to --executor dask only")
    started = time.perf_counter()
    check_out_dir(out)
    store = RunStore(out)
    store.lock()
    try:
        store.bind_spec(design.to_json(), force=force)
        store.remove_stale_temporaries()
        cells = list(design.cells())
        todo, retried, changed = plan(store, design)
        if changed and not force:
            raise ConfigError(
                f"{len(changed)} finished cells in {store.directory} were trained with another config than "
                f"this spec and package version give them (e.g. {changed[0]}); --force re-runs them with "
                "this one, or choose another --out")
        retried = len(retried)
        bar = _progress_bar(len(cells), len(cells) - len(todo), enabled=progress)
        try:
            if todo:
                def on_record(record: dict[str, Any]) -> None:
                    _record_done(store, record, bar)

                def on_running(running) -> None:
                    bar.set_postfix_str(", ".join(str(c) for c in running))

                if executor == "dask":
                    run_dask(design, todo, workers, on_record, on_running, scheduler=scheduler)
                else:
                    run_local(design, todo, workers, on_record, on_running)
        except BaseException:
            # Ctrl-C, a signal, a full disk: write the cube of what finished (the rest
            # `missing`) if that still works, and report the first error, not this one
            bar.close()
            try:
                write_cube(_build_cube(spec, design, store), store.directory / "cube.h5")
            except (OSError, KeyboardInterrupt):  # e.g. the same full disk: the previous cube stays
                pass
            raise
        bar.close()
        cube = _build_cube(spec, design, store)
        cube_path = write_cube(cube, store.directory / "cube.h5")
        # The cube spans the whole design, missing cells included: count statuses there.
        statuses = Counter(str(s) for s in cube["status"].values.ravel())
        return RunSummary(len(cells), len(cells) - len(todo), len(todo), dict(statuses), cube_path,
                          time.perf_counter() - started, retried, len(changed))
    finally:
        store.unlock()


def plan(store: RunStore, design: Design, move_aside: bool = True) -> tuple[list[Cell], list[Cell], list[Cell]]:
    """What a run of ``design`` into ``store`` does: ``(todo, retried, changed)``.

    ``todo``: every cell without a final (ok / diverged) record trained with the
    cell's current config; ``retried``: those of them with a ``failed`` record;
    ``changed``: those with a final record of another config (run only with --force).
    Corrupt records are moved aside (unless not ``move_aside``) and their cells run.
    """
    records = {r["key"]: r for r in store.records(move_aside)}
    todo, retried, changed = [], [], []
    for cell in design.cells():
        record = records.get(cell.key)
        if record is not None and record["status"] in FINISHED_STATUSES:
            if record_matches_config(record, design.cell_config(cell)):
                continue
            changed.append(cell)
        elif record is not None:
            retried.append(cell)
        todo.append(cell)
    return todo, retried, changed


def check_out_dir(out: str | os.PathLike) -> None:
    """Raise InvalidInputError (one line) unless ``out`` is, or can become, a run directory
    this process can write: not a file, not under a file, writable."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"--out {path} is a file, not a directory; choose a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInputError(f"--out {path}: {existing} is a file, so no directory can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInputError(f"--out {path}: {existing} is not writable by this user; choose another --out")
    if existing == path and (path / "cells").is_dir() and not os.access(path / "cells", os.W_OK | os.X_OK):
        raise InvalidInputError(f"--out {path}: its cells/ directory is not writable by this user "
                                "(another user's run?); choose another --out")


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
