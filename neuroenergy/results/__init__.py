"""Run store and result cubes (xarray <-> netCDF4/HDF5).

``load_cube(path)`` reads a cube into memory (``open_cube`` is its deprecated
old name; plain ``xr.open_dataset(path, engine="h5netcdf")`` opens one
lazily); the schema is in ``neuroenergy.results.schema``.
"""

from neuroenergy.results.cube import build_cube, load_cube, open_cube, write_cube
from neuroenergy.results.schema import CELL_VARIABLES, CURVE_VARIABLES, DIMS, STATUSES
from neuroenergy.results.store import RunStore, StoreLockedError, cell_key

__all__ = ["load_cube", "open_cube", "build_cube", "write_cube", "RunStore", "StoreLockedError", "cell_key",
           "DIMS", "CELL_VARIABLES", "CURVE_VARIABLES", "STATUSES"]
