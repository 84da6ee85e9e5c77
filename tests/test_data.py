"""Tests of neuroenergy.data against the real datasets.

The data root is ``$NEUROENERGY_DATA`` or ``../shared/data`` (relative to
the repository root). Nothing is skipped: without the data these tests fail.
Every test runs offline (``NEUROENERGY_OFFLINE=1``) except the download tests,
which use a local HTTP server. The cache is one temp directory for the whole
session, so each dataset's arrays are built once.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import math
import os
import shutil
import socket
import stat
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import neuroenergy.data as data
from neuroenergy.data import DATASETS, info, list_datasets, load, resolve_root, stratified_indices
from neuroenergy.data import mitbih, mnist, nmnist, sources
from neuroenergy.errors import (
    ChecksumError,
    DataNotFoundError,
    InvalidInputError,
    NeuroEnergyError,
    UnknownNameError,
)

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = (REPO / os.environ.get("NEUROENERGY_DATA", "../shared/data")).resolve()
#: The registry's content, checked by test_list_datasets alone; every other test enumerates
#: list_datasets() (a new dataset then needs its documented values below, or those tests fail).
NAMES = ["fashion_mnist", "fsdd", "mitbih", "mnist", "nmnist", "sst2"]
DATASET_NAMES = list_datasets()

# Per-class counts from shared/data/MANIFEST.md (mitbih: AAMI N, S, V, F, Q of
# the DS1 / DS2 records -- every annotated beat is kept).
EXPECTED_COUNTS = {
    "mnist": {
        "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
        "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
    },
    "fashion_mnist": {"train": (6000,) * 10, "test": (1000,) * 10},
    "nmnist": {
        "train": (97, 116, 99, 93, 105, 92, 94, 117, 87, 100),
        "test": (8, 14, 8, 11, 14, 7, 10, 15, 2, 11),
    },
    "fsdd": {"train": (270,) * 10, "test": (30,) * 10},
    "mitbih": {"train": (14555, 810, 2381, 375, 2), "test": (13556, 1689, 2274, 375, 0)},
    "sst2": {"train": (29780, 37569), "test": (428, 444)},
}
# A root holding the official N-MNIST archives (`neuroenergy data fetch --full`) has the full
# set, which re-records every MNIST sample under the same label; the subset's counts otherwise.
if (DATA_ROOT / "NMNIST" / "train.zip").is_file():
    EXPECTED_COUNTS["nmnist"] = EXPECTED_COUNTS["mnist"]
# split_mode="beat": 20 % of each class (rounded half up) to test; totals = MANIFEST's all-15 counts.
MITBIH_ALL = (28111, 2499, 4655, 750, 2)
MITBIH_BEAT = {"train": (22489, 1999, 3724, 600, 2), "test": (5622, 500, 931, 150, 0)}

# name -> (modality, kind, shape, storage dtype, yielded dtype, value range)
DOCUMENTED = {
    "mnist": ("vision", "image", (1, 28, 28), torch.uint8, torch.float32, (0.0, 1.0)),
    "fashion_mnist": ("vision", "image", (1, 28, 28), torch.uint8, torch.float32, (0.0, 1.0)),
    "nmnist": ("neuromorphic", "events", (10, 2, 34, 34), torch.uint8, torch.float32, (0.0, 255.0)),
    "fsdd": ("audio", "audio", (40, 64), torch.float32, torch.float32, (0.0, 1.0)),
    "mitbih": ("physiological", "signal", (1, 256), torch.float32, torch.float32, (-math.sqrt(255), math.sqrt(255))),
    "sst2": ("text", "tokens", (48,), torch.int16, torch.int64, (0.0, 14817.0)),
}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("neuroenergy-cache")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, session_cache: Path) -> None:
    monkeypatch.setenv("NEUROENERGY_DATA", str(DATA_ROOT))
    monkeypatch.setenv("NEUROENERGY_CACHE", str(session_cache))
    monkeypatch.setenv("NEUROENERGY_OFFLINE", "1")


@pytest.fixture(scope="session")
def loaded():
    """``loaded(name, split, **options)``: each load happens once per session."""
    store: dict[tuple, data.LoadedDataset] = {}

    def get(name: str, split: str, **options) -> data.LoadedDataset:
        key = (name, split, tuple(sorted(options.items())))
        if key not in store:
            store[key] = load(name, split, root=DATA_ROOT, **options)
        return store[key]

    return get


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Make every connection attempt fail; returns the list of attempts made."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return attempts


def _mirror(name: str, split: str, dest: Path, **options) -> list[str]:
    """Lay out ``dest`` like the real root for one load, with symlinks; returns the relpaths."""
    ds = DATASETS.get(name)
    opts = ds.check_options(options)
    rels = [s.relpath for s in ds.sources(split, DATA_ROOT, Path("/nonexistent"), opts)]
    for rel in rels:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).symlink_to(DATA_ROOT / rel)
    return rels


def _flip_byte(path: Path, offset: int = 100) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset % len(raw)] ^= 0xFF
    path.write_bytes(bytes(raw))


# --------------------------------------------------------------------------- registry and info


def test_data_root_is_present() -> None:
    # the shared root, or one filled by `neuroenergy data fetch`: every source file is there
    from neuroenergy.data.fetch import dataset_sources

    missing = [s.relpath for name in DATASET_NAMES for s in dataset_sources(name, DATA_ROOT)
               if not (DATA_ROOT / s.relpath).is_file()]
    assert not missing, (f"real data missing at {DATA_ROOT} ({len(missing)} files, first {missing[0]}); "
                         "set NEUROENERGY_DATA or run `neuroenergy data fetch`")


def test_list_datasets() -> None:
    assert list_datasets() == NAMES
    assert {info(n).modality for n in list_datasets()} == set(data.MODALITIES)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_info_matches_manifest(name: str) -> None:
    modality, kind, shape, storage, dtype, value_range = DOCUMENTED[name]
    i = info(name)
    assert i.name == name and i.modality == modality
    assert i.input_spec.kind == kind and i.input_spec.shape == shape
    assert i.storage_dtype == str(storage).removeprefix("torch.")
    assert i.dtype == str(dtype).removeprefix("torch.")
    assert i.value_range == pytest.approx(value_range)
    assert i.class_counts == EXPECTED_COUNTS[name]
    assert i.split_sizes == {s: sum(c) for s, c in EXPECTED_COUNTS[name].items()}
    assert i.num_classes == len(i.class_names) == len(EXPECTED_COUNTS[name]["train"])
    for split, counts in EXPECTED_COUNTS[name].items():
        present = [c for c in counts if c]
        assert i.imbalance[split] == pytest.approx(max(present) / min(present))
    assert i.license and i.citation and i.source and len(i.preprocessing) > 80
    with pytest.raises(dataclasses.FrozenInstanceError):
        i.name = "other"  # type: ignore[misc]


def test_info_specifics() -> None:
    assert info("sst2").input_spec.vocab_size == 14818
    assert info("sst2", max_len=20).input_spec.shape == (20,)
    assert info("nmnist", n_time_bins=25).input_spec.shape == (25, 2, 34, 34)
    assert info("mitbih").imbalance["train"] == pytest.approx(14555 / 2)
    assert info("mitbih").imbalance["test"] == pytest.approx(13556 / 375)
    beat = info("mitbih", split_mode="beat")
    assert beat.class_counts == MITBIH_BEAT and beat.options == {"split_mode": "beat"}


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_load_counts_shape_dtype_range(loaded, name: str, split: str) -> None:
    modality, kind, shape, storage, dtype, (lo, hi) = DOCUMENTED[name]
    d = loaded(name, split)
    assert len(d) == sum(EXPECTED_COUNTS[name][split]) == d.info.split_sizes[split]
    assert d.class_counts() == EXPECTED_COUNTS[name][split]
    assert d.inputs.shape == (len(d), *shape) and d.inputs.dtype == storage
    assert d.targets.dtype == torch.int64 and d.targets.shape == (len(d),)
    # The whole split lies in the documented range.
    extremes = d.convert(torch.stack([d.inputs.min(), d.inputs.max()]))
    assert lo <= extremes[0].item() <= extremes[1].item() <= hi
    for index in (0, len(d) // 2, -1):
        x, y = d[index]
        assert x.shape == shape and x.dtype == dtype and y.dtype == torch.int64 and y.ndim == 0
        assert lo <= x.min().item() <= x.max().item() <= hi
        assert 0 <= y.item() < d.info.num_classes


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_batches_shape_dtype(loaded, name: str) -> None:
    d = loaded(name, "test")
    _, _, shape, _, dtype, _ = DOCUMENTED[name]
    x, y = next(d.batches(64, shuffle=True, seed=3))
    assert x.shape == (64, *shape) and x.dtype == dtype
    assert y.shape == (64,) and y.dtype == torch.int64
    x2, y2 = next(d.batches(64, shuffle=True, seed=3))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    # Batches equal the per-sample view.
    xs, ys = next(d.batches(5))
    assert torch.equal(xs[3], d[3][0]) and torch.equal(ys, d.targets[:5])


def test_batches_cover_each_sample_once(loaded) -> None:
    d = loaded("mnist", "test")
    batches = list(d.batches(3000, shuffle=True, seed=1))
    assert [len(y) for _, y in batches] == [3000, 3000, 3000, 1000]
    ys = torch.cat([y for _, y in batches])
    assert torch.equal(ys.sort().values, d.targets.sort().values)
    assert not torch.equal(ys, d.targets)
    assert [len(y) for _, y in d.batches(3000, drop_last=True)] == [3000] * 3
    x, _ = next(d.batches(10, device="cpu"))
    x.fill_(7.0)  # batches are copies: the dataset is untouched
    assert d[0][0].max() <= 1.0
    with pytest.raises(InvalidInputError):
        d.batches(0)


def test_torch_dataloader_compatible(loaded) -> None:
    d = loaded("fsdd", "test")
    x, y = next(iter(torch.utils.data.DataLoader(d, batch_size=8)))
    assert x.shape == (8, 40, 64) and x.dtype == torch.float32 and y.dtype == torch.int64


# --------------------------------------------------------------------------- per-dataset facts


def test_mnist_pixels_are_original(loaded) -> None:
    d = loaded("mnist", "train")
    assert d.inputs.max().item() == 255 and d.inputs.min().item() == 0
    assert d.targets[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's first training labels
    x, _ = d[0]
    assert torch.allclose(x, d.inputs[0].float() / 255)


def test_mitbih_record_split_has_no_shared_patient(loaded) -> None:
    assert not set(mitbih.DS1) & set(mitbih.DS2)
    assert sorted(mitbih.DS1 + mitbih.DS2) == list(mitbih.RECORDS) and len(mitbih.RECORDS) == 15
    train, test = loaded("mitbih", "train"), loaded("mitbih", "test")
    assert {str(r) for r in train.meta["record"]} == set(mitbih.DS1)
    assert {str(r) for r in test.meta["record"]} == set(mitbih.DS2)


def test_mitbih_beat_split(loaded) -> None:
    train, test = loaded("mitbih", "train", split_mode="beat"), loaded("mitbih", "test", split_mode="beat")
    assert train.class_counts() == MITBIH_BEAT["train"] and test.class_counts() == MITBIH_BEAT["test"]
    assert tuple(a + b for a, b in zip(train.class_counts(), test.class_counts())) == MITBIH_ALL
    # Patients are shared in this mode (that is its difference from the default).
    assert set(train.meta["record"]) & set(test.meta["record"])
    # Disjoint: no window appears in both splits.
    key = lambda d: {hashlib.sha1(r.numpy().tobytes()).hexdigest() for r in d.inputs[:, 0]}  # noqa: E731
    assert not key(train) & key(test)


def test_mitbih_windows_are_zscored_beats(loaded) -> None:
    d = loaded("mitbih", "test")
    x = d.inputs[:, 0].double()
    assert x.mean(1).abs().max() < 1e-5
    assert (x.std(1, unbiased=False) - 1).abs().max() < 1e-4
    # The R peak sits at sample 90 (0.25 s in): normal beats peak there.
    normal = x[d.targets == 0]
    assert abs(normal.abs().argmax(1).median().item() - mitbih.PRE) <= 3


def test_nmnist_frames_align_with_mnist_digits(loaded) -> None:
    """Orientation check: a recording's event image correlates with the MNIST digit of the same index."""
    n, m = loaded("nmnist", "train"), loaded("mnist", "train")
    ids = torch.tensor(n.meta["sample_ids"])
    assert ids.tolist() == list(range(1, 1001))
    events = n.inputs.float().sum((1, 2))[:, 3:31, 3:31].flatten(1)  # [N, 28 x 28] centre crop
    digits = m.inputs[ids - 1, 0].float().flatten(1)
    assert torch.equal(n.targets, m.targets[ids - 1])

    def corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))

    same, other = corr(events, digits), corr(events, digits.roll(1, 0))
    assert (same > other).float().mean() > 0.95


