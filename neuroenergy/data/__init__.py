"""Datasets: one registry, six real datasets over five modalities, verified files.

Owns the dataset registry and everything between a data root and the
tensors a model trains on. Public API::

    list_datasets() -> list[str]
    info(name, *, root=None, **options) -> DatasetInfo
    load(name, split, *, root=None, limit=None, seed=0, **options) -> LoadedDataset

==============  =============  =======================  ===============  ==============  ================
name            modality       input_spec (per sample)  stored / yields  values          train / test
==============  =============  =======================  ===============  ==============  ================
mnist           vision         image [1, 28, 28]        uint8 / float32  [0, 1]          60,000 / 10,000
fashion_mnist   vision         image [1, 28, 28]        uint8 / float32  [0, 1]          60,000 / 10,000
nmnist          neuromorphic   events [10, 2, 34, 34]   uint8 / float32  counts 0..255   1,000 / 100 (*)
fsdd            audio          audio [40, 64]           float32          [0, 1]          2,700 / 300
mitbih          physiological  signal [1, 256]          float32          [-15.97, 15.97] 18,123 / 17,894
sst2            text           tokens [48], vocab 14818 int16 / int64    ids 0..14817    67,349 / 872
==============  =============  =======================  ===============  ==============  ================

(*) the shared subset; 60,000 / 10,000 with the official archives.
``info(name).preprocessing`` states each dataset's preprocessing exactly;
each dataset's class docstring (``neuroenergy.data.mnist.MNIST`` etc.) too.

Data root: ``root`` argument > ``$NEUROENERGY_DATA`` > ``./data`` (only
read, never written). Cache: ``$NEUROENERGY_CACHE`` (default
``~/.cache/neuroenergy``) holds derived arrays keyed by the source files'
checksums, the checksum memo and downloaded files. ``NEUROENERGY_OFFLINE=1``
forbids downloads. See ``data/README.md`` for the layout of a data root.

The package's names are imported on first use (PEP 562): the first access
imports the registry and every dataset module (which registers its
datasets), so ``neuroenergy data --help`` does not pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "cache_dir": "cache",
    "DATASETS": "core",
    "MODALITIES": "core",
    "SPLITS": "core",
    "Built": "core",
    "DatasetDef": "core",
    "DatasetInfo": "core",
    "LoadedDataset": "core",
    "info": "core",
    "list_datasets": "core",
    "load": "core",
    "stratified_indices": "core",
    "Archive": "sources",
    "SourceFile": "sources",
    "resolve_root": "sources",
}
#: Importing a dataset module registers its datasets.
_DATASET_MODULES = ("fsdd", "mitbih", "mnist", "nmnist", "sst2")

__all__ = sorted(_EXPORTS)


def _register_all() -> None:
    for module in _DATASET_MODULES:
        import_module(f"neuroenergy.data.{module}")


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    _register_all()
    if name in _EXPORTS:
        value = getattr(import_module(f"neuroenergy.data.{_EXPORTS[name]}"), name)
    elif name in globals():  # a submodule, set as an attribute by its import
        value = globals()[name]
    else:
        raise AttributeError(f"module 'neuroenergy.data' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
