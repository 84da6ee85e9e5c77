"""neuroenergy.results.load_cube: the one cube loader (eager), its deprecated old name, and
the statistics reading paths through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neuroenergy import results
from neuroenergy.errors import InvalidInputError
from neuroenergy.results.cube import build_cube, load_cube, open_cube, write_cube
from neuroenergy.results.schema import CELL_VARIABLES
from neuroenergy.stats._cube import as_cube


def _written(tmp_path: Path) -> Path:
    records = [{"architecture": "mlp", "dataset": "mnist", "lam": 0.0, "seed": seed, "status": "ok",
                "metrics": {name: float(seed + 1) for name in CELL_VARIABLES}} for seed in (0, 1)]
    cube = build_cube(records, architectures=["mlp", "cnn"], datasets=["mnist"], lams=[0.0], seeds=[0, 1],
                      families={"mlp": "baseline", "cnn": "baseline"}, modalities={"mnist": "image"},
                      targets={"mnist": 0.9}, attrs={"protocol": "tiny"})
    return write_cube(cube, tmp_path / "run" / "cube.h5")


def test_load_cube_reads_a_file_or_its_run_directory_into_memory(tmp_path):
    path = _written(tmp_path)
    from_file, from_dir = load_cube(path), load_cube(path.parent)
    xr.testing.assert_identical(from_file, from_dir)
    assert from_file["status"].sel(architecture="mlp").values.ravel().tolist() == ["ok", "ok"]
    assert from_file["status"].sel(architecture="cnn").values.ravel().tolist() == ["missing", "missing"]
    path.unlink()  # eager: nothing is read from the file any more
    assert from_file["accuracy"].sel(architecture="mlp").values.ravel().tolist() == [1.0, 2.0]
    assert np.isnan(from_file["accuracy"].sel(architecture="cnn").values).all()


def test_open_cube_is_a_deprecated_alias(tmp_path):
    path = _written(tmp_path)
    assert results.load_cube is load_cube and results.open_cube is open_cube
    with pytest.warns(DeprecationWarning, match="open_cube is deprecated; use neuroenergy.results.load_cube"):
        old = results.open_cube(path)
    xr.testing.assert_identical(old, load_cube(path))


def test_statistics_load_paths_with_the_same_loader(tmp_path):
    path = _written(tmp_path)
    xr.testing.assert_identical(as_cube(path.parent), load_cube(path))
    for loader in (load_cube, as_cube):
        with pytest.raises(InvalidInputError, match="no result cube file at"):
            loader(tmp_path / "missing.h5")
    (tmp_path / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    for loader in (load_cube, as_cube):
        with pytest.raises(InvalidInputError, match="broken.h5 is not a readable result cube"):
            loader(tmp_path / "broken.h5")


def test_cubes_written_with_the_old_role_names_load_with_the_new(tmp_path):
    path = _written(tmp_path)
    current = load_cube(path)
    assert "layer_role" in current.dims and "energy_pj_by_role" in current and "layer" not in current.dims
    # a cube as written before the rename: dim "layer", variable "energy_pj_by_layer"
    old = current.rename({"layer_role": "layer", "energy_pj_by_role": "energy_pj_by_layer"})
    old.to_netcdf(tmp_path / "old.h5", engine="h5netcdf")
    for loaded in (load_cube(tmp_path / "old.h5"), as_cube(old)):
        assert list(loaded["energy_pj_by_role"].dims)[-1] == "layer_role"
        assert list(loaded["layer_role"].values) == list(current["layer_role"].values)
        assert loaded["energy_pj_by_role"].equals(current["energy_pj_by_role"])


def test_plain_xarray_with_h5netcdf_opens_the_cube_as_written(tmp_path):
    """The design's contract: a cube opens with xr.open_dataset(path, engine="h5netcdf"),
    although it is written with the netCDF-C engine (same netCDF4/HDF5 format)."""
    path = _written(tmp_path)
    with xr.open_dataset(path, engine="h5netcdf") as lazy:
        assert lazy.load().identical(load_cube(path))
        assert lazy.attrs["Conventions"] == "CF-1.10" and lazy.attrs["protocol"] == "tiny"
