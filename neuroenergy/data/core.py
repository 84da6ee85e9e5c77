"""The dataset registry, its two result types and the load pipeline.

Owns: :data:`DATASETS` (the one dataset :class:`~neuroenergy.registry.Registry`),
:class:`DatasetDef` (what a dataset module implements), :class:`DatasetInfo`
(what ``info(name)`` returns), :class:`LoadedDataset` (what ``load`` returns),
the stratified subset used by ``limit``, and :func:`load` / :func:`info`
themselves. File finding, verification and downloads live in ``sources``;
the array cache in ``cache``; each dataset's parsing in its own module.

Load pipeline: check arguments -> list the split's source files -> find
(root, then download cache, then download) and verify them -> cached arrays
keyed by the files' checksums, else build and cache them -> wrap as tensors
-> optional stratified ``limit``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from neuroenergy.data.cache import cache_dir, cache_key, read_arrays, write_arrays
from neuroenergy.data.sources import SourceFile, ensure_files, resolve_root
from neuroenergy.errors import InvalidInputError
from neuroenergy.provenance import preprocessing_versions
from neuroenergy.registry import Registry
from neuroenergy.vocabulary import InputSpec

SPLITS: tuple[str, ...] = ("train", "test")
MODALITIES: tuple[str, ...] = ("vision", "neuromorphic", "audio", "physiological", "text")

__all__ = [
    "SPLITS",
    "MODALITIES",
    "DATASETS",
    "DatasetDef",
    "DatasetInfo",
    "Built",
    "LoadedDataset",
    "list_datasets",
    "info",
    "load",
    "stratified_indices",
]


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about one dataset, as loaded with the given options.

    Attributes:
        name: registry name, e.g. ``"mnist"``.
        modality: ``vision``, ``neuromorphic``, ``audio``, ``physiological`` or ``text``.
        num_classes: number of classes; targets are ``0 .. num_classes - 1``.
        class_names: name of each class, indexed by target.
        input_spec: kind and per-sample shape of the inputs (models are built from it).
        dtype: dtype of the inputs that ``LoadedDataset[i]`` and ``batches``
            yield: ``"float32"``, or ``"int64"`` for tokens.
        storage_dtype: dtype of ``LoadedDataset.inputs`` (compact storage,
            e.g. ``"uint8"`` for images).
        value_range: ``(low, high)`` bounds that every yielded input value
            satisfies (inclusive).
        split_sizes: ``{"train": n, "test": n}`` of the data present (and verified).
        class_counts: ``{split: (count of class 0, class 1, ...)}``.
        imbalance: ``{split: max / min class count}``, the min taken over the
            classes present in that split (a class with count 0 is visible in
            ``class_counts``); 1.0 means balanced.
        preprocessing: how the source files become inputs (units, windows,
            normalisation, what is dropped).
        license: the data's license.
        citation: what to cite.
        source: the official source the files come from.
        options: the ``load`` keyword options these facts hold for.
    """

    name: str
    modality: str
    num_classes: int
    class_names: tuple[str, ...]
    input_spec: InputSpec
    dtype: str
    storage_dtype: str
    value_range: tuple[float, float]
    split_sizes: dict[str, int]
    class_counts: dict[str, tuple[int, ...]]
    imbalance: dict[str, float]
    preprocessing: str
    license: str
    citation: str
    source: str
    options: dict[str, Any] = field(default_factory=dict)


class Built(NamedTuple):
    """What a dataset's ``build`` returns: numpy arrays ready to cache.

    ``inputs`` is ``[N, *input_spec.shape]`` in the storage dtype,
    ``targets`` is ``[N]`` integer class ids, ``meta`` is small JSON-able extras.
    """

    inputs: np.ndarray
    targets: np.ndarray
    meta: dict[str, Any]


