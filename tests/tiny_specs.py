"""The tiny protocol spec the runner tests use (a builder, not tests): one mlp on a
small MNIST subset, 3 time steps, so a cell trains in about a second."""

from __future__ import annotations

from pathlib import Path

_TEMPLATE = """
name = "{name}"
description = "{description}"
[design]
architectures = ["mlp"]
datasets = ["mnist"]
lam = {lam}
seeds = {seeds}
[training]
epochs = 1.0
batch_size = 32
lr = 2e-3
num_steps = 3
num_evals = {num_evals}
eval_size = 40
train_limit = {train_limit}
test_limit = 60
[targets]
mnist = {target}
[profiles.smoke]
"""


def tiny_spec_text(*, name: str = "tiny", description: str = "test design", lam: str = "[0.0]",
                   seeds: int | str = 1, num_evals: int = 10, train_limit: int = 128, target: float = 0.3) -> str:
    """The spec's TOML text; ``lam`` and ``seeds`` as TOML (``"[0.0, 1e-3]"``, ``3`` or ``"[0]"``)."""
    return _TEMPLATE.format(name=name, description=description, lam=lam, seeds=seeds, num_evals=num_evals,
                            train_limit=train_limit, target=target)


def write_tiny_spec(tmp_path: Path, file_name: str = "tiny.toml", extra: str = "", **settings) -> Path:
    """``tiny_spec_text(**settings) + extra`` written to ``tmp_path / file_name``."""
    path = tmp_path / file_name
    path.write_text(tiny_spec_text(**settings) + extra)
    return path
