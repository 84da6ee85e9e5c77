"""Run store and result cubes, xarray <-> HDF5 (not yet implemented)."""
