"""Run store and result cubes (xarray <-> HDF5). Schema: ``neuroenergy.results.schema``."""
