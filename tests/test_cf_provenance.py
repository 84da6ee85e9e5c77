"""The cube follows CF-1.10 (UDUNITS units, long_name on every variable), and
provenance names neuroenergy's own source tree only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neuroenergy
from neuroenergy.provenance import PACKAGES, cell_provenance, preprocessing_versions, source_tree
from neuroenergy.results.cube import build_cube, load_cube, write_cube
from neuroenergy.results.schema import CELL_VARIABLES, CONVENTIONS, CURVE_VARIABLES, UNITS

REPO = Path(__file__).resolve().parents[1]
# UDUNITS-2 strings: "1" (dimensionless), picojoule, second; no prose in units.
UDUNITS_OK = {"1", "pJ", "s"}


def _cube(tmp_path: Path) -> xr.Dataset:
    record = {"architecture": "mlp", "dataset": "sst2", "lam": 0.0, "seed": 0, "status": "ok",
              "metrics": {name: 1.0 for name in CELL_VARIABLES},
              "curve": {"step": [10], "accuracy": [0.5], "ce": [0.7], "energy": [3.0],
                        "train_energy_pj": [5.0], "train_time_s": [1.0]}}
    cube = build_cube([record], architectures=["mlp"], datasets=["sst2"], lams=[0.0], seeds=[0],
                      families={"mlp": "baseline"}, modalities={"sst2": "text"}, targets={"sst2": 0.7},
                      attrs={"protocol": "tiny"})
    return load_cube(write_cube(cube, tmp_path / "cube.h5"))


def test_cube_follows_cf_rules(tmp_path: Path) -> None:
    cube = _cube(tmp_path)
    assert cube.attrs["Conventions"] == CONVENTIONS == "CF-1.10"
    assert set(UNITS) == UDUNITS_OK
    for name in [*cube.data_vars, *cube.coords]:
        var = cube[name]
        numeric = np.issubdtype(var.dtype, np.number)
        if name in cube.data_vars or name == "lam":
            assert var.attrs.get("long_name"), f"{name} has no long_name"
        if numeric and name in cube.data_vars:
            assert var.attrs.get("units") in UDUNITS_OK, f"{name}: units {var.attrs.get('units')!r}"
        elif not numeric:
            assert "units" not in var.attrs, f"{name}: a string variable has no units"
    assert cube["lam"].attrs["units"] == "1"
    # what a unit no longer says, the long_name does
    assert "per sample" in cube["energy_pj"].attrs["long_name"] and cube["energy_pj"].attrs["units"] == "pJ"
    assert "per sample" in cube["spikes"].attrs["long_name"]
    assert "embedding table excluded" in cube["num_parameters"].attrs["long_name"]
    assert "num_embedding_parameters" in cube and set(CURVE_VARIABLES) <= set(cube.data_vars)


def test_source_tree_is_this_checkout() -> None:
    tree = source_tree()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip())
    assert tree == {"git_commit": head, "git_dirty": dirty}


def test_package_inside_another_repository_records_no_commit(tmp_path: Path) -> None:
    # a wheel's package directory inside someone else's work tree
    other = tmp_path / "other"
    site = other / "venv" / "site-packages"
    shutil.copytree(Path(neuroenergy.__file__).parent, site / "neuroenergy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (other / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    assert source_tree(site / "neuroenergy") == {"git_commit": None, "git_dirty": None}
    # even at the top level of a repository whose pyproject names another project
    shutil.copytree(site / "neuroenergy", other / "neuroenergy")
    assert source_tree(other / "neuroenergy") == {"git_commit": None, "git_dirty": None}
    # and outside any work tree
    assert source_tree(tmp_path / "none") == {"git_commit": None, "git_dirty": None}


def test_cell_provenance_fields() -> None:
    prov = cell_provenance(device="cpu", threads=2)
    assert set(prov) == {"package_versions", "git_commit", "git_dirty", "device", "torch_threads"}
    assert set(PACKAGES) | {"python"} == set(prov["package_versions"])
    assert prov["package_versions"]["neuroenergy"] == neuroenergy.__version__
    assert prov["device"] == "cpu" and prov["torch_threads"] == 2
    assert {"torchaudio", "tonic", "wfdb"} <= set(preprocessing_versions())