def test_nmnist_time_bins_option(loaded) -> None:
    d5 = loaded("nmnist", "test", n_time_bins=5)
    d10 = loaded("nmnist", "test")
    assert torch.equal(load("nmnist", "test", n_time_bins=np.int64(5)).inputs, d5.inputs)
    assert d5.inputs.shape == (100, 5, 2, 34, 34) and d5.info.input_spec.shape == (5, 2, 34, 34)
    assert torch.equal(d5.targets, d10.targets)
    # Coarser bins hold the same events (up to tonic's dropped tail).
    total5, total10 = d5.inputs.sum((1, 2, 3, 4)).double(), d10.inputs.sum((1, 2, 3, 4)).double()
    assert ((total5 - total10).abs() / total10).max() < 0.01


def test_nmnist_archive_layout_reads_the_same_events(loaded, tmp_path: Path) -> None:
    archive = tmp_path / "test.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((DATA_ROOT / "NMNIST" / "Test").rglob("*.bin")):
            zf.write(path, f"Test/{path.parent.name}/{path.name}")
    built = DATASETS.get("nmnist").build("test", {"NMNIST/test.zip": archive}, {"n_time_bins": 10})
    d = loaded("nmnist", "test")
    assert np.array_equal(built.inputs, d.inputs.numpy()) and np.array_equal(built.targets, d.targets.numpy())
    # An archive in the root takes precedence and is md5-checked (this one is not the official file).
    root = tmp_path / "root"
    (root / "NMNIST").mkdir(parents=True)
    shutil.copy(archive, root / "NMNIST" / "test.zip")
    assert info("nmnist", root=root).split_sizes["test"] == 10000
    with pytest.raises(ChecksumError, match=r"NMNIST/test\.zip"):
        load("nmnist", "test", root=root)


