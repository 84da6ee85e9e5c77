"""Where cells run: ``local`` worker processes or a ``dask`` cluster.

An executor only runs ``run_cell(config)`` and hands each record back to the
driver the moment it finishes (``on_record``); the driver stays the only
writer of the run directory, whatever the executor. Both keep one cell in
flight per worker process, so an interrupted run has little in flight to
lose.

* ``local``: processes on this machine, ``min(workers, cells)`` of them,
  torch threads per process = cores // processes (no oversubscription). A
  worker process that dies (a signal, the OOM killer) loses only its own
  cell, which is tried again in a fresh process, :data:`MAX_ATTEMPTS` times
  in all.
* ``dask``: a ``dask.distributed`` cluster. With a scheduler address (a
  cluster started elsewhere: ``dask scheduler`` + ``dask worker``, or
  dask-jobqueue on Slurm/PBS) the cells run on its workers; without one, a
  local Dask cluster of ``workers`` processes is started and closed again.
  Each worker process runs one cell at a time (cells seed torch's
  process-wide random generator) with as many torch threads as it has Dask
  threads — by Dask's default, its share of the machine's cores. Workers
  that join later (a batch queue starting them) get cells as they come.
  Workers import ``neuroenergy`` and read the data themselves, so each
  needs the package installed and the data reachable (``NEUROENERGY_DATA``
  in the worker's environment).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any

from neuroenergy.errors import ConfigError, InvalidInputError
from neuroenergy.protocols.cell import run_cell
from neuroenergy.protocols.spec import Cell, CellConfig, Design
from neuroenergy.results.store import CellRecord

__all__ = ["EXECUTORS", "default_workers", "run_local", "run_dask", "local_dask_cluster"]

#: What ``--executor`` accepts.
EXECUTORS = ("local", "dask")

OnRecord = Callable[[dict[str, Any]], None]
OnRunning = Callable[[Sequence[Cell]], None]


def default_workers() -> int:
    """The cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _native_threads() -> int:
    """OS threads of this process that Python did not start (a thread pool of torch's
    OpenMP runtime, for one); -1 where the kernel does not say (no ``/proc``)."""
    try:
        return len(os.listdir("/proc/self/task")) - threading.active_count()
    except OSError:
        return -1


#: Native threads a process holds before any parallel torch work (torch starts one of its
#: own at import); more than this means an intra-op thread pool exists.
_NATIVE_THREADS_AT_REST = 1


def forked_worker_threads(threads: int) -> int:
    """Torch threads a forked worker may use: ``threads``, or 1 once this process has run
    parallel torch work.

    GNU OpenMP does not survive ``fork``: a child of a process whose OpenMP thread
    pool exists hangs at its first parallel region with more than one thread
    (measured: a 2-thread matmul after the parent's deadlocks). A forked worker
    is therefore single-threaded then; a fresh process (the CLI) keeps them all.
    """
    native = _native_threads()
    if threads > 1 and (native < 0 or native > _NATIVE_THREADS_AT_REST):
        return 1
    return threads


def _set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def _init_local_worker(threads: int) -> None:
    # A worker must not outlive its driver (kill -9 of the driver) nor
    # oversubscribe the cores with its own thread pool.
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and a hang-up,
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # and stops the workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # how the driver stops a busy worker (not the CLI's handler)
    _set_torch_threads(threads)


#: Attempts a cell gets when the worker process running it dies (killed by a
#: signal, e.g. the OOM killer): after the third death in a row it is
#: recorded ``failed`` (and runs again on the next run). A cell that raises
#: is not retried: it is recorded ``failed`` at once, with its error.
MAX_ATTEMPTS = 3


def run_local(design: Design, todo: list[Cell], workers: int, on_record: OnRecord, on_running: OnRunning) -> None:
    """Run ``todo`` in ``min(workers, len(todo))`` local processes (in this process when 1).

    Each worker process runs one cell at a time and is told which; a worker
    that dies loses only its own cell, which goes back to the queue (up to
    :data:`MAX_ATTEMPTS` attempts) while a fresh process takes its place.
    """
    workers = min(workers, len(todo))
    if workers <= 1:
        for cell in todo:
            on_running([cell])
            on_record(run_cell(design.cell_config(cell)))
        return
    # fork: workers start at once with the driver's imports (torch, data caches);
    # the driver has run no parallel torch work before the workers start.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    threads = max(1, default_workers() // workers)
    if method == "fork" and forked_worker_threads(threads) < threads:
        print(f"this process already ran parallel torch work, and OpenMP's threads do not survive fork: "
              f"the {workers} workers run 1 torch thread each instead of {threads} (start a fresh "
              "process, e.g. the neuroenergy CLI, to use them all)", file=sys.stderr)
        threads = 1
    pool = _WorkerPool(multiprocessing.get_context(method), workers, threads)
    try:
        pool.drain(design, todo, on_record, on_running)
    finally:
        pool.close()


