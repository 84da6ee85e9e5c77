"""MNIST and Fashion-MNIST, read straight from the original IDX ``.gz`` files.

Layout (torchvision's): ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``
and the same under ``<root>/FashionMNIST/raw/``. No torchvision needed: the
files are gunzipped and parsed with numpy.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from neuroenergy.data._checksums import table
from neuroenergy.data.core import DATASETS, Built, DatasetDef
from neuroenergy.data.sources import SourceFile
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

__all__ = ["IdxImages", "read_idx"]

_IDX_UBYTE = 0x08  # IDX element-type code of unsigned bytes


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzipped IDX file into a uint8 array of the dimensions in its header."""
    with gzip.open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] != _IDX_UBYTE:
        raise InvalidInputError(f"{path} is not an unsigned-byte IDX file")
    ndim = buf[3]
    dims = struct.unpack(f">{ndim}I", buf[4 : 4 + 4 * ndim])
    body = 4 + 4 * ndim
    if len(buf) - body != int(np.prod(dims)):
        raise InvalidInputError(f"{path}: header says {dims} but holds {len(buf) - body} bytes")
    # .copy(): frombuffer over bytes is read-only and torch wants writable arrays.
    return np.frombuffer(buf, np.uint8, offset=body).reshape(dims).copy()


class IdxImages(DatasetDef):
    """28x28 grey images in the IDX format (MNIST, Fashion-MNIST).

    Samples: ``inputs`` uint8 ``[N, 1, 28, 28]`` (pixels 0..255, the original
    values, original order); ``self[i]`` / ``batches`` yield float32
    ``[1, 28, 28]`` = pixel / 255 in [0, 1]. Targets int64 in 0..9.
    """

    modality = "vision"
    storage_dtype = "uint8"
    folder = ""
    mirrors: tuple[str, ...] = ()
    """Base URLs that serve the four ``.gz`` files by name, tried in order."""
    counts: Mapping[str, tuple[int, ...]] = MappingProxyType({})
    """Per-class counts per split (pinned: the files are checksum-verified)."""
    _files = MappingProxyType(
        {
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        }
    )

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        return InputSpec("image", (1, 28, 28))

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        return (0.0, 1.0)

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        return (
            "original IDX files, original order; stored as uint8 [N, 1, 28, 28] (pixels 0..255); "
            "yielded as float32 pixel/255 in [0, 1]; no normalisation, no augmentation"
        )

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        known = table(self.folder)
        out = []
        for filename in self._files[split]:
            relpath = f"{self.folder}/raw/{filename}"
            sha256, size = known[relpath]
            out.append(SourceFile(relpath, sha256, size, urls=tuple(m + filename for m in self.mirrors)))
        return out

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        return self.counts[split]

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        images_file, labels_file = self._files[split]
        images = read_idx(paths[f"{self.folder}/raw/{images_file}"])
        labels = read_idx(paths[f"{self.folder}/raw/{labels_file}"])
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise InvalidInputError(f"{self.name}: unexpected IDX shapes {images.shape} / {labels.shape}")
        return Built(images[:, None], labels.astype(np.int64), {})


class MNIST(IdxImages):
    """MNIST handwritten digits: 60,000 train / 10,000 test, 10 classes (digits 0-9).

    Input ``image [1, 28, 28]``: stored uint8 0..255, yielded float32 in [0, 1].
    """

    name = "mnist"
    folder = "MNIST"
    class_names = tuple(str(d) for d in range(10))
    license = "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)"
    citation = "LeCun, Bottou, Bengio, Haffner (1998), Gradient-based learning applied to document recognition."
    source = "http://yann.lecun.com/exdb/mnist/"
    # The official site often refuses downloads; torchvision's mirror holds the
    # same bytes (the checksums decide either way).
    mirrors = ("http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/")
    counts = MappingProxyType(
        {
            "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
            "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
        }
    )


class FashionMNIST(IdxImages):
    """Fashion-MNIST (Zalando): 60,000 train / 10,000 test, 10 balanced clothing classes.

    Input ``image [1, 28, 28]``: stored uint8 0..255, yielded float32 in [0, 1].
    """

    name = "fashion_mnist"
    folder = "FashionMNIST"
    class_names = (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    license = "MIT (Copyright 2017 Zalando SE)"
    citation = (
        "Xiao, Rasul, Vollgraf (2017), Fashion-MNIST: a Novel Image Dataset for Benchmarking "
        "Machine Learning Algorithms, arXiv:1708.07747."
    )
    source = "https://github.com/zalandoresearch/fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    counts = MappingProxyType({"train": (6000,) * 10, "test": (1000,) * 10})


DATASETS.register(MNIST.name, MNIST())
DATASETS.register(FashionMNIST.name, FashionMNIST())