def test_fsdd_features(loaded) -> None:
    d = loaded("fsdd", "train")
    assert torch.all(d.inputs.amax((1, 2)) == 1.0)  # relative to each utterance's maximum
    assert d.inputs.min() >= 0.0
    assert set(d.meta["speakers"]) == {"george", "jackson", "lucas", "nicolas", "theo", "yweweler"}
    rels = [s.relpath for s in DATASETS.get("fsdd").sources("test", DATA_ROOT, Path("."), {})]
    assert len(rels) == 300 and all(int(Path(r).stem.split("_")[2]) < 5 for r in rels)
    # Padding is silence: the last frames of a short recording are 0.
    assert (d.inputs[:, :, -1] == 0).all(dim=1).float().mean() > 0.5


def test_sst2_tokens(loaded) -> None:
    train, test = loaded("sst2", "train"), loaded("sst2", "test")
    vocab = train.meta["vocab"]
    assert len(vocab) == 14818 and vocab[:2] == ["<pad>", "<unk>"] and test.meta["vocab"] == vocab
    first = [vocab[i] for i in train.inputs[0].tolist() if i != 0]
    assert first == "hide new secretions from the parental units".split()
    assert train.inputs[0, len(first) :].eq(0).all()
    assert [vocab[i] for i in test.inputs[0].tolist() if i != 0] == (
        "it 's a charming and often affecting journey .".split()
    )
    ids = test.inputs.long()
    unknown = (ids == 1).sum().item() / (ids > 0).sum().item()
    assert 0.05 < unknown < 0.06  # dev words unseen in training map to 1
    assert (train.inputs.long() != 1).all()  # every training word is in the vocabulary
    short = load("sst2", "test", root=DATA_ROOT, max_len=8)
    assert short.inputs.shape == (872, 8) and torch.equal(short.inputs, test.inputs[:, :8])


