"""Faults a long study meets: evaluation settings, blown-up losses, dead workers,
failed and corrupt cells, signals, bad paths, file modes. Timing never decides
an outcome: cells that must be in flight block on a file until the test releases them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuroenergy import data, models
from neuroenergy.protocols.cli import main
from neuroenergy.results import RunStore, load_cube
from neuroenergy.train import fit
from tiny_specs import tiny_spec_text

REPO = Path(__file__).resolve().parents[1]
HELD_RUN = Path(__file__).resolve().parent / "held_run.py"



def _tiny(seeds: int) -> str:
    return tiny_spec_text(seeds=seeds, num_evals=4, train_limit=64)


def write_spec(tmp_path: Path, seeds: int = 1) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(_tiny(seeds))
    return path


def _mlp(seed: int = 0):
    info = data.info("mnist")
    torch.manual_seed(seed)
    return models.build("mlp", info.input_spec, info.num_classes, num_steps=4)


# -- training -------------------------------------------------------------------------------

def test_evaluation_settings_change_no_trained_weight():
    """The rate encoder draws during evaluations too; those draws come from their own
    stream, so eval_size and num_evals leave every trained weight bitwise the same."""
    train = data.load("mnist", "train", limit=200)
    test = data.load("mnist", "test", limit=100)
    settings = dict(epochs=1, batch_size=50, lr=2e-3, seed=5, device="cpu")
    weights = []
    for eval_size, num_evals in ((32, 4), (64, 4), (32, 2)):
        model = _mlp(5)
        result = fit(model, train, test, eval_size=eval_size, num_evals=num_evals, **settings)
        assert result.status == "ok" and result.steps == 4
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    for other in weights[1:]:
        assert other.keys() == weights[0].keys()
        for name in weights[0]:
            assert torch.equal(weights[0][name], other[name]), name


def test_a_blown_up_finite_loss_is_diverged_with_step_and_reason():
    train = data.load("mnist", "train", limit=400)
    test = data.load("mnist", "test", limit=50)
    result = fit(_mlp(), train, test, epochs=1, batch_size=50, optimizer="adam", lr=1e6, device="cpu",
                 eval_size=20, num_evals=2)
    assert result.status == "diverged"
    assert result.diverged_at_step is not None and 2 <= result.diverged_at_step <= 8
    assert f"at step {result.diverged_at_step} exceeds 100x the first step's" in result.message
    assert result.steps == result.diverged_at_step - 1


# -- runs interrupted at a known point (tests/held_run.py) ---------------------------------------

class HeldRun:
    """A run in its own process group whose cells of the seeds in ``hold`` wait to be released."""

    def __init__(self, tmp_path: Path, spec: Path, out: Path, hold: list[int], workers: int,
                 executor: str = "local") -> None:
        self.control = tmp_path / "control"
        self.control.mkdir(exist_ok=True)
        (self.control / "hold").write_text(" ".join(map(str, hold)))
        self.out = out
        env = {**os.environ, "HELD_RUN_CONTROL": str(self.control), "PYTHONPATH": str(REPO)}
        self.process = subprocess.Popen(
            [sys.executable, str(HELD_RUN), "run", str(spec), "--out", str(out), "--workers", str(workers),
             "--executor", executor, "--quiet"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def key(self, seed: int) -> str:
        return f"mlp__mnist__lam0.0__seed{seed}"

    def wait_held(self, seed: int, timeout_s: float = 300) -> int:
        """Block until the cell of ``seed`` is in flight and held; its process id."""
        marker = self.control / f"{self.key(seed)}.pid"
        import time

        deadline = time.monotonic() + timeout_s
        while not marker.exists():
            assert self.process.poll() is None, self.process.communicate()
            assert time.monotonic() < deadline, "the held cell never started"
            time.sleep(0.02)
        return int(marker.read_text())

    def release(self, seed: int) -> None:
        (self.control / f"{self.key(seed)}.go").touch()

    def finish(self, timeout_s: float = 300) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout_s)
        return self.process.returncode, out, err


@pytest.mark.slow
def test_a_killed_worker_loses_only_its_own_cell_which_is_retried(tmp_path):
    out = tmp_path / "run"
    run = HeldRun(tmp_path, write_spec(tmp_path, seeds=3), out, hold=[0, 1], workers=2)
    victim = run.wait_held(0)
    run.wait_held(1)
    os.kill(victim, signal.SIGKILL)  # as the OOM killer would: one worker, not the driver
    run.release(1)
    code, stdout, err = run.finish()
    assert code == 0, err
    assert "mlp__mnist__lam0.0__seed0: its worker process died (signal 9); trying again (attempt 2 of 3)" in err
    assert "3 cells: 3 ok; 3 run now" in stdout
    assert "Traceback" not in err
    assert (load_cube(out)["status"].values == "ok").all()


@pytest.mark.slow
def test_kill_minus_9_of_the_whole_run_loses_only_cells_in_flight(tmp_path):
    spec, out = write_spec(tmp_path, seeds=3), tmp_path / "run"
    run = HeldRun(tmp_path, spec, out, hold=[1], workers=1)
    run.wait_held(1)  # cell 0 is on disk (the driver runs cells in turn), cell 1 in flight
    os.killpg(run.process.pid, signal.SIGKILL)
    run.finish()
    finished = {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")}
    assert list(finished) == [f"{run.key(0)}.json"] and json.loads(finished[f"{run.key(0)}.json"])["status"] == "ok"
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    after = {p.name: p.read_bytes() for p in (out / "cells").glob("*.json")}
    assert len(after) == 3 and after[f"{run.key(0)}.json"] == finished[f"{run.key(0)}.json"]
    assert not list(out.glob(".*.tmp")) and not list((out / "cells").glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("how, code, words", [
    ("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGHUP", 129, "hung up (SIGHUP)")])
def test_signals_stop_like_ctrl_c_with_a_cube(tmp_path, how, code, words):
    out = tmp_path / "run"
    run = HeldRun(tmp_path, write_spec(tmp_path, seeds=3), out, hold=[1, 2], workers=2)
    run.wait_held(1)
    run.wait_held(2)  # cell 2 started after cell 0 finished: cell 0's record is on disk
    signum = getattr(signal, how)
    if signum == signal.SIGINT:
        os.killpg(run.process.pid, signum)  # Ctrl-C in a terminal signals the whole group
    else:
        os.kill(run.process.pid, signum)
    returncode, _, err = run.finish(timeout_s=60)
    assert returncode == code, err
    assert f"{words}: finished cells are saved" in err and "Traceback" not in err
    statuses = sorted(load_cube(out)["status"].values.ravel().tolist())
    assert statuses == ["missing", "missing", "ok"]


@pytest.mark.slow
def test_ctrl_c_on_the_dask_executor_keeps_finished_cells(tmp_path):
    out = tmp_path / "run"
    run = HeldRun(tmp_path, write_spec(tmp_path, seeds=3), out, hold=[1, 2], workers=2, executor="dask")
    run.wait_held(1)
    run.wait_held(2)
    os.killpg(run.process.pid, signal.SIGINT)
    returncode, _, err = run.finish(timeout_s=60)
    assert returncode == 130 and "Traceback" not in err, err
    assert sorted(load_cube(out)["status"].values.ravel().tolist()) == ["missing", "missing", "ok"]


# -- records on disk ------------------------------------------------------------------------

@pytest.mark.slow
def test_failed_and_corrupt_records_run_again_and_files_honour_the_umask(tmp_path, capsys):
    spec, out = write_spec(tmp_path, seeds=3), tmp_path / "run"
    old = os.umask(0o022)
    try:
        assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    cells = out / "cells"
    for path in [out / "spec.json", out / "cube.h5", *cells.glob("*.json")]:
        assert path.stat().st_mode & 0o777 == 0o644, path  # a colleague can read the run
    keys = sorted(p.stem for p in cells.glob("*.json"))
    kept = (cells / f"{keys[0]}.json").read_bytes()
    failed = json.loads((cells / f"{keys[1]}.json").read_text())
    failed["status"] = "failed"  # as a cell whose data root was missing would be
    (cells / f"{keys[1]}.json").write_text(json.dumps(failed))
    (cells / f"{keys[2]}.json").write_text("{")  # truncated by a full disk
    (cells / f".{keys[0]}.json.abc.tmp").write_text("half")  # an interrupted write
    assert main(["status", str(out)]) == 0
    assert "2/3 cells finished: 1 failed, 1 ok; 1 missing" in capsys.readouterr().out  # the corrupt one
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "3 cells: 3 ok; 2 run now (1 of them failed before and were retried), 1 already finished" \
        in captured.out
    assert f"{keys[2]}.json is corrupt" in captured.err and "its cell runs again" in captured.err
    moved = list((cells / "corrupt").glob(f"{keys[2]}.*.json"))
    assert len(moved) == 1 and moved[0].read_text() == "{"  # kept, not deleted
    assert (cells / f"{keys[0]}.json").read_bytes() == kept
    assert not list(cells.glob(".*.tmp"))
    assert (load_cube(out)["status"].values == "ok").all()


# -- one line, exit 2, for each mistake -----------------------------------------------------

def _one_line_error(capsys, argv: list[str], words: str, code: int = 2) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    # `run` may first say what it starts; then the error, one line, and nothing else
    assert err[-1].startswith("error: ") and words in err[-1], err
    assert len(err) == 1 or (len(err) == 2 and err[0].startswith("running ")), err


def test_bad_out_paths_and_report_targets_are_one_line(tmp_path, capsys):
    spec = write_spec(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for dry in ([], ["--dry-run"]):
        _one_line_error(capsys, ["run", str(spec), "--out", str(a_file), "--quiet", *dry], "is a file, not a directory")
        _one_line_error(capsys, ["run", str(spec), "--out", str(a_file / "run"), "--quiet", *dry],
                        "is a file, so no directory can be made under it")
    _one_line_error(capsys, ["report", str(tmp_path), "--to", str(a_file)], "the report needs a directory")


def test_corrupt_spec_json_and_cube_are_one_line_naming_the_file(tmp_path, capsys):
    spec, out = write_spec(tmp_path), tmp_path / "run"
    out.mkdir()
    (out / "spec.json").write_text('{"name": ')
    _one_line_error(capsys, ["status", str(out)], f"{out / 'spec.json'} is unreadable or corrupt")
    _one_line_error(capsys, ["run", str(spec), "--out", str(out), "--quiet"], "spec.json is unreadable or corrupt")
    assert main(["run", str(spec), "--out", str(out), "--quiet", "--force"]) == 0  # replaced, then run
    capsys.readouterr()
    for content in (b"", b"\x89HDF\r\n\x1a\n" + b"\x00" * 100):  # zero bytes; a truncated HDF5 file
        (out / "cube.h5").write_bytes(content)
        _one_line_error(capsys, ["stats", str(out)], f"{out / 'cube.h5'} is not a readable result cube")


def test_show_into_a_closed_pipe_says_nothing_more(tmp_path):
    result = subprocess.run(f"{sys.executable} -m neuroenergy.protocols show {write_spec(tmp_path)} | head -1",
                            shell=True, cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.startswith("protocol tiny") and len(result.stdout.splitlines()) == 1
    assert result.stderr == ""


@pytest.mark.slow
def test_a_full_disk_says_so_once_and_keeps_what_finished(tmp_path, capsys, monkeypatch):
    import errno

    from neuroenergy.results import store as store_module

    spec, out = write_spec(tmp_path, seeds=2), tmp_path / "run"
    real, writes = store_module.atomic_write_text, []

    def fill_up_at_the_second_record(path, text):
        if path.parent.name == "cells":
            writes.append(path)
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(store_module, "atomic_write_text", fill_up_at_the_second_record)
    _one_line_error(capsys, ["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"],
                    "no space left on device")
    assert [p.name for p in (out / "cells").glob("*.json")] == [writes[0].name]
    assert sorted(load_cube(out)["status"].values.ravel().tolist()) == ["missing", "ok"]


# -- a cell's identity includes its config ----------------------------------------------------

@pytest.mark.slow
def test_a_changed_config_reruns_its_cells_with_force_or_is_refused(tmp_path, capsys):
    from neuroenergy.protocols import load_spec
    from neuroenergy.protocols.cell import config_hash

    spec, out = write_spec(tmp_path, seeds=2), tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    design = load_spec(spec).design(None)
    cube = load_cube(out)
    for cell in design.cells():
        config = design.cell_config(cell)
        record = RunStore(out).read(cell.key)
        assert record["config_hash"] == config_hash(config) and record["config"]["training"]["lr"] == 2e-3
        assert str(cube["config_hash"].sel(architecture="mlp", dataset="mnist", lam=0.0, seed=cell.seed).values) \
            == config_hash(config)
    # the lr changes: refused without --force (the spec differs), re-run with it, never relabelled
    spec.write_text(spec.read_text().replace("lr = 2e-3", "lr = 5e-2"))
    _one_line_error(capsys, ["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"], "different spec")
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet", "--force"]) == 0
    assert "2 run now (2 re-run for a changed config), 0 already finished" in capsys.readouterr().out
    assert {RunStore(out).read(c.key)["config"]["training"]["lr"] for c in design.cells()} == {5e-2}
    # the same spec text but another code version (a record's hash differs): refused, or re-run with --force
    key = next(design.cells()).key
    record = RunStore(out).read(key)
    record["config_hash"] = "0" * 16
    RunStore(out).write(record)
    _one_line_error(capsys, ["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"],
                    "1 finished cells in")
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--dry-run"]) == 0
    assert "1 of 2 cells would run" in capsys.readouterr().out
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet", "--force"]) == 0
    assert "1 run now (1 re-run for a changed config), 1 already finished" in capsys.readouterr().out


# -- checked at load ---------------------------------------------------------------------------

@pytest.mark.parametrize("extra, words", [
    ("[models.mlp]\nbeta = 1.5\n", "[models.mlp] 'beta' must be a number in (0.0, 1.0], got 1.5"),
    ("[models.mlp]\nhidden = [-64]\n", "[models.mlp] 'hidden' must be"),
    ("[models.mlp]\nhiden = [64]\n", "[models.mlp] unknown key 'hiden'"),
])
def test_model_overrides_are_checked_at_load_naming_file_and_profile(tmp_path, capsys, extra, words):
    from neuroenergy.errors import ConfigError
    from neuroenergy.protocols import load_spec

    path = tmp_path / "tiny.toml"
    path.write_text(_tiny(1) + extra)
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    assert str(caught.value).startswith("tiny.toml (profile smoke): ") and words in str(caught.value)
    _one_line_error(capsys, ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"], words)
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_cuda_without_a_gpu_and_a_directory_as_spec_are_refused_at_load(tmp_path, capsys):
    from neuroenergy.errors import ConfigError
    from neuroenergy.protocols import load_spec

    _one_line_error(capsys, ["show", str(tmp_path)], "is a directory; pass a .toml file")
    path = tmp_path / "tiny.toml"
    path.write_text(_tiny(1).replace("[targets]", 'device = "cuda"\n[targets]'))
    if torch.cuda.is_available():
        assert load_spec(path).design(None).training["device"] == "cuda"
    else:
        with pytest.raises(ConfigError, match=r"tiny.toml \(profile smoke\): training.device is 'cuda' but"):
            load_spec(path)


def test_the_checksum_memo_catches_a_same_size_edit_with_its_mtime_restored(tmp_path):
    import hashlib
    import time

    from neuroenergy.data.sources import SourceFile, verify
    from neuroenergy.errors import ChecksumError

    path = tmp_path / "file.bin"
    path.write_bytes(b"original content")
    source = SourceFile("file.bin", sha256=hashlib.sha256(b"original content").hexdigest(), size=16)
    verify("toy", [(source, path)], tmp_path / "cache")  # hashed and remembered
    verify("toy", [(source, path)], tmp_path / "cache")  # remembered
    before = path.stat()
    time.sleep(0.01)  # past the file-system clock tick (coarse on some), so the edit gets a later ctime
    path.write_bytes(b"corrupt content!")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(ChecksumError, match="file.bin is corrupted"):
        verify("toy", [(source, path)], tmp_path / "cache")


_AFTER_PARALLEL_WORK = """
import sys, torch
from pathlib import Path
from neuroenergy.protocols import executors, load_spec, run_design
print("fresh", executors.forked_worker_threads(2))
torch.set_num_threads(2)
a = torch.randn(600, 600)
(a @ a).sum()  # torch's OpenMP pool now exists in this process
print("after", executors.forked_worker_threads(2))
executors.default_workers = lambda: 4  # as on a 4-core machine: 2 threads for each of 2 workers
design = load_spec(sys.argv[1]).design(None)
summary = run_design(load_spec(sys.argv[1]), design, Path(sys.argv[2]), workers=2, progress=False)
print("statuses", summary.statuses)
"""


def test_workers_forked_after_parallel_torch_work_run_single_threaded_instead_of_hanging(tmp_path):
    """GNU OpenMP does not survive fork: before this fix a 2-thread worker forked from a
    process that had run a 2-thread matmul deadlocked at its first parallel op."""
    script = tmp_path / "after.py"
    script.write_text(_AFTER_PARALLEL_WORK)
    # the timeout only keeps a regression from hanging the suite; a pass does not depend on it
    done = subprocess.run([sys.executable, str(script), str(write_spec(tmp_path, seeds=2)), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fresh 2" in done.stdout and "after 1" in done.stdout
    assert "statuses {'ok': 2}" in done.stdout
    assert "the 2 workers run 1 torch thread each instead of 2" in done.stderr
