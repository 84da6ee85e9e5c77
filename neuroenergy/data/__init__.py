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
"""

from __future__ import annotations

from neuroenergy.data.cache import cache_dir
from neuroenergy.data.core import (
    DATASETS,
    MODALITIES,
    SPLITS,
    Built,
    DatasetDef,
    DatasetInfo,
    LoadedDataset,
    info,
    list_datasets,
    load,
    stratified_indices,
)
from neuroenergy.data.sources import Archive, SourceFile, resolve_root

# Importing a dataset module registers its datasets.
from neuroenergy.data import fsdd, mitbih, mnist, nmnist, sst2  # noqa: E402,F401  isort: skip

__all__ = [
    "DATASETS",
    "MODALITIES",
    "SPLITS",
    "Archive",
    "Built",
    "DatasetDef",
    "DatasetInfo",
    "LoadedDataset",
    "SourceFile",
    "cache_dir",
    "info",
    "list_datasets",
    "load",
    "resolve_root",
    "stratified_indices",
]