# --------------------------------------------------------------------------- limit


def test_limit_is_stratified_and_deterministic(loaded) -> None:
    full = loaded("mnist", "train")
    a = load("mnist", "train", limit=1000, seed=0)
    b = load("mnist", "train", limit=1000, seed=0)
    c = load("mnist", "train", limit=1000, seed=1)
    assert len(a) == 1000 and torch.equal(a.indices, b.indices) and torch.equal(a.inputs, b.inputs)
    assert not torch.equal(a.indices, c.indices)
    assert torch.equal(a.inputs, full.inputs[a.indices]) and torch.equal(a.targets, full.targets[a.indices])
    expected = np.array(EXPECTED_COUNTS["mnist"]["train"]) * 1000 / 60000
    assert np.abs(np.array(a.class_counts()) - expected).max() < 1
    assert sum(a.class_counts()) == 1000
    assert len(load("mnist", "test", limit=10**6)) == 10000
    # A rare class keeps its share: mitbih train has 2 Q beats in 18,123.
    m = load("mitbih", "train", limit=9000, seed=4)
    assert m.class_counts()[4] == 1 and sum(m.class_counts()) == 9000


def test_stratified_indices_rules() -> None:
    targets = np.array([0] * 50 + [1] * 30 + [2] * 20)
    idx = stratified_indices(targets, 7, seed=5)
    assert np.bincount(targets[idx]).tolist() == [4, 2, 1]  # 3.5, 2.1, 1.4 -> largest remainders
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, stratified_indices(targets, 7, seed=5))
    for bad in (0, -3, 2.5, True, "10"):
        with pytest.raises(InvalidInputError):
            stratified_indices(targets, bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- user errors


def test_unknown_dataset() -> None:
    with pytest.raises(UnknownNameError, match="known datasets: fashion_mnist, fsdd, mitbih, mnist, nmnist, sst2"):
        load("cifar10", "train")
    with pytest.raises(UnknownNameError):
        info("MNIST")


@pytest.mark.parametrize("split", ["validation", "dev", "TRAIN", None, 0])
def test_bad_split(split) -> None:
    with pytest.raises(InvalidInputError, match="split must be 'train' or 'test'"):
        load("mnist", split)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="n_time_bins"):
        load("mnist", "train", n_time_bins=5)
    with pytest.raises(InvalidInputError, match="n_time_bins must be"):
        load("nmnist", "train", n_time_bins=0)
    with pytest.raises(InvalidInputError, match="split_mode"):
        load("mitbih", "train", split_mode="patient")
    with pytest.raises(InvalidInputError, match="max_len"):
        info("sst2", max_len=-1)
    for limit in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="limit"):
            load("mnist", "test", limit=limit)
    with pytest.raises(InvalidInputError, match="seed"):
        load("mnist", "test", seed=-1)
    with pytest.raises(InvalidInputError, match="root"):
        load("mnist", "test", root=42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- missing and corrupted files


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_offline_empty_root_fails_at_once_naming_files(name: str, tmp_path: Path, monkeypatch) -> None:
    attempts = _no_network(monkeypatch)
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DataNotFoundError) as caught:
        load(name, "test", root=root)
    err = caught.value
    assert isinstance(err, FileNotFoundError) and isinstance(err, NeuroEnergyError)
    ds = DATASETS.get(name)
    expected = [root / s.relpath for s in ds.sources("test", root, tmp_path, ds.check_options({}))]
    assert list(err.missing) == expected
    message = str(err)
    assert "\n" not in message and "Not downloaded: NEUROENERGY_OFFLINE is set" in message
    assert attempts == []  # failed without touching the network
    for path in expected[:20]:
        assert str(path) in message
    if len(expected) > 20:
        assert f"and {len(expected) - 20} more" in message
    assert not any(root.iterdir())  # nothing written into the root