class DatasetDef:
    """Base class of a dataset definition; one instance per dataset is registered.

    Subclasses set the class attributes and implement :meth:`input_spec`,
    :meth:`preprocessing`, :meth:`sources`, :meth:`class_counts` and
    :meth:`build`. Bump ``version`` whenever ``build``'s output changes for
    the same files and options, so cached arrays are rebuilt.
    """

    name: str = ""
    modality: str = ""
    class_names: tuple[str, ...] = ()
    storage_dtype: str = "float32"
    license: str = ""
    citation: str = ""
    source: str = ""
    version: int = 1
    defaults: Mapping[str, Any] = MappingProxyType({})
    """The keyword options ``load`` accepts for this dataset, with their defaults."""

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults completed with ``options``; InvalidInputError on unknown or bad ones."""
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            allowed = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items()) or "none"
            raise InvalidInputError(
                f"dataset {self.name!r} has no option {', '.join(unknown)}; its options (with defaults): {allowed}"
            )
        merged = {**self.defaults, **options}
        self.validate(merged)
        return merged

    def validate(self, options: dict[str, Any]) -> None:
        """Raise InvalidInputError if an option value is bad; may normalise
        values in place (e.g. numpy ints to int, so cache keys stay JSON)."""

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        raise NotImplementedError

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        raise NotImplementedError

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        """The files a load of ``split`` reads (with their known digests)."""
        raise NotImplementedError

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        """Per-class sample counts of ``split`` as ``load`` returns it, known without loading."""
        raise NotImplementedError

    def missing_hint(self, split: str) -> str:
        """Extra advice appended to the missing-files error."""
        return ""

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        """Parse the verified files (``{relpath: path}``) into arrays."""
        raise NotImplementedError


DATASETS: Registry[DatasetDef] = Registry("dataset")
"""The dataset registry: name -> :class:`DatasetDef`. Register your own with
``DATASETS.register("name", MyDataset())``."""


# --------------------------------------------------------------------------- loaded data


class LoadedDataset(Dataset):
    """One split held as two whole tensors; a ``torch.utils.data.Dataset``.

    Attributes:
        inputs: ``[N, *info.input_spec.shape]`` in ``info.storage_dtype``
            (compact: e.g. uint8 pixels 0..255); use ``self[i]`` or
            :meth:`batches` for model-ready values.
        targets: ``[N]`` int64 class ids.
        info: the dataset's :class:`DatasetInfo` (sizes are those of the full
            split, before ``limit``).
        split: ``"train"`` or ``"test"``.
        indices: ``[N]`` int64 positions of these samples in the full split
            (``arange(N)`` unless ``limit`` took a subset).
        meta: small extras (e.g. ``meta["vocab"]`` for sst2).
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        info: DatasetInfo,
        split: str,
        *,
        indices: torch.Tensor | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if inputs.shape[0] != targets.shape[0]:
            raise InvalidInputError(f"inputs hold {inputs.shape[0]} samples but targets {targets.shape[0]}")
        if tuple(inputs.shape[1:]) != info.input_spec.shape:
            raise InvalidInputError(
                f"inputs have per-sample shape {tuple(inputs.shape[1:])}, info says {info.input_spec.shape}"
            )
        self.inputs = inputs
        self.targets = targets.to(torch.int64)
        self.info = info
        self.split = split
        self.indices = torch.arange(len(targets)) if indices is None else indices
        self.meta: dict[str, Any] = dict(meta or {})

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``: x of shape ``input_spec.shape``, float32 (int64 for
        tokens) in ``info.value_range``; y a 0-d int64 tensor."""
        return self.convert(self.inputs[index]), self.targets[index].clone()

    def convert(self, x: torch.Tensor) -> torch.Tensor:
        """Storage values -> model values: uint8 pixels / 255 -> float32 in
        [0, 1]; tokens -> int64; anything else -> float32. Always a new tensor."""
        if self.info.input_spec.kind == "tokens":
            return x.to(torch.int64, copy=True)
        if self.info.input_spec.kind == "image" and x.dtype == torch.uint8:
            return x.to(torch.float32).mul_(1.0 / 255.0)
        return x.to(torch.float32, copy=True)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield ``(x [B, *shape], y [B] int64)`` by slicing the whole tensors.

        No per-sample Python: each batch is one slice (or one ``index_select``
        when shuffled) and one dtype conversion, done after the move to
        ``device`` so the compact storage dtype is what crosses the bus.

        Args:
            batch_size: samples per batch (the last one may be smaller unless
                ``drop_last``).
            shuffle: visit samples in a random order drawn from ``seed``.
            seed: seed of the shuffling order (same seed, same order).
            device: where the batches go (default: stay on the CPU).
            drop_last: skip the final incomplete batch.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")
        _check_seed(seed)
        return self._iter_batches(int(batch_size), shuffle, int(seed), device, drop_last)

    def _iter_batches(
        self, batch_size: int, shuffle: bool, seed: int, device: torch.device | str | None, drop_last: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else None
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            if order is None:
                x = self.inputs[start : start + batch_size]  # a view; convert() copies
                y = self.targets[start : start + batch_size].clone()
            else:
                rows = order[start : start + batch_size]
                x = self.inputs.index_select(0, rows)
                y = self.targets.index_select(0, rows)
            if device is not None:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
            yield self.convert(x), y

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> LoadedDataset:
        """The samples at ``indices`` (positions in this dataset), as a new LoadedDataset."""
        rows = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        return LoadedDataset(
            self.inputs.index_select(0, rows),
            self.targets.index_select(0, rows),
            self.info,
            self.split,
            indices=self.indices.index_select(0, rows),
            meta=self.meta,
        )

    def class_counts(self) -> tuple[int, ...]:
        """Per-class sample counts of the samples held (after ``limit``)."""
        return tuple(torch.bincount(self.targets, minlength=self.info.num_classes).tolist())

    def __repr__(self) -> str:
        return (
            f"LoadedDataset({self.info.name!r}, split={self.split!r}, n={len(self)}, "
            f"inputs={tuple(self.inputs.shape)} {self.inputs.dtype})"
        )


# --------------------------------------------------------------------------- public API


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    return DATASETS.names()


def info(name: str, *, root: str | os.PathLike[str] | None = None, **options: Any) -> DatasetInfo:
    """What ``load(name, ...)`` returns, known without loading anything.

    Args:
        name: a name from :func:`list_datasets`.
        root: data root (only nmnist looks at it: a full N-MNIST archive, when
            present, changes the split sizes).
        **options: the dataset's load options (see ``info(name).options``).
    """
    ds = DATASETS.get(name)
    opts = ds.check_options(options)
    return _make_info(ds, resolve_root(root), cache_dir(), opts)


def load(
    name: str,
    split: str,
    *,
    root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    **options: Any,
) -> LoadedDataset:
    """Load one split of a dataset as whole tensors.

    Args:
        name: a name from :func:`list_datasets`.
        split: ``"train"`` or ``"test"``.
        root: data root; default ``$NEUROENERGY_DATA``, else ``./data``.
            Only read, never written.
        limit: keep a stratified subset of this many samples (each class in
            proportion to its share, by largest remainder), drawn with
            ``seed``; None or >= the split size keeps everything.
        seed: seed of the ``limit`` draw (the same seed gives the same subset).
        **options: dataset-specific preprocessing options, e.g.
            ``n_time_bins`` (nmnist), ``split_mode`` (mitbih), ``max_len``
            (sst2); ``info(name).options`` lists them with their defaults.

    Returns:
        A :class:`LoadedDataset`; its docstring and ``.info`` give shape,
        dtype and value range.

    Raises:
        UnknownNameError: no such dataset.
        InvalidInputError: bad split, limit, seed or option.
        DataNotFoundError: files missing and not downloadable (names them).
        ChecksumError: a file is corrupted (names it).
    """
    ds = DATASETS.get(name)
    split = _check_split(split)
    opts = ds.check_options(options)
    _check_limit(limit)
    _check_seed(seed)
    root_path, cache = resolve_root(root), cache_dir()

    sources = ds.sources(split, root_path, cache, opts)
    paths = ensure_files(ds.name, sources, root_path, cache, official=ds.source, hint=ds.missing_hint(split))
    key = cache_key(
        {
            "dataset": ds.name,
            "version": ds.version,
            "split": split,
            "options": opts,
            "sources": sorted((s.relpath, s.digest) for s in sources),
            "libraries": preprocessing_versions(),
        }
    )
    cached = read_arrays(cache, ds.name, split, key)
    if cached is None:
        built = ds.build(split, paths, opts)
        inputs, targets, meta = built.inputs, built.targets.astype(np.int64), built.meta
        write_arrays(cache, ds.name, split, key, inputs, targets, meta)
    else:
        inputs, targets, meta = cached

    dinfo = _make_info(ds, root_path, cache, opts)
    data = LoadedDataset(torch.from_numpy(inputs), torch.from_numpy(targets), dinfo, split, meta=meta)
    actual = data.class_counts()
    if actual != dinfo.class_counts[split]:
        # Only a full N-MNIST archive can get here (its counts are declared, not
        # pinned by checksums); keep .info truthful and say so.
        warnings.warn(
            f"{ds.name} {split}: loaded class counts {actual} differ from the declared "
            f"{dinfo.class_counts[split]}; info() reports the loaded ones",
            stacklevel=2,
        )
        counts = {**dinfo.class_counts, split: actual}
        data.info = replace(
            dinfo,
            class_counts=counts,
            split_sizes={s: sum(c) for s, c in counts.items()},
            imbalance={s: _imbalance(c) for s, c in counts.items()},
        )
    if limit is not None and limit < len(data):
        data = data.subset(stratified_indices(data.targets.numpy(), limit, seed))
    return data


def stratified_indices(targets: np.ndarray | Sequence[int], limit: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of a class-stratified subset of ``limit`` samples.

    Each class gets ``floor(limit * n_c / N)`` samples plus one more for the
    classes with the largest fractional remainders (ties: lower class id), so
    the sum is exactly ``limit`` and each class is within one sample of its
    proportional share. Within a class the samples are a uniform draw from
    ``numpy.random.default_rng(seed)``: deterministic for a seed.
    """
    _check_limit(limit)
    targets = np.asarray(targets)
    n = len(targets)
    if limit >= n:
        return np.arange(n)
    classes, counts = np.unique(targets, return_counts=True)
    exact = limit * counts / n
    quota = np.floor(exact).astype(np.int64)
    extra = limit - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:extra]] += 1
    rng = np.random.default_rng(seed)
    chosen = [
        rng.permutation(np.flatnonzero(targets == c))[:q] for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


# --------------------------------------------------------------------------- helpers


def _make_info(ds: DatasetDef, root: Path, cache: Path, opts: Mapping[str, Any]) -> DatasetInfo:
    counts = {s: tuple(int(c) for c in ds.class_counts(s, root, cache, opts)) for s in SPLITS}
    input_spec = ds.input_spec(opts)
    return DatasetInfo(
        name=ds.name,
        modality=ds.modality,
        num_classes=len(ds.class_names),
        class_names=tuple(ds.class_names),
        input_spec=input_spec,
        dtype="int64" if input_spec.kind == "tokens" else "float32",
        storage_dtype=ds.storage_dtype,
        value_range=ds.value_range(opts),
        split_sizes={s: sum(c) for s, c in counts.items()},
        class_counts=counts,
        imbalance={s: _imbalance(c) for s, c in counts.items()},
        preprocessing=ds.preprocessing(opts),
        license=ds.license,
        citation=ds.citation,
        source=ds.source,
        options=dict(opts),
    )


def _imbalance(counts: Sequence[int]) -> float:
    present = [c for c in counts if c > 0]
    return max(present) / min(present) if present else math.nan


def _check_split(split: object) -> str:
    if split not in SPLITS:
        raise InvalidInputError(
            f"split must be 'train' or 'test', got {split!r} (validation sets are carved from 'train' by the caller)"
        )
    return str(split)


def _check_limit(limit: object) -> None:
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise InvalidInputError(f"limit must be None or a positive int, got {limit!r}")


def _check_seed(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative int, got {seed!r}")