class _Worker:
    """One worker process and the driver's end of its pipe."""

    def __init__(self, context, threads: int, number: int) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, threads), daemon=True,
                                       name=f"neuroenergy-worker-{number}")
        try:
            self.process.start()
        except OSError as error:  # e.g. EAGAIN under a process limit (ulimit -u)
            self.connection.close()
            raise ConfigError(f"cannot start worker process {number}: {error}; "
                              f"run with fewer --workers") from None
        finally:
            child.close()  # the driver's copy: the pipe reads EOF when the worker dies
        self.cell: Cell | None = None


def _worker_main(connection, threads: int) -> None:
    """A worker process: run each config the driver sends, send back its record."""
    _init_local_worker(threads)
    while True:
        try:
            config = connection.recv()
        except (EOFError, OSError):  # the driver is gone
            return
        if config is None:
            return
        connection.send(run_cell(config))


class _WorkerPool:
    """Local worker processes, one cell in flight each; never more processes than cells."""

    def __init__(self, context, workers: int, threads: int) -> None:
        self.context, self.threads, self.size, self.started = context, threads, workers, 0
        self.workers: list[_Worker] = []
        #: processes told to leave before close(): joined there (they are gone by then, as a rule)
        self.released: list = []
        for _ in range(workers):
            self._start()

    def _start(self) -> _Worker:
        self.started += 1
        worker = _Worker(self.context, self.threads, self.started)
        self.workers.append(worker)
        return worker

    def drain(self, design: Design, todo: list[Cell], on_record: OnRecord, on_running: OnRunning) -> None:
        queue = list(todo)
        attempts: dict[str, int] = {}
        while queue or any(w.cell is not None for w in self.workers):
            for worker in list(self.workers):
                if worker.cell is None and not queue:
                    # nothing left for it: let it go now, so it frees its memory (data, model)
                    # while the others finish and close() has only the last to wait for
                    self._release(worker)
                    continue
                if worker.cell is None:
                    worker.cell = queue.pop(0)
                    attempts[worker.cell.key] = attempts.get(worker.cell.key, 0) + 1
                    try:
                        worker.connection.send(design.cell_config(worker.cell))
                    except OSError:  # it died while idle: its sentinel says so below, and the cell goes back
                        pass
            busy = [w for w in self.workers if w.cell is not None]
            on_running([w.cell for w in busy])
            ready = set(multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.connection not in ready and worker.process.sentinel not in ready:
                    continue
                cell, record = worker.cell, self._receive(worker)
                worker.cell = None
                if record is not None:
                    on_record(record)
                    continue
                # the worker died with the cell: replace it, retry the cell
                worker.process.join()
                code = worker.process.exitcode
                how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                self.workers.remove(worker)
                worker.connection.close()
                if attempts[cell.key] < MAX_ATTEMPTS:
                    print(f"{cell.key}: its worker process died ({how}); trying again "
                          f"(attempt {attempts[cell.key] + 1} of {MAX_ATTEMPTS})", file=sys.stderr)
                    queue.insert(0, cell)
                else:
                    on_record(_failed_record(cell, f"its worker process died ({how}, e.g. the OOM killer) "
                                                   f"on each of {MAX_ATTEMPTS} attempts"))
                if queue and len(self.workers) < self.size:
                    self._start()

    def _release(self, worker: _Worker) -> None:
        """Tell an idle worker to leave and forget it (it exits by itself; close() need not wait)."""
        try:
            worker.connection.send(None)
        except OSError:  # already gone
            pass
        worker.connection.close()
        self.workers.remove(worker)
        self.released.append(worker.process)

    @staticmethod
    def _receive(worker: _Worker) -> dict[str, Any] | None:
        """The worker's record, or None when it died before sending one."""
        try:
            return worker.connection.recv() if worker.connection.poll() else None
        except (EOFError, OSError):
            return None

    def close(self) -> None:
        """Stop every worker: idle ones are told to leave, busy ones (after Ctrl-C or a
        driver error; their cells are not finished) are terminated."""
        for worker in self.workers:
            try:
                if worker.cell is None:
                    worker.connection.send(None)
                else:
                    worker.process.terminate()
            except OSError:
                worker.process.terminate()
        for process in [w.process for w in self.workers] + self.released:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        for worker in self.workers:
            worker.connection.close()
        self.workers.clear()
        self.released.clear()


def _failed_record(cell: Cell, error: str) -> dict[str, Any]:
    return CellRecord(key=cell.key, architecture=cell.architecture, dataset=cell.dataset, lam=cell.lam,
                      seed=cell.seed, error=error).to_dict()


def run_dask(design: Design, todo: list[Cell], workers: int, on_record: OnRecord, on_running: OnRunning,
             scheduler: str | None = None, connect_timeout_s: float = 10.0) -> None:
    """Run ``todo`` on a Dask cluster: the one at ``scheduler`` (an address such as
    ``tcp://host:8786``), or, without one, a local cluster of ``workers`` processes."""
    try:
        from distributed import Client, WorkerPlugin
    except ImportError:
        raise ConfigError("--executor dask needs dask.distributed, which is not installed: "
                          "pip install 'neuroenergy[dask]'") from None

    class IgnoreInterrupt(WorkerPlugin):
        """A local cluster's workers leave Ctrl-C to the driver, as local workers
        do (it closes them), instead of each printing a traceback."""

        def setup(self, worker) -> None:
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:  # not the main thread of a process: a threads-only cluster
                pass

    cluster = None
    try:
        if scheduler is None:
            cluster = local_dask_cluster(max(1, min(workers, len(todo))))  # never more processes than cells
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=connect_timeout_s)
    except (OSError, TimeoutError, ValueError) as error:
        if cluster is not None:
            cluster.close()
        where = f"the Dask scheduler at {scheduler!r}" if scheduler else "a local Dask cluster"
        raise InvalidInputError(f"cannot start or reach {where}: {type(error).__name__}: {error}") from None
    pool: Executor | None = None
    try:
        if cluster is not None:
            client.register_plugin(IgnoreInterrupt(), name="neuroenergy-ignore-interrupt")
        if not client.nthreads():
            # a batch queue (dask-jobqueue) may take long to start workers: wait, Ctrl-C stops
            on_running([])
            print(f"waiting for the first Dask worker to join {scheduler}", file=sys.stderr)
            client.wait_for_workers(1)
        trimming = {value for value in client.run(_malloc_trim_threshold).values() if value}
        if trimming:
            print(f"warning: Dask workers run with MALLOC_TRIM_THRESHOLD_={', '.join(sorted(trimming))} (Dask's "
                  f"default), which slows CPU training about 1.5x; start them with a Dask config file "
                  f"(e.g. ~/.config/dask/neuroenergy.yaml) that says {_TRIM_YAML}", file=sys.stderr)
        pool = client.get_executor(pure=False)
        # one cell in flight per worker process, counted afresh as cells finish: workers may come and go
        _drain(pool, _run_cell_on_dask_worker, design, todo, lambda: max(1, len(client.nthreads())),
               on_record, on_running)
    finally:
        if pool is not None:
            pool.shutdown(wait=False)  # cancels cells still queued or running (after Ctrl-C)
        client.close()
        if cluster is not None:
            cluster.close()


