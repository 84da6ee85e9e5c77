"""Training budgets per dataset (and per architecture) in protocol specs: load, profile override, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroenergy.errors import ConfigError
from neuroenergy.protocols import load_spec
from neuroenergy.protocols.spec import Cell

SPEC = """
name = "budgets"
[design]
architectures = ["mlp", "cnn"]
datasets = ["mnist", "fsdd"]
lam = [0.0]
seeds = 1
[training]
epochs = 1.0
batch_size = 64
num_steps = 8
[training.fsdd]
epochs = 20.0
lr = 5e-3
[training.fsdd.cnn]
epochs = 10.0
[profiles.base]
[profiles.flat]
epochs = 2.0
[profiles.tables]
[profiles.tables.training.fsdd]
epochs = 30.0
[profiles.tables.training.mnist.cnn]
train_limit = 1000
"""


def _spec(tmp_path: Path, text: str = SPEC):
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    return load_spec(path)


def test_budget_per_dataset_and_architecture(tmp_path):
    design = _spec(tmp_path).design("base")
    assert design.training_for("mnist", "mlp").epochs == 1.0  # [training]
    fsdd_mlp = design.training_for("fsdd", "mlp")
    assert (fsdd_mlp.epochs, fsdd_mlp.lr, fsdd_mlp.batch_size) == (20.0, 5e-3, 64)  # [training.fsdd] on [training]
    fsdd_cnn = design.training_for("fsdd", "cnn")
    assert (fsdd_cnn.epochs, fsdd_cnn.lr) == (10.0, 5e-3)  # [training.fsdd.cnn] on [training.fsdd]
    config = design.cell_config(Cell("cnn", "fsdd", 0.0, 0))
    assert config.training.epochs == 10.0 and config.training.num_steps == 8


def test_cell_config_is_typed_and_refuses_bad_keys_in_one_line(tmp_path):
    from neuroenergy.errors import ConfigError
    from neuroenergy.protocols.cell import config_hash, run_cell
    from neuroenergy.protocols.spec import CellConfig

    design = _spec(tmp_path).design("base")
    config = design.cell_config(Cell("cnn", "fsdd", 0.0, 0))
    data = config.to_dict()
    # the dict form round-trips, and the hash (a cell's identity on disk) is that of the dict form
    assert CellConfig.from_dict(data) == config and config_hash(config) == config_hash(data)
    assert config.cell == Cell("cnn", "fsdd", 0.0, 0)
    for bad, message in (({**data, "sead": 1}, "cell config: unknown key 'sead'"),
                         ({k: v for k, v in data.items() if k != "dataset"}, "cell config: missing key 'dataset'"),
                         ({**data, "training": {**data["training"], "lr": -1}}, "cell config: training: "),
                         ({**data, "energy_norm": "max"},
                          "cell config: 'energy_norm' must be one of sum, initial; got 'max'")):
        with pytest.raises(ConfigError, match=message):
            CellConfig.from_dict(bad)
    # a worker given a malformed config fails that cell, named, without training anything
    record = run_cell({**data, "sead": 1})
    assert record["status"] == "failed" and record["key"] == data["key"]
    assert record["error"].startswith("ConfigError: cell config: unknown key 'sead'")


def test_energy_norm_has_one_check_and_one_message(tmp_path):
    """fit(), a spec's design and a cell config refuse a bad energy_norm with the same words."""
    from neuroenergy.errors import InvalidInputError
    from neuroenergy.train import fit

    words = "'{}' must be one of sum, initial; got 'max'"
    with pytest.raises(ConfigError, match=r"budgets.toml \(profile \w+\): " + words.format("design.energy_norm")):
        _spec(tmp_path, SPEC.replace("seeds = 1", 'seeds = 1\nenergy_norm = "max"'))  # loading checks each profile
    with pytest.raises(InvalidInputError, match=words.format("energy_norm")):
        fit(None, None, None, energy_norm="max")  # refused before the model or data is looked at


def test_profiles_override_budgets(tmp_path):
    spec = _spec(tmp_path)
    flat = spec.design("flat")
    # A profile's flat key wins over every base table, per dataset and per architecture.
    assert {flat.training_for(d, a).epochs for d in ("mnist", "fsdd") for a in ("mlp", "cnn")} == {2.0}
    assert flat.training_for("fsdd", "cnn").lr == 5e-3  # keys the profile does not set stay
    tables = spec.design("tables")
    assert tables.training_for("fsdd", "mlp").epochs == 30.0
    # The profile's dataset table beats the base architecture table of the same key.
    assert tables.training_for("fsdd", "cnn").epochs == 30.0
    assert tables.training_for("mnist", "cnn").train_limit == 1000
    assert tables.training_for("mnist", "mlp").train_limit == 0
    # A changed budget changes what an output directory is bound to.
    assert spec.design("base").to_json() != tables.to_json()


@pytest.mark.parametrize("edit,words", [
    (("[training.fsdd]\n", "[training.cifar]\n"), "[training.cifar] is neither a training key nor a dataset"),
    (("lr = 5e-3", "lrate = 5e-3"), "unknown key 'training.fsdd.lrate'"),
    (("epochs = 20.0", "epochs = -1.0"), "'training.fsdd.epochs' must be a positive number"),
    (("lr = 5e-3", 'costs = "45nm-int8"'), "unknown key 'training.fsdd.costs'"),
    (("[training.fsdd.cnn]", "[training.fsdd.resnet]"), "[training.fsdd.resnet] names an unknown architecture"),
    (("train_limit = 1000", "train_limit = -5"),
     "'profiles.tables.training.mnist.cnn.train_limit' must be an integer >= 0"),
    (("[profiles.flat]\nepochs = 2.0", "[profiles.flat]\nepochs = \"two\""),
     "'profiles.flat.epochs' must be a positive number"),
])
def test_bad_budget_keys_name_file_and_key(tmp_path, edit, words):
    old, new = edit
    assert old in SPEC
    with pytest.raises(ConfigError) as caught:
        _spec(tmp_path, SPEC.replace(old, new, 1))
    assert str(caught.value).startswith("budgets.toml") and words in str(caught.value)


def test_builtin_factorial_quick_budgets():
    design = load_spec("factorial").design("quick")
    assert design.training_for("fsdd", "mlp").epochs == 20.0
    assert design.training_for("mnist", "cnn").train_limit == 10000
    assert design.training_for("mnist", "mlp").train_limit == 0 and design.training_for("mnist", "mlp").epochs == 4
    smoke = load_spec("factorial").design("smoke")
    assert {smoke.training_for(d, a).train_limit for d in smoke.datasets for a in smoke.architectures} == {200}
