"""Deprecated: the architecture config files moved to :mod:`neuroenergy.models.configfiles`.

``python -m neuroenergy.models.specfiles [--check]`` still works (it warns and
runs ``python -m neuroenergy.models.configfiles``); the old names forward to
the new ones: ``render_spec`` -> ``render_config``, ``builtin_spec_names`` ->
``builtin_config_names``, ``stale_spec_files`` -> ``stale_config_files``,
``write_spec_files`` -> ``write_config_files``, ``SPEC_DIR`` -> ``CONFIG_DIR``.
"""

from __future__ import annotations

import sys

from neuroenergy._deprecation import renamed_attributes, warn_renamed

from . import configfiles

#: old name -> its name in :mod:`neuroenergy.models.configfiles`
_RENAMED = {
    "render_spec": "render_config",
    "builtin_spec_names": "builtin_config_names",
    "stale_spec_files": "stale_config_files",
    "write_spec_files": "write_config_files",
    "SPEC_DIR": "CONFIG_DIR",
    "main": "main",
}

# stacklevel 2 points at the importer; run as __main__ the warning is this module's own
warn_renamed("neuroenergy.models.specfiles", "neuroenergy.models.configfiles",
             stacklevel=1 if __name__ == "__main__" else 2)


__getattr__ = renamed_attributes("neuroenergy.models.specfiles", {
    old: (f"neuroenergy.models.configfiles.{new}", lambda new=new: getattr(configfiles, new))
    for old, new in _RENAMED.items()})


if __name__ == "__main__":
    sys.exit(configfiles.main())