#: Dask's setting for a variable of its worker processes' environment (None
#: removes it), and the same in a Dask config file: a DASK_... environment
#: variable cannot do it, as Dask lower-cases the names it reads there.
_TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
_TRIM_YAML = "{distributed: {nanny: {pre-spawn-environ: {MALLOC_TRIM_THRESHOLD_: null}}}}"


def local_dask_cluster(workers: int):
    """A ``distributed.LocalCluster`` of ``workers`` processes sharing this machine's cores.

    Dask starts its worker processes with MALLOC_TRIM_THRESHOLD_=65536: memory
    goes back to the OS at once, and every large tensor then costs fresh page
    faults (a cnn cell trains ~1.5x slower). These run with glibc's default, as
    local workers do.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({_TRIM_KEY: None}):
        return LocalCluster(n_workers=workers, threads_per_worker=max(1, default_workers() // workers),
                            processes=True, dashboard_address=None, silence_logs=logging.ERROR)


def _malloc_trim_threshold() -> str | None:
    """In a worker process: its MALLOC_TRIM_THRESHOLD_ (a function of this module,
    so that it reads the worker's environment, not a pickled copy of ours)."""
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


#: Cells seed torch's random generator, which is process-wide: two cells at
#: once in one process (a Dask worker with several threads) would not be
#: reproducible. Within a process they take turns.
_ONE_CELL_AT_A_TIME = threading.Lock()


def _run_cell_on_dask_worker(config: CellConfig) -> dict[str, Any]:
    """``run_cell`` on a Dask worker: one cell at a time per process, on as many
    torch threads as the worker has Dask threads."""
    from distributed import get_worker

    with _ONE_CELL_AT_A_TIME:
        # set in the thread that runs the cell: torch's OpenMP thread count is
        # per calling thread, and Dask runs tasks in threads of its own
        _set_torch_threads(get_worker().state.nthreads)
        return run_cell(config)


#: Seconds between checks for new workers while every cell in flight is still running.
_POLL_S = 5.0


def _drain(pool: Executor, fn: Callable[[CellConfig], dict[str, Any]], design: Design, todo: list[Cell],
           slots: Callable[[], int], on_record: OnRecord, on_running: OnRunning) -> None:
    """Submit ``fn(config)`` for ``todo`` keeping ``slots()`` cells in flight; hand back
    each record as it finishes."""
    pending: dict[Future, Cell] = {}
    queue = list(todo)
    while queue or pending:
        capacity = slots()
        while queue and len(pending) < capacity:
            cell = queue.pop(0)
            pending[pool.submit(fn, design.cell_config(cell))] = cell
        on_running(list(pending.values()))
        # wake now and then even when nothing finished: a worker that joined gets a cell at once
        done, _ = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
        for future in done:
            cell = pending.pop(future)
            try:
                record = future.result()
            except Exception as error:  # the worker process itself died
                # (Dask itself retries a cell whose worker died, up to its
                # distributed.scheduler.allowed-failures; the next run retries it again)
                record = _failed_record(cell, f"the executor could not run the cell (worker died or failed): "
                                              f"{type(error).__name__}: {error}")
            on_record(record)