def test_missing_single_file_is_named(tmp_path: Path, monkeypatch) -> None:
    attempts = _no_network(monkeypatch)
    _mirror("mitbih", "test", tmp_path)
    (tmp_path / "mitdb" / "221.atr").unlink()
    with pytest.raises(DataNotFoundError) as caught:
        load("mitbih", "test", root=tmp_path)
    assert list(caught.value.missing) == [tmp_path / "mitdb" / "221.atr"]
    assert "221.dat" not in str(caught.value) and "221.hea" not in str(caught.value)
    assert attempts == []


@pytest.mark.parametrize(
    "name, relpath",
    [
        ("mnist", "MNIST/raw/t10k-labels-idx1-ubyte.gz"),
        ("fashion_mnist", "FashionMNIST/raw/t10k-images-idx3-ubyte.gz"),
        ("nmnist", "NMNIST/Test/8/00062.bin"),
        ("fsdd", "FSDD/recordings/3_theo_2.wav"),
        ("mitbih", "mitdb/232.dat"),
        ("sst2", "SST-2/dev.tsv"),
    ],
)
def test_corrupted_file_is_named(name: str, relpath: str, tmp_path: Path) -> None:
    assert relpath in _mirror(name, "test", tmp_path)
    target = tmp_path / relpath
    target.unlink()
    shutil.copy(DATA_ROOT / relpath, target)
    _flip_byte(target)
    with pytest.raises(ChecksumError) as caught:
        load(name, "test", root=tmp_path)
    assert str(target) in str(caught.value) and "expected" in str(caught.value)


