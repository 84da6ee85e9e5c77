"""neuroenergy._io: the one atomic writer (records, cubes, cached arrays, downloads)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from neuroenergy import _io
from neuroenergy._io import TEMPORARY_SUFFIX, atomic_path, atomic_write, atomic_write_text


def test_atomic_write_text_creates_parent_and_writes(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"
    atomic_write_text(path, "{\"x\": 1}\n")
    assert path.read_text(encoding="utf-8") == "{\"x\": 1}\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]


def test_atomic_write_bytes_replaces(tmp_path):
    path = tmp_path / "arr.npy"
    atomic_write(path, lambda f: np.save(f, np.arange(5), allow_pickle=False))
    atomic_write(path, lambda f: np.save(f, np.arange(3), allow_pickle=False))
    assert np.load(path).tolist() == [0, 1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["arr.npy"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "cube.h5"
    path.write_text("old")

    def fail_halfway(handle):
        handle.write(b"half of the new")
        raise error

    with pytest.raises(type(error)):
        atomic_write(path, fail_halfway)
    with pytest.raises(type(error)):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            assert tmp.parent == tmp_path and tmp.name.startswith(".cube.h5.") and tmp.name.endswith(TEMPORARY_SUFFIX)
            raise error
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["cube.h5"]


def test_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert _io._umask() == 0o027
        atomic_write_text(tmp_path / "shared.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o640
