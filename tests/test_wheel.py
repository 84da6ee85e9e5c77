"""The wheel: built from the tracked sources, it holds the package data, and installed
(not editable) into a clean venv it gives a working ``neuroenergy list``, ``show`` and
``data verify``.

Offline and fast: the wheel is built without build isolation, installed with
``--no-deps``, and its dependencies come from this interpreter's site-packages
on ``PYTHONPATH`` (which never sees the source tree).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from neuroenergy.models.configfiles import builtin_config_names
from test_data import DATA_ROOT

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists()
    or subprocess.run([sys.executable, "-c", "import wheel, setuptools"]).returncode != 0,
    reason="needs a git checkout and setuptools + wheel to build the wheel offline",
)


@pytest.fixture(scope="module")
def wheel_file(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(work / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (work / "dist").glob("neuroenergy-*.whl")
    return wheel


def test_wheel_holds_the_package_data(wheel_file: Path) -> None:
    names = set(zipfile.ZipFile(wheel_file).namelist())
    data = sorted(n for n in names if not n.endswith(".py") and ".dist-info/" not in n)
    assert data == sorted(
        [f"neuroenergy/data/checksums/{d}.sha256" for d in ("FSDD", "FashionMNIST", "MNIST", "NMNIST", "SST-2", "mitdb")]
        + [f"neuroenergy/models/configs/{m}.toml" for m in builtin_config_names()]
        + [f"neuroenergy/protocols/builtin/{p}.toml" for p in ("efficiency", "factorial", "lambda_sweep", "smoke")]
    )
    entry_points = zipfile.ZipFile(wheel_file).read("neuroenergy-0.1.0.dist-info/entry_points.txt").decode()
    assert "neuroenergy = neuroenergy.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)


def test_installed_wheel_lists_shows_and_verifies(wheel_file: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel_file)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages()),
           "NEUROENERGY_DATA": str(DATA_ROOT), "NEUROENERGY_OFFLINE": "1"}
    exe = env_dir / "bin" / "neuroenergy"

    def run(*args: str) -> str:
        done = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run([str(python), "-c", "import neuroenergy; print(neuroenergy.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(env_dir)  # the wheel's copy, not the checkout
    listed = run("list")
    assert [line.split()[0] for line in listed.splitlines()] == ["efficiency", "factorial", "lambda_sweep", "smoke"]
    assert "cells" in run("show", "smoke")
    assert "sst2               2 files  ok" in run("data", "verify", "sst2")