def test_corruption_after_verification_is_caught(tmp_path: Path) -> None:
    _mirror("mnist", "test", tmp_path)
    labels = tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz"
    labels.unlink()
    shutil.copy(DATA_ROOT / "MNIST/raw/t10k-labels-idx1-ubyte.gz", labels)
    assert len(load("mnist", "test", root=tmp_path)) == 10000  # verified and remembered
    _flip_byte(labels, offset=2000)
    st = labels.stat()
    os.utime(labels, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ChecksumError, match="t10k-labels"):
        load("mnist", "test", root=tmp_path)
    # A truncated file fails on its size.
    labels.write_bytes(b"\x1f\x8b")
    with pytest.raises(ChecksumError, match="2 bytes, expected 4542"):
        load("mnist", "test", root=tmp_path)


# --------------------------------------------------------------------------- caching and the read-only root


def test_verification_is_remembered(loaded, session_cache: Path, monkeypatch) -> None:
    loaded("fsdd", "test")
    memo = session_cache / "verified" / "fsdd.json"
    assert memo.is_file() and str(DATA_ROOT / "FSDD/recordings/0_george_0.wav") in memo.read_text()

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(sources, "hash_file", no_hashing)
    assert len(load("fsdd", "test")) == 300


def test_second_load_reads_the_cache(loaded, session_cache: Path, monkeypatch) -> None:
    first = loaded("mnist", "train")
    entries = sorted(p.name.split("-", 1)[0] for p in (session_cache / "arrays" / "mnist").glob("*.inputs.npy"))
    assert "train" in entries

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed the IDX files again")

    monkeypatch.setattr(mnist, "read_idx", no_parsing)
    second = load("mnist", "train")
    assert torch.equal(first.inputs, second.inputs) and torch.equal(first.targets, second.targets)


def test_cache_key_changes_with_options(loaded, session_cache: Path) -> None:
    loaded("nmnist", "test")
    loaded("nmnist", "test", n_time_bins=5)
    assert len(list((session_cache / "arrays" / "nmnist").glob("test-*.meta.json"))) == 2


