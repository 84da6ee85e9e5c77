"""Every architecture x every dataset of the data registry, on real batches.

Each cell builds from ``info(name)``, runs forward on a small real test batch
(B = 4, num_steps = 4), gets finite gradients for every parameter from the
cross-entropy of the mean output membrane, and ``measure()`` reports nonzero
synaptic operations. Default sizes keep parameter counts within a factor 1.5
of each other on every dataset. Nothing is skipped: without the data
(``$NEUROENERGY_DATA`` or ``../shared/data``) these tests fail.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import neuroenergy.data as data
from neuroenergy.energy import measure
from neuroenergy.models import build, list_architectures

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = (REPO / os.environ.get("NEUROENERGY_DATA", "../shared/data")).resolve()
# every registered architecture x every registered dataset (their content is checked in
# test_models_registry.py and test_data.py)
ARCHS = list_architectures()
DATASETS = data.list_datasets()
B, T = 4, 4


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """name -> (info, x [B, *shape], y [B]) from each dataset's test split."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEUROENERGY_DATA", str(DATA_ROOT))
        mp.setenv("NEUROENERGY_OFFLINE", "1")
        mp.setenv("NEUROENERGY_CACHE", str(tmp_path_factory.mktemp("neuroenergy-cache")))
        for name in DATASETS:
            ds = data.load(name, "test", root=DATA_ROOT, limit=B, seed=0)
            x, y = next(iter(ds.batches(B)))
            out[name] = (data.info(name, root=DATA_ROOT), x, y)
    return out


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("arch", ARCHS)
def test_cell_runs_and_is_counted(arch, dataset, real):
    info, x, y = real[dataset]
    torch.manual_seed(0)
    model = build(arch, info.input_spec, info.num_classes, num_steps=T)
    assert model.num_steps == T
    out = model(x)
    assert out.shape == (T, B, info.num_classes)
    assert torch.isfinite(out).all()
    loss = F.cross_entropy(out.mean(0), y)
    assert math.isfinite(loss.item())
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{arch}/{dataset}: no gradient for {name}"
        assert torch.isfinite(p.grad).all(), f"{arch}/{dataset}: non-finite gradient for {name}"
    report = measure(model, (x, y))
    assert report.total.effective_acs + report.total.effective_macs > 0
    assert report.total.dense_synops > 0
    assert report.total.energy_pj > 0


@pytest.mark.parametrize("dataset", DATASETS)
def test_default_sizes_match_parameter_counts(dataset, real):
    info = real[dataset][0]
    counts = {a: build(a, info.input_spec, info.num_classes).num_parameters() for a in ARCHS}
    assert max(counts.values()) / min(counts.values()) <= 1.5, counts
