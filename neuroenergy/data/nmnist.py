"""N-MNIST: MNIST digits recorded by an ATIS event camera in three saccades.

Two layouts, chosen by what the data root holds (first match wins):

1. ``<root>/NMNIST/train.zip`` / ``test.zip`` -- the official archives
   (60,000 / 10,000 samples; md5 as published, the md5s tonic checks);
2. ``<root>/NMNIST/Train/<digit>/<NNNNN>.bin`` and ``Test/...`` -- tonic's
   extracted layout. The package knows the sha256 of the 1,000 train
   (samples 1-1000) / 100 test (samples 1-100) files of the shared subset
   and reads exactly those; other .bin files are ignored;
3. an archive in the download cache; else the official archive is downloaded
   there (so a fresh machine with network gets the full set).

Events are decoded with ``tonic.io.read_mnist_file`` and binned with
``tonic.transforms.ToFrame``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from neuroenergy.data._checksums import table
from neuroenergy.data.core import DATASETS, Built, DatasetDef
from neuroenergy.data.mnist import MNIST
from neuroenergy.data.sources import Archive, SourceFile
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

__all__ = ["NMNIST", "SENSOR_SIZE", "DEFAULT_TIME_BINS", "events_to_frames"]

SENSOR_SIZE = (34, 34, 2)
"""(width, height, polarities) of the ATIS recordings, tonic's convention."""
DEFAULT_TIME_BINS = 10
"""Frames per sample: ~30 ms each over a ~300 ms recording, so each of the
three saccades spans ~3 frames -- enough to keep the motion, few enough to be
cheap as SNN time steps. Override with ``load("nmnist", ..., n_time_bins=T)``."""

_FOLDER = MappingProxyType({"train": "Train", "test": "Test"})
_MENDELEY = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
_ARCHIVE = MappingProxyType(
    {
        "train": Archive(
            _MENDELEY + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
            "train.zip",
            md5="20959b8e626244a1b502305a9e6e2031",
        ),
        "test": Archive(
            _MENDELEY + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
            "test.zip",
            md5="69ca8762b2fe404d9b9bad1103e97832",
        ),
    }
)
_MEMBER = re.compile(r"(?:^|/)(Train|Test)/([0-9])/([0-9]+)\.bin$")
_EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def events_to_frames(events: np.ndarray, n_time_bins: int) -> np.ndarray:
    """tonic ToFrame on one recording -> uint8 ``[n_time_bins, 2, 34, 34]`` event counts.

    ``frame[t, p, y, x]`` counts the events of polarity ``p`` (0 = OFF,
    1 = ON) at pixel ``(x, y)`` in time bin ``t``; counts saturate at 255
    (8-bit storage; real bins hold at most a few dozen).
    """
    from tonic.transforms import ToFrame

    frames = ToFrame(sensor_size=SENSOR_SIZE, n_time_bins=n_time_bins)(events)
    return np.minimum(frames, 255).astype(np.uint8)


