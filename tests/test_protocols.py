"""Protocol specs, the runner, resume after kill -9, and the result cube, on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neuroenergy.errors import ConfigError, InvalidInputError, UnknownNameError
from neuroenergy.protocols import list_protocols, load_spec
from neuroenergy.protocols.cli import main
from neuroenergy.protocols.executors import default_workers
from neuroenergy.results import RunStore, load_cube
from tiny_specs import tiny_spec_text, write_tiny_spec




def write_spec(tmp_path: Path, name: str = "tiny.toml", lam: str = "[0.0]", seeds: int = 1,
               train_limit: int = 128, extra: str = "") -> Path:
    return write_tiny_spec(tmp_path, name, extra, lam=lam, seeds=seeds, train_limit=train_limit)


def test_builtin_protocols_load_with_all_profiles():
    assert {"factorial", "lambda_sweep", "efficiency", "smoke"} <= set(list_protocols())
    factorial = load_spec("factorial")
    assert set(factorial.profiles) == {"smoke", "quick", "paper"}
    paper = factorial.design("paper")
    assert paper.num_cells == 7 * 6 * 1 * 10
    sweep = load_spec("lambda_sweep").design("paper")
    # The paper's grid inside, extended upward for the normalised energy term.
    assert sweep.lams == (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0) and sweep.datasets == ("mnist", "fashion_mnist")
    assert sweep.energy_norm == "initial"
    assert len(sweep.seeds) == 10


@pytest.mark.parametrize("edit,words", [
    ("[design]\nfoo = 1\n", "design.foo"),
    ("", "unknown architecture 'resnet'"),
    ("", "design.lam values must be finite numbers >= 0"),
    ("", "design.datasets is empty"),
    ("", "'training.batch_size' must be an integer >= 1"),
])
def test_bad_specs_name_the_offending_key(tmp_path, edit, words):
    text = tiny_spec_text(train_limit=10)
    if "foo" in words:
        text = text.replace("[design]\n", edit)
    elif "resnet" in words:
        text = text.replace('["mlp"]', '["mlp", "resnet"]')
    elif "lam" in words:
        text = text.replace("lam = [0.0]", "lam = [0.0, -1e-3]")
    elif "empty" in words:
        text = text.replace('datasets = ["mnist"]', "datasets = []")
    else:
        text = text.replace("batch_size = 32", 'batch_size = "large"')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    assert words in str(caught.value)


def test_unknown_protocol_lists_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        load_spec("no_such_protocol")
    assert "factorial" in str(caught.value)


def test_cli_usage_errors_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "'name'" in err[0]
    with pytest.raises(SystemExit) as caught:
        main(["run"])
    assert caught.value.code == 2


def test_show_and_list_describe_the_design(capsys):
    assert main(["list"]) == 0
    assert "lambda_sweep" in capsys.readouterr().out
    assert main(["show", "lambda_sweep", "--profile", "paper"]) == 0
    out = capsys.readouterr().out
    assert "cells: 560" in out and "estimated cost" in out  # 4 architectures x 2 datasets x 7 lambdas x 10 seeds
    assert main(["show", "factorial", "--profile", "quick", "--workers", "4"]) == 0
    out = capsys.readouterr().out
    # The budget resolved per dataset (per architecture where it differs), and the cost per dataset.
    fsdd = next(line for line in out.splitlines() if line.strip().startswith("fsdd "))
    assert "20 epochs of the whole train split" in fsdd and "core-min" in fsdd
    mnist = next(line for line in out.splitlines() if line.strip().startswith("mnist "))
    assert "bimodal, lagrangian, lstm, mlp, rnn: 4 epochs of the whole train split" in mnist
    assert "cnn: 1 epochs of 10,000 train samples" in mnist and "wall time on 4 workers" in out
    # a limit above the split's size names the split and its real size, not the limit
    assert main(["show", "efficiency", "--profile", "quick"]) == 0
    fsdd = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("fsdd "))
    assert "the whole train split (2,700 samples)" in fsdd and "10,000" not in fsdd


@pytest.mark.slow
def test_smoke_protocol_end_to_end_into_a_cube(tmp_path, capsys):
    out = tmp_path / "smoke"
    assert main(["run", "smoke", "--profile", "smoke", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert "4 cells: 4 ok" in summary
    with xr.open_dataset(out / "cube.h5", engine="h5netcdf") as cube:
        assert dict(cube.sizes) == {"architecture": 2, "dataset": 1, "lam": 2, "seed": 1, "eval": 11, "layer_role": 6,
                                    "class": 10}
        assert list(cube["family"].values) == ["baseline", "energy_first"]
        assert list(cube["modality"].values) == ["vision"]
        assert (cube["status"].values == "ok").all()
        accuracy = cube["accuracy"].values
        assert np.all(accuracy > 0.3)  # 10 classes: chance is 0.1
        # Balanced accuracy is the mean of the per-class recalls the cube holds beside it.
        np.testing.assert_allclose(cube["per_class_recall"].mean("class"), cube["balanced_accuracy"], rtol=1e-9)
        assert np.all(cube["balanced_accuracy"].values > 0.3) and np.all(cube["macro_f1"].values > 0.3)
        assert np.all(cube["train_samples"].values == 256) and np.all(cube["num_steps"].values == 4)
        assert np.all(cube["energy_pj"].values > 0) and np.all(cube["synops_effective_ac"].values > 0)
        assert cube["energy_pj"].attrs["units"] == "pJ" and cube.attrs["Conventions"] == "CF-1.10"
        assert cube.attrs["costs"] == "45nm-fp32" and "smoke" in cube.attrs["spec"]
        assert "torch" in json.loads(cube.attrs["package_versions"])
        assert cube.attrs["git_commit"]
        assert cube["curve_accuracy"].sizes["eval"] == 11
        # The per-layer breakdown adds up to the total, and an mlp has an input layer and a readout only.
        np.testing.assert_allclose(cube["energy_pj_by_role"].sum("layer_role"), cube["energy_pj"], rtol=1e-6)
        mlp = cube["energy_pj_by_role"].sel(architecture="mlp", lam=0.0).squeeze()
        assert float(mlp.sel(layer_role="input layer")) > float(mlp.sel(layer_role="readout")) > 0
        assert float(mlp.sel(layer_role="recurrent")) == 0 and float(mlp.sel(layer_role="hidden & other")) == 0
    same = load_cube(out)
    assert float(same["accuracy"].sum()) == pytest.approx(float(accuracy.sum()))
    # every cell record says how it ran
    for record in RunStore(out).records():
        prov = record["provenance"]
        assert prov["device"] == "cpu" and prov["torch_threads"] >= 1
        assert {"torch", "snntorch", "tonic", "torchaudio", "wfdb", "numpy", "neuroenergy"} <= set(prov["package_versions"])
        assert "git_commit" in prov and "git_dirty" in prov
    # A second run resumes: nothing left to do.
    assert main(["run", "smoke", "--profile", "smoke", "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "0 run now, 4 already finished" in capsys.readouterr().out
    assert main(["status", str(out)]) == 0
    assert "4/4 cells finished" in capsys.readouterr().out


@pytest.mark.slow
def test_diverged_cell_is_recorded_and_the_others_finish(tmp_path, capsys):
    # lambda = 1e38 turns the loss into inf at the first step: the cell diverges.
    spec = write_spec(tmp_path, lam="[0.0, 1e38]", train_limit=64)
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    cube = load_cube(out)
    status = cube["status"].sel(architecture="mlp", dataset="mnist", seed=0)
    assert list(status.values) == ["ok", "diverged"]
    assert np.isnan(float(cube["accuracy"].sel(lam=1e38).squeeze()))
    assert "step 1" in str(cube["error"].sel(lam=1e38).squeeze().values)


def test_second_run_on_a_busy_directory_is_refused(tmp_path, capsys):
    spec = write_spec(tmp_path)
    out = tmp_path / "run"
    holder = RunStore(out)
    holder.lock()
    try:
        assert main(["run", str(spec), "--out", str(out), "--quiet"]) == 2
        assert "another run is writing" in capsys.readouterr().err
    finally:
        holder.unlock()


def test_changed_spec_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "run"
    RunStore(out).bind_spec(load_spec(write_spec(tmp_path)).design().to_json())
    changed = write_spec(tmp_path, name="changed.toml", seeds=2)
    assert main(["run", str(changed), "--out", str(out), "--dry-run"]) == 0  # dry run touches nothing
    capsys.readouterr()
    with pytest.raises(ConfigError, match="different spec"):
        RunStore(out).bind_spec(load_spec(changed).design().to_json())
    RunStore(out).bind_spec(load_spec(changed).design().to_json(), force=True)


# kill -9, Ctrl-C and signals: tests/test_robust_runs.py (cells held on a file, nothing timed)


@pytest.mark.slow
def test_dask_executor_gives_the_local_executor_s_cube(tmp_path, capsys):
    """A local Dask cluster runs the same cells to the same records: cells are
    pure functions of their config, whichever executor runs them."""
    spec = write_spec(tmp_path, seeds=2, train_limit=64)
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert main(["run", str(spec), "--out", str(local), "--workers", "1", "--quiet"]) == 0
    assert main(["run", str(spec), "--out", str(dask), "--executor", "dask", "--workers", "2", "--quiet"]) == 0
    assert "2 cells: 2 ok; 2 run now" in capsys.readouterr().out
    a, b = load_cube(local), load_cube(dask)
    assert (b["status"].values == "ok").all()
    # each of the 2 worker processes trained on its share of the cores
    threads = {json.loads(p.read_text())["torch_threads"] for p in (dask / "cells").glob("*.json")}
    assert threads == {max(1, default_workers() // 2)}
    for name in ("accuracy", "energy_pj", "synops_effective_ac", "steps"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    # resuming on the Dask executor skips the finished cells
    assert main(["run", str(spec), "--out", str(dask), "--executor", "dask", "--workers", "2", "--quiet"]) == 0
    assert "0 run now, 2 already finished" in capsys.readouterr().out


def test_dask_executor_errors_are_one_clear_line(tmp_path, capsys, monkeypatch):
    from neuroenergy.protocols.executors import run_dask

    spec = write_spec(tmp_path)
    design = load_spec(spec).design(None)
    # a scheduler address without the Dask executor
    assert main(["run", str(spec), "--out", str(tmp_path / "a"), "--scheduler", "tcp://127.0.0.1:1",
                 "--quiet"]) == 2
    assert "--executor dask only" in capsys.readouterr().err
    # an address nobody listens on (dask.distributed comes with the dev extra)
    with pytest.raises(InvalidInputError, match="cannot start or reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
        run_dask(design, list(design.cells()), 1, print, print, scheduler="tcp://127.0.0.1:1",
                 connect_timeout_s=0.5)
    # dask.distributed not installed
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["run", str(spec), "--out", str(tmp_path / "b"), "--executor", "dask", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("error: --executor dask needs dask.distributed, which is not installed: "
                       "pip install 'neuroenergy[dask]'")
    assert not any("Traceback" in line for line in err)


def test_local_dask_cluster_workers_keep_glibc_memory_trimming():
    """Dask's own MALLOC_TRIM_THRESHOLD_=65536 is removed from the local cluster's
    workers (it made training ~1.5x slower), and the driver can read it off a cluster."""
    from distributed import Client

    from neuroenergy.protocols.executors import _malloc_trim_threshold, local_dask_cluster

    with local_dask_cluster(1) as cluster, Client(cluster) as client:
        values = client.run(_malloc_trim_threshold)
        assert len(values) == 1 and set(values.values()) == {None}


def test_cells_in_flight_follow_the_workers_that_join(tmp_path, monkeypatch):
    """The driver keeps one cell per worker in flight, counted afresh: when a
    second worker joins mid-run, a second cell starts without waiting for the
    first to finish."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from neuroenergy.protocols import executors

    monkeypatch.setattr(executors, "_POLL_S", 0.05)
    design = load_spec(write_spec(tmp_path, seeds=4)).design(None)
    running, peak, lock = [0], [0], threading.Lock()
    first_started, second_started = threading.Event(), threading.Event()
    workers = [1]

    def fake_cell(config):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            if running[0] == 2:
                second_started.set()
        if config.seed == 0:  # the first cell runs until a second one is in flight
            first_started.set()
            assert second_started.wait(timeout=3), "no second cell started after the second worker joined"
        with lock:
            running[0] -= 1
        return {"key": config.key, "status": "ok"}

    def slots():
        return workers[0]

    records = []
    def join_while_the_first_cell_runs():
        first_started.wait(timeout=10)
        workers[0] = 2

    joiner = threading.Thread(target=join_while_the_first_cell_runs)
    joiner.start()
    with ThreadPoolExecutor(max_workers=4) as pool:
        executors._drain(pool, fake_cell, design, list(design.cells()), slots, records.append, lambda cells: None)
    joiner.join()
    assert [r["status"] for r in records] == ["ok"] * 4  # the first cell saw a second one start
    assert peak[0] == 2  # never more in flight than workers