def test_cache_env_and_read_only_root(tmp_path: Path, monkeypatch) -> None:
    root, cache = tmp_path / "root", tmp_path / "cache"
    _mirror("sst2", "test", root)
    monkeypatch.setenv("NEUROENERGY_CACHE", str(cache))
    before = sorted((p, p.lstat().st_mtime_ns) for p in root.rglob("*"))
    for p in [root, *root.rglob("*")]:
        if p.is_dir():
            p.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        d = load("sst2", "test", root=root)
    finally:
        for p in [root, *root.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(stat.S_IRWXU)
    assert len(d) == 872
    assert sorted((p, p.lstat().st_mtime_ns) for p in root.rglob("*")) == before
    assert list((cache / "arrays" / "sst2").glob("test-*.inputs.npy"))


def test_root_resolution(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEUROENERGY_DATA", str(tmp_path / "from-env"))
    assert resolve_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_root() == tmp_path / "from-env"
    monkeypatch.delenv("NEUROENERGY_DATA")
    monkeypatch.chdir(tmp_path)
    assert resolve_root() == tmp_path / "data"
    assert data.cache_dir() == Path(os.environ["NEUROENERGY_CACHE"])
    monkeypatch.delenv("NEUROENERGY_CACHE")
    assert data.cache_dir() == Path.home() / ".cache" / "neuroenergy"


# --------------------------------------------------------------------------- downloads (local server)


@pytest.fixture
def file_server(tmp_path: Path):
    """An HTTP server on 127.0.0.1 serving tmp_path/'served'; yields (dir, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_files_are_downloaded_into_the_cache(file_server, tmp_path: Path, monkeypatch) -> None:
    served, url = file_server
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DATA_ROOT / "MNIST/raw" / name, served / name)
    root, cache = tmp_path / "root", tmp_path / "cache"
    root.mkdir()
    monkeypatch.delenv("NEUROENERGY_OFFLINE")
    monkeypatch.setenv("NEUROENERGY_CACHE", str(cache))
    # The first mirror is down: the next one is used.
    monkeypatch.setattr(DATASETS.get("mnist"), "mirrors", (f"http://127.0.0.1:{_closed_port()}/", url))
    d = load("mnist", "test", root=root)
    assert d.class_counts() == EXPECTED_COUNTS["mnist"]["test"]
    assert not any(root.iterdir())  # the root is never written
    assert (cache / "downloads/MNIST/raw/t10k-labels-idx1-ubyte.gz").is_file()
    # Next time the download cache is used, without any network.
    attempts = _no_network(monkeypatch)
    assert len(load("mnist", "test", root=root)) == 10000 and attempts == []


def test_downloaded_file_with_wrong_checksum_is_rejected(file_server, tmp_path: Path, monkeypatch) -> None:
    served, url = file_server
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DATA_ROOT / "MNIST/raw" / name, served / name)
    _flip_byte(served / "t10k-labels-idx1-ubyte.gz")
    cache = tmp_path / "cache"
    monkeypatch.delenv("NEUROENERGY_OFFLINE")
    monkeypatch.setenv("NEUROENERGY_CACHE", str(cache))
    monkeypatch.setattr(DATASETS.get("mnist"), "mirrors", (url,))
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte.gz"):
        load("mnist", "test", root=tmp_path / "empty")
    assert not (cache / "downloads/MNIST/raw/t10k-labels-idx1-ubyte.gz").exists()
    assert not list((cache / "downloads/MNIST/raw").glob(".*tmp"))


def test_archive_members_are_extracted(file_server, tmp_path: Path, monkeypatch) -> None:
    served, url = file_server
    with zipfile.ZipFile(served / "SST-2.zip", "w") as zf:
        for name in ("train.tsv", "dev.tsv"):
            zf.write(DATA_ROOT / "SST-2" / name, f"SST-2/{name}")
    monkeypatch.delenv("NEUROENERGY_OFFLINE")
    monkeypatch.setenv("NEUROENERGY_CACHE", str(tmp_path / "cache"))
    sst2 = DATASETS.get("sst2")
    original = sst2.sources

    def local_sources(*args, **kwargs):
        return [
            dataclasses.replace(s, archive=dataclasses.replace(s.archive, url=url + "SST-2.zip"))
            for s in original(*args, **kwargs)
        ]

    monkeypatch.setattr(sst2, "sources", local_sources)
    d = load("sst2", "test", root=tmp_path / "empty")
    assert d.class_counts() == EXPECTED_COUNTS["sst2"]["test"]
    assert (tmp_path / "cache/downloads/SST-2/train.tsv").is_file()


def test_unreachable_source_fails_at_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("NEUROENERGY_OFFLINE")
    monkeypatch.setattr(DATASETS.get("mnist"), "mirrors", (f"http://127.0.0.1:{_closed_port()}/",))
    with pytest.raises(DataNotFoundError, match="not reachable") as caught:
        load("mnist", "test", root=tmp_path)
    assert str(tmp_path / "MNIST/raw/t10k-images-idx3-ubyte.gz") in str(caught.value)


def test_probe_never_hangs(monkeypatch) -> None:
    """A host that never answers (or a DNS lookup that hangs) is abandoned after the timeout."""

    def hang(*args, **kwargs):
        time.sleep(30)
        # What a real connection does in the end; returning None would make the
        # abandoned probe thread fail on .close() during some later test.
        raise socket.timeout("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    reason = sources._connect("example.org", 443, timeout=0.2)
    assert time.monotonic() - start < 5
    assert reason == "no connection within 0.2 s"


def test_fsdd_features_say_how_to_fix_a_torchaudio_that_does_not_load(monkeypatch):
    # A torchaudio built for another torch release fails inside its compiled library; the user
    # gets one line naming the release to install, not a ctypes traceback.
    import re
    import sys

    from neuroenergy.data import fsdd
    from neuroenergy.errors import InstallError

    monkeypatch.setitem(sys.modules, "torchaudio", None)  # import raises ImportError
    release = torch.__version__.split("+")[0]
    with pytest.raises(InstallError, match=rf"pip install 'torchaudio=={re.escape(release)}'"):
        fsdd.log_mel(np.zeros((1, fsdd.N_SAMPLES), dtype=np.float32))