class NMNIST(DatasetDef):
    """N-MNIST event recordings binned into frames; 10 classes (digits 0-9).

    Input ``events [T, 2, 34, 34]`` with T = ``n_time_bins`` (default 10):
    stored uint8 event counts per (bin, polarity, y, x), yielded float32
    non-negative integer counts in [0, 255]. Here 1,000 train / 100 test (the
    shared subset); 60,000 / 10,000 with the official archives.
    """

    name = "nmnist"
    modality = "neuromorphic"
    class_names = tuple(str(d) for d in range(10))
    storage_dtype = "uint8"
    license = "CC BY 4.0 (Orchard et al., Mendeley Data doi 10.17632/468j46mzdv.1)"
    citation = (
        "Orchard G, Jayawant A, Cohen GK, Thakor N (2015) Converting Static Image Datasets to "
        "Spiking Neuromorphic Datasets Using Saccades. Front. Neurosci. 9:437."
    )
    source = "https://www.garrickorchard.com/datasets/n-mnist (Mendeley Data 10.17632/468j46mzdv.1)"
    defaults = MappingProxyType({"n_time_bins": DEFAULT_TIME_BINS})

    def validate(self, options: dict[str, Any]) -> None:
        t = options["n_time_bins"]
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= 10_000:
            raise InvalidInputError(f"nmnist: n_time_bins must be an int in 1..10000, got {t!r}")
        options["n_time_bins"] = int(t)

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        return InputSpec("events", (int(options["n_time_bins"]), 2, 34, 34))

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        return (0.0, 255.0)

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        t = int(options["n_time_bins"])
        return (
            "events decoded by tonic.io.read_mnist_file (x, y in 0..33, polarity 0=OFF/1=ON, t in us); "
            f"tonic.transforms.ToFrame(sensor_size=(34, 34, 2), n_time_bins={t}) splits each recording's own "
            f"span (first to last event, ~300 ms) into {t} equal bins of floor(span/{t}) us (events past the "
            f"last bin, at least the final one, are dropped by tonic); frame[t, p, y, x] = event count; "
            "stored uint8 (saturating at 255, never reached: observed max <= 24), yielded float32; "
            "samples in file-index order; no denoising, no saccade stabilisation"
        )

    def _archive_layout(self, split: str, root: Path) -> bool:
        """True: read the official archive; False: the extracted subset files in the root."""
        if (root / "NMNIST" / _ARCHIVE[split].filename).is_file():
            return True
        return not (root / "NMNIST" / _FOLDER[split]).is_dir()

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        archive = _ARCHIVE[split]
        if self._archive_layout(split, root):
            return [SourceFile(f"NMNIST/{archive.filename}", md5=archive.md5, urls=(archive.url,))]
        return self.subset_sources(split)

    def subset_sources(self, split: str) -> list[SourceFile]:
        """The extracted subset's files (1,000 train / 100 test samples), each with its sha256,
        taken from the official archive's members when downloaded."""
        archive = _ARCHIVE[split]
        prefix = f"NMNIST/{_FOLDER[split]}/"
        return [
            SourceFile(rel, sha256, size, archive=archive, member=rel.removeprefix("NMNIST/"))
            for rel, (sha256, size) in table("NMNIST").items()
            if rel.startswith(prefix)
        ]

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        if self._archive_layout(split, root):
            # N-MNIST re-records every MNIST sample under the same index and label.
            return MNIST.counts[split]
        prefix = f"NMNIST/{_FOLDER[split]}/"
        labels = [int(rel.split("/")[2]) for rel in table("NMNIST") if rel.startswith(prefix)]
        return tuple(np.bincount(labels, minlength=10).tolist())

    def missing_hint(self, split: str) -> str:
        return (
            f"Alternatively use extracted files: <root>/NMNIST/{_FOLDER[split]}/<digit>/<NNNNN>.bin "
            "(the package verifies the shared subset's samples, see data/README.md)."
        )

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        from tonic.io import read_mnist_file

        n_bins = int(options["n_time_bins"])
        archive_rel = f"NMNIST/{_ARCHIVE[split].filename}"
        if archive_rel in paths:
            with zipfile.ZipFile(paths[archive_rel]) as zf:
                members = _indexed(zf.namelist(), _FOLDER[split])
                frames = np.empty((len(members), n_bins, 2, 34, 34), np.uint8)
                for i, (_, _, name) in enumerate(members):
                    with zf.open(name) as f:
                        frames[i] = events_to_frames(read_mnist_file(f, _EVENT_DTYPE, is_stream=True), n_bins)
        else:
            members = _indexed(list(paths), _FOLDER[split])
            frames = np.empty((len(members), n_bins, 2, 34, 34), np.uint8)
            for i, (_, _, rel) in enumerate(members):
                frames[i] = events_to_frames(read_mnist_file(str(paths[rel]), _EVENT_DTYPE), n_bins)
        labels = np.array([label for _, label, _ in members], np.int64)
        return Built(frames, labels, {"sample_ids": [index for index, _, _ in members]})


def _indexed(names: list[str], folder: str) -> list[tuple[int, int, str]]:
    """``(sample index, label, name)`` of the .bin entries of ``folder``, by sample index."""
    out = []
    for name in names:
        m = _MEMBER.search(name)
        if m and m.group(1) == folder:
            out.append((int(m.group(3)), int(m.group(2)), name))
    return sorted(out)


DATASETS.register(NMNIST.name, NMNIST())
