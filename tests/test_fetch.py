"""`neuroenergy data fetch/verify`: a mirror (HTTP on 127.0.0.1, file://) fills an empty root.

The mirror is the real data root served as it is laid out; every fetched file
is verified against the shipped checksums, and loads read the fetched root.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from neuroenergy.cli import main
from neuroenergy.data import load
from neuroenergy.data.fetch import dataset_sources, fetch_root, verify_root
from neuroenergy.errors import ChecksumError, DataNotFoundError, InvalidInputError

from test_data import DATA_ROOT, EXPECTED_COUNTS


@pytest.fixture()
def http_mirror():
    """The data root served read-only over HTTP on 127.0.0.1 (a free port)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA_ROOT))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture()
def online(monkeypatch, tmp_path):
    monkeypatch.delenv("NEUROENERGY_OFFLINE", raising=False)
    monkeypatch.delenv("NEUROENERGY_MIRROR", raising=False)
    monkeypatch.setenv("NEUROENERGY_CACHE", str(tmp_path / "cache"))


def test_fetch_from_http_mirror_fills_an_empty_root(http_mirror, online, tmp_path, capsys) -> None:
    root = tmp_path / "root"
    assert main(["data", "fetch", "sst2", "mitbih", "--root", str(root), "--mirror", http_mirror, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "sst2               2 downloaded (3.9 MB)" in out and "mitbih            45 downloaded (29.3 MB)" in out
    checked, problems = verify_root(["sst2", "mitbih"], root)
    assert checked == {"sst2": 2, "mitbih": 45} and problems == []
    # byte-identical to the mirror's files
    assert (root / "SST-2" / "dev.tsv").read_bytes() == (DATA_ROOT / "SST-2" / "dev.tsv").read_bytes()
    assert tuple(load("sst2", "test", root=root).class_counts()) == EXPECTED_COUNTS["sst2"]["test"]
    # a second fetch finds everything present and downloads nothing
    result = fetch_root(["sst2"], root, mirror=http_mirror)
    assert result.present == {"sst2": 2} and result.downloaded == {"sst2": 0}


def test_file_mirror_checks_every_file(online, tmp_path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(DATA_ROOT / "SST-2", mirror / "SST-2")
    with open(mirror / "SST-2" / "dev.tsv", "r+b") as f:  # same size, one byte changed
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="dev.tsv"):
        fetch_root(["sst2"], root, mirror=mirror.as_uri())
    assert (root / "SST-2" / "train.tsv").is_file() and not (root / "SST-2" / "dev.tsv").exists()


def test_verify_names_every_bad_or_missing_file(tmp_path, capsys) -> None:
    root = tmp_path / "root"
    (root / "SST-2").mkdir(parents=True)
    (root / "SST-2" / "dev.tsv").write_bytes((DATA_ROOT / "SST-2" / "dev.tsv").read_bytes()[:-1])
    checked, problems = verify_root(["sst2"], root)
    assert checked == {"sst2": 2}
    assert [(p.path.name, p.kind) for p in problems] == [("train.tsv", "missing"), ("dev.tsv", "size")]
    assert main(["data", "verify", "sst2", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"missing: {root / 'SST-2' / 'train.tsv'}" in out and f"size: {root / 'SST-2' / 'dev.tsv'}" in out


def test_fetch_refusals(online, tmp_path, monkeypatch) -> None:
    with pytest.raises(InvalidInputError, match="not an http"):
        fetch_root(["sst2"], tmp_path, mirror="ftp://example.org/data")
    with pytest.raises(InvalidInputError, match="unknown dataset cifar"):
        fetch_root(["cifar"], tmp_path)
    monkeypatch.setenv("NEUROENERGY_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match="NEUROENERGY_OFFLINE is set"):
        fetch_root(["sst2"], tmp_path / "empty")
    # nothing is missing: a fetch writes nothing and needs no network
    assert fetch_root(["sst2"], DATA_ROOT).downloaded == {"sst2": 0}


def test_sources_cover_the_shipped_checksums() -> None:
    # the fetch lists are the checksum tables: every verified file, each once
    counts = {name: len(dataset_sources(name, DATA_ROOT)) for name in ("mnist", "nmnist", "fsdd", "mitbih", "sst2")}
    assert counts == {"mnist": 4, "nmnist": 1100, "fsdd": 3000, "mitbih": 45, "sst2": 2}
    fsdd = dataset_sources("fsdd", DATA_ROOT)
    assert {s.archive.url for s in fsdd} == {
        "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/26eb9aaf76e81b692f806f9140c2d2777410d7a1.zip"
    } and all(not s.urls for s in fsdd)
