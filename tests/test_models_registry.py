"""neuroenergy.models: registry, config files, overrides and their errors."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import neuroenergy.models as models
from neuroenergy.errors import (
    ConfigError,
    DuplicateNameError,
    InvalidInputError,
    NeuroEnergyError,
    UnknownNameError,
)
from neuroenergy.models import (
    ARCHITECTURES,
    CONFIG_DIR,
    Architecture,
    build,
    default_config,
    get_architecture,
    list_architectures,
    register_architecture,
)
from neuroenergy.models import configfiles
from neuroenergy.models.config import ENCODERS_BY_KIND, read_config_file
from neuroenergy.models.mlp import MLP
from neuroenergy.models.configfiles import builtin_config_names, render_config
from neuroenergy.vocabulary import INPUT_KINDS, InputSpec

#: The registry's content: checked here once; every other test enumerates list_architectures().
BUILTIN_FAMILIES = {
    "mlp": "baseline", "cnn": "baseline", "rnn": "baseline", "lstm": "baseline",
    "transformer": "baseline", "bimodal": "energy_first", "lagrangian": "energy_first",
}
IMAGE = InputSpec("image", (1, 28, 28))
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def scratch_names():
    """Names registered by a test are removed afterwards (the registry is process-wide)."""
    names: list[str] = []
    yield names
    for name in names:
        ARCHITECTURES._entries.pop(name, None)


# --------------------------------------------------------------------------- registry


def test_list_architectures_is_the_builtins_with_their_families():
    assert list_architectures() == sorted(BUILTIN_FAMILIES)
    assert {name: models.family_of(name) for name in list_architectures()} == BUILTIN_FAMILIES
    assert builtin_config_names() == list_architectures()
    assert models.FAMILIES == ("baseline", "energy_first")


@pytest.mark.parametrize("name", list_architectures())
def test_family_and_convention_attributes(name):
    model = build(name, IMAGE, 10, num_steps=3, target_params=5_000)
    assert model.family == get_architecture(name).family == models.family_of(name)
    assert model.family in models.FAMILIES
    assert model.consumes_sequence is True and model.batch_dim == 0
    assert model.arch_name == name
    assert model.num_steps == 3 and model.num_classes == 10 and model.input_spec == IMAGE
    assert isinstance(model.encoder, models.Encoder) and model.encoder.name == "rate"
    assert isinstance(model, models.SpikingModel)


def test_unknown_name_lists_known_ones():
    with pytest.raises(UnknownNameError) as err:
        build("resnet", IMAGE, 10)
    msg = str(err.value)
    assert "resnet" in msg
    for name in list_architectures():
        assert name in msg


def test_register_duplicate_raises(scratch_names):
    with pytest.raises(DuplicateNameError):
        register_architecture("mlp", get_architecture("mlp"))
    scratch_names.append("mlp_copy_for_test")
    register_architecture("mlp_copy_for_test", Architecture("mlp_copy_for_test", MLP))
    with pytest.raises(DuplicateNameError):
        register_architecture("mlp_copy_for_test", Architecture("mlp_copy_for_test", MLP))


def test_register_rejects_non_builders():
    with pytest.raises(InvalidInputError):
        register_architecture("not_a_builder_for_test", 42)


def test_register_plain_builder(scratch_names):
    calls = []

    def builder(input_spec, num_classes, **overrides):
        calls.append(overrides)
        return nn.Linear(4, num_classes)

    scratch_names.append("plain_builder_for_test")
    register_architecture("plain_builder_for_test", builder)
    assert "plain_builder_for_test" in list_architectures()
    model = build("plain_builder_for_test", IMAGE, 3, width=7)
    assert isinstance(model, nn.Linear) and calls == [{"width": 7}]


def test_registered_architecture_with_limited_input_kinds(scratch_names):
    scratch_names.append("image_only_mlp_for_test")
    register_architecture(
        "image_only_mlp_for_test", Architecture("image_only_mlp_for_test", MLP, None, ("image",))
    )
    build("image_only_mlp_for_test", IMAGE, 10, target_params=2_000)  # dataclass defaults, no config file
    with pytest.raises(InvalidInputError, match="cannot take 'signal' inputs"):
        build("image_only_mlp_for_test", InputSpec("signal", (1, 64)), 5)


def test_bad_input_spec_and_classes():
    with pytest.raises(InvalidInputError, match="InputSpec"):
        build("mlp", (1, 28, 28), 10)
    for k in (1, 0, -3, 2.5, True):
        with pytest.raises(InvalidInputError, match="num_classes"):
            build("mlp", IMAGE, k)


# --------------------------------------------------------------------------- config files


@pytest.mark.parametrize("name", builtin_config_names())
def test_shipped_config_file_is_the_rendered_dataclass(name):
    """The dataclass is the one source of defaults; the shipped TOML is its rendering."""
    arch = get_architecture(name)
    path = CONFIG_DIR / f"{name}.toml"
    assert arch.config_file == path == REPO / "neuroenergy" / "models" / "configs" / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    assert text == render_config(name), "stale config file: run python -m neuroenergy.models.configfiles"
    data = read_config_file(path)
    plain = arch.config_cls().validate()
    assert default_config(arch) == plain
    assert data == {"name": name, "family": arch.family, "description": arch.description.strip(),
                    **plain.to_toml_tables()}
    assert len(data["description"]) > 40
    # every key carries its doc as a comment, and every table its heading
    for key, f in plain.field_map().items():
        if f.metadata["section"] != "@table":
            assert re.search(rf"^{key} = .*  # {re.escape(f.metadata['doc'])}$", text, flags=re.M), key
    for line in text.splitlines():
        if line.startswith("["):
            before = text.splitlines()[text.splitlines().index(line) - 1]
            assert before.startswith("# ") and len(before) > 12, line
    # every input kind has a default encoder that can take it
    assert set(plain.encoder) == set(INPUT_KINDS)
    for kind, enc in plain.encoder.items():
        assert enc in ENCODERS_BY_KIND[kind]


def test_config_file_check_command(tmp_path, monkeypatch, capsys):
    assert configfiles.stale_config_files() == []
    assert configfiles.main(["--check"]) == 0
    # the command itself, as CONTRIBUTING.md runs it, passes on the shipped files
    done = subprocess.run([sys.executable, "-m", "neuroenergy.models.configfiles", "--check"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # a hand edit of a shipped file is caught (on a copy of the folder)
    copy_dir = tmp_path / "configs"
    copy_dir.mkdir()
    for name in builtin_config_names():
        (copy_dir / f"{name}.toml").write_text((CONFIG_DIR / f"{name}.toml").read_text())
    edited = {n: Architecture(n, get_architecture(n).model_cls, copy_dir / f"{n}.toml")
              for n in builtin_config_names()}
    (copy_dir / "mlp.toml").write_text((copy_dir / "mlp.toml").read_text().replace("beta = 0.9", "beta = 0.8"))
    (copy_dir / "rnn.toml").unlink()
    monkeypatch.setattr(configfiles, "CONFIG_DIR", copy_dir)
    monkeypatch.setattr(configfiles, "get_architecture", edited.__getitem__)
    assert configfiles.stale_config_files() == [copy_dir / "mlp.toml", copy_dir / "rnn.toml"]
    assert configfiles.main(["--check"]) == 1
    assert "mlp.toml differs from its config dataclass" in capsys.readouterr().err
    assert configfiles.main([]) == 0
    assert (copy_dir / "mlp.toml").read_text() == render_config("mlp") and (copy_dir / "rnn.toml").is_file()
    assert configfiles.stale_config_files() == []


def test_deprecated_spec_names_warn_and_forward(monkeypatch):
    """The names from before "spec" meant only a protocol spec still work, each with a warning."""
    import importlib

    import neuroenergy.vocabulary as vocabulary
    from neuroenergy.models import catalog, config

    # a fresh import, so the import-time warning is seen (monkeypatch restores sys.modules)
    monkeypatch.delitem(sys.modules, "neuroenergy.spec", raising=False)
    monkeypatch.delitem(sys.modules, "neuroenergy.models.specfiles", raising=False)
    with pytest.warns(DeprecationWarning, match="use neuroenergy.vocabulary"):
        old_vocabulary = importlib.import_module("neuroenergy.spec")
    with pytest.warns(DeprecationWarning, match="use neuroenergy.models.configfiles"):
        specfiles = importlib.import_module("neuroenergy.models.specfiles")
    with pytest.warns(DeprecationWarning, match="use neuroenergy.vocabulary.InputSpec"):
        assert old_vocabulary.InputSpec is vocabulary.InputSpec
    with pytest.warns(DeprecationWarning, match="use neuroenergy.models.CONFIG_DIR"):
        assert models.SPEC_DIR == CONFIG_DIR
    with pytest.warns(DeprecationWarning, match="use CONFIG_DIR"):
        assert catalog.SPEC_DIR == CONFIG_DIR
    with pytest.warns(DeprecationWarning, match="use read_config_file"):
        assert config.read_spec_file(CONFIG_DIR / "mlp.toml") == read_config_file(CONFIG_DIR / "mlp.toml")
    with pytest.warns(DeprecationWarning, match="use Architecture.config_file"):
        assert get_architecture("mlp").spec_file == CONFIG_DIR / "mlp.toml"
    with pytest.warns(DeprecationWarning, match="use neuroenergy.models.configfiles.render_config"):
        assert specfiles.render_spec("mlp") == render_config("mlp")
    with pytest.warns(DeprecationWarning, match="use Encoder.input_spec"):
        assert build("mlp", IMAGE, 10, target_params=2_000).encoder.spec == IMAGE
    # the old command runs the new one, and says so
    done = subprocess.run([sys.executable, "-m", "neuroenergy.models.specfiles", "--check"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "neuroenergy.models.specfiles is deprecated; use neuroenergy.models.configfiles" in done.stderr


@pytest.mark.parametrize("name", list_architectures())
def test_rendered_defaults_build_the_default_model(name, tmp_path):
    """build(rendered TOML) equals build(name): same config, same weights from the same seed."""
    path = tmp_path / f"copy_of_{name}.toml"
    path.write_text(render_config(name))
    arch, from_file = models.resolve_config(path)
    assert from_file == default_config(get_architecture(name))
    torch.manual_seed(0)
    a = build(path, IMAGE, 10, target_params=4_000, num_steps=2)
    torch.manual_seed(0)
    b = build(name, IMAGE, 10, target_params=4_000, num_steps=2)
    assert a.config == b.config
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


@pytest.mark.parametrize("name", list_architectures())
def test_any_config_round_trips_through_its_toml(name, tmp_path):
    """A changed, concrete config written with to_toml reads back equal (lists, tables, floats)."""
    arch = get_architecture(name)
    changed = {"num_steps": 3, "beta": 0.8125, "surrogate": "fast_sigmoid", "events_binarize": False,
               "encoder": {"image": "latency"}, "delta_threshold": 1e-05}
    config = models.resolve_config(name, **changed)[1].with_width(8).validate()
    path = tmp_path / f"{name}.toml"
    path.write_text(config.to_toml(name=name, family=arch.family, description='a """quoted""" \\ description',
                                   header=["my copy"]))
    data = read_config_file(path)
    assert data["description"] == 'a """quoted""" \\ description'
    assert models.resolve_config(path)[1] == config and not config.needs_width()


def test_build_from_user_copy(tmp_path):
    text = (CONFIG_DIR / "mlp.toml").read_text()
    text = re.sub(r'^hidden = "auto"', "hidden = [48, 24]", text, flags=re.M)
    text = re.sub(r"^num_steps = 25", "num_steps = 3", text, flags=re.M)
    text = re.sub(r"^beta = 0.9", "beta = 0.8", text, flags=re.M)
    path = tmp_path / "my_mlp.toml"
    path.write_text(text)
    model = build(str(path), IMAGE, 10)
    assert model.config.hidden == [48, 24] and model.num_steps == 3
    assert float(model.lifs[0].beta) == pytest.approx(0.8)
    # a Path works too, and overrides still win over the file
    model = build(path, IMAGE, 10, num_steps=2)
    assert model.num_steps == 2 and model.config.hidden == [48, 24]


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (lambda t: t.replace("[sizes]", "[sizes]\nwidth = 3"), "unknown key 'width' in \\[sizes\\]"),
        (lambda t: re.sub(r"^num_steps", "bogus = 1\nnum_steps", t, flags=re.M), "unknown key or table 'bogus'"),
        (lambda t: t.replace("[neuron]\nbeta", "[neuron]\nkernel_size = 3\nbeta"), "kernel_size"),
        (lambda t: re.sub(r"^beta = 0.9", "beta = 1.5", t, flags=re.M), "'beta'"),
        (lambda t: t.replace('family = "baseline"', 'family = "energy_first"'), "family"),
        (lambda t: t.replace('name = "mlp"', 'name = "nonesuch"'), "nonesuch"),
        (lambda t: t.replace('name = "mlp"', ""), "missing 'name"),
        (lambda t: t + "\n[sizes\n", "not valid TOML"),
        (lambda t: t.replace('image = "rate"', 'image = "delta"'), "encoder 'delta' cannot encode 'image'"),
    ],
)
def test_bad_user_copy(tmp_path, edit, pattern):
    path = tmp_path / "bad.toml"
    path.write_text(edit((CONFIG_DIR / "mlp.toml").read_text()))
    with pytest.raises(NeuroEnergyError, match=pattern):
        build(str(path), IMAGE, 10)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build(str(tmp_path / "nothing.toml"), IMAGE, 10)


# --------------------------------------------------------------------------- overrides


def test_overrides_are_applied():
    model = build("mlp", IMAGE, 10, hidden=[64], beta=0.8, threshold=0.5, num_steps=7, encoder="latency",
                  surrogate="atan", slope=2.0, reset="zero")
    cfg = model.config
    assert cfg.hidden == [64] and model.num_steps == 7 and model.encoder.name == "latency"
    assert cfg.encoder["image"] == "latency" and cfg.encoder["signal"] == "delta"  # only this kind
    lif = model.lifs[0]
    assert float(lif.beta) == pytest.approx(0.8) and float(lif.threshold) == pytest.approx(0.5)
    assert lif.reset_mechanism == "zero"
    assert model.fcs[0].out_features == 64
    model = build("mlp", IMAGE, 10, hidden=32, encoder={"image": "direct"})
    assert model.config.hidden == [32] and model.encoder.name == "direct"


@pytest.mark.parametrize(
    "arch, overrides, key",
    [
        ("mlp", {"widht": 3}, "widht"),
        ("mlp", {"hidden": -3}, "hidden"),
        ("mlp", {"hidden": [64, -1]}, "hidden"),
        ("mlp", {"hidden": [64, 0]}, "hidden"),
        ("mlp", {"hidden": []}, "hidden"),
        ("mlp", {"hidden": True}, "hidden"),
        ("mlp", {"hidden": "big"}, "hidden"),
        ("mlp", {"hidden_layers": 0}, "hidden_layers"),
        ("cnn", {"channels": [0, 4]}, "channels"),
        ("cnn", {"kernel_size": -5}, "kernel_size"),
        ("cnn", {"kernel_size": 4, "padding": "same"}, "kernel_size"),
        ("cnn", {"padding": "full"}, "padding"),
        ("rnn", {"hidden": -1}, "hidden"),
        ("lstm", {"hidden": 0}, "hidden"),
        ("transformer", {"dim": 30, "heads": 4}, "dim"),
        ("transformer", {"heads": 0}, "heads"),
        ("transformer", {"patch": {"image": 0}}, "patch.image"),
        ("transformer", {"patch": {"video": 2}}, "patch"),
        ("bimodal", {"glia_beta": 1.0}, "glia_beta"),
        ("bimodal", {"glia_ratio": 0.0}, "glia_ratio"),
        ("lagrangian", {"rate_budget": -0.1}, "rate_budget"),
        ("lagrangian", {"kinetic_ratio": 2.0}, "kinetic_ratio"),
        ("mlp", {"beta": 0.0}, "beta"),
        ("mlp", {"beta": 1.5}, "beta"),
        ("mlp", {"beta": -0.2}, "beta"),
        ("mlp", {"beta": float("nan")}, "beta"),
        ("mlp", {"threshold": 0}, "threshold"),
        ("mlp", {"num_steps": 0}, "num_steps"),
        ("mlp", {"num_steps": 2.5}, "num_steps"),
        ("mlp", {"target_params": -10}, "target_params"),
        ("mlp", {"surrogate": "relu"}, "surrogate"),
        ("mlp", {"reset": "hard"}, "reset"),
        ("mlp", {"embed_dim": 0}, "embed_dim"),
        ("mlp", {"events_binarize": "yes"}, "events_binarize"),
        ("mlp", {"encoder": "poisson"}, "poisson"),
        ("mlp", {"encoder": "delta"}, "delta"),
        ("mlp", {"encoder": {"image": "events"}}, "events"),
    ],
)
def test_invalid_overrides_name_the_key(arch, overrides, key):
    with pytest.raises(ConfigError) as err:
        build(arch, IMAGE, 10, **overrides)
    assert key in str(err.value)
    assert isinstance(err.value, ValueError)  # ConfigError is also a ValueError


def test_beta_one_is_allowed():
    model = build("mlp", IMAGE, 10, beta=1.0, hidden=[8])
    assert float(model.lifs[0].beta) == 1.0


def test_resolve_config_without_input():
    arch, cfg = models.resolve_config("cnn", channels=[4, 8], encoder="direct")
    assert arch.name == "cnn" and cfg.channels == [4, 8]
    assert cfg.encoder["image"] == cfg.encoder["signal"] == "direct" and cfg.encoder["events"] == "events"


# --------------------------------------------------------------------------- auto sizes


@pytest.mark.parametrize("name", list_architectures())
def test_auto_width_meets_target(name):
    for target in (20_000, 100_000):
        model = build(name, IMAGE, 10, target_params=target)
        assert abs(model.num_parameters() - target) / target < 0.1
        assert not model.config.needs_width()


def test_auto_width_draws_no_random_numbers():
    torch.manual_seed(0)
    auto = build("transformer", IMAGE, 10)
    after_auto = torch.rand(3)
    torch.manual_seed(0)
    fixed = build("transformer", IMAGE, 10, dim=auto.config.dim)
    after_fixed = torch.rand(3)
    assert torch.equal(after_auto, after_fixed)
    for (n1, p1), (n2, p2) in zip(auto.named_parameters(), fixed.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_embedding_table_is_not_counted():
    spec = InputSpec("tokens", (48,), vocab_size=14818)
    model = build("mlp", spec, 2)
    table = model.encoder.embedding.weight.numel()
    assert table == 14818 * 32
    assert models.count_parameters(model, include_embedding=True) == model.num_parameters() + table
    assert abs(model.num_parameters() - 100_000) < 10_000


# --------------------------------------------------------------------------- inputs it cannot take


def test_inputs_an_architecture_cannot_take():
    with pytest.raises(InvalidInputError, match="too small"):
        build("cnn", InputSpec("signal", (1, 8)), 5, padding="valid", channels=[4, 8])
    with pytest.raises(InvalidInputError, match="patch size 32"):
        build("transformer", IMAGE, 10, patch={"image": 32}, dim=16)
    with pytest.raises(ConfigError, match="cannot encode 'events'"):
        build("mlp", InputSpec("events", (5, 2, 8, 8)), 10, encoder="rate")
    with pytest.raises(ConfigError, match="cannot encode 'tokens'"):
        build("mlp", InputSpec("tokens", (8,), vocab_size=10), 2, encoder="latency")


def test_model_config_is_a_copy():
    a = build("mlp", IMAGE, 10, hidden=[8])
    b = build("mlp", IMAGE, 10, hidden=[8])
    a.config.encoder["image"] = "direct"
    assert b.config.encoder["image"] == "rate"
    assert default_config(get_architecture("mlp")).encoder["image"] == "rate"
    copy.deepcopy(a)


def test_family_of_an_unknown_name():
    with pytest.raises(UnknownNameError):
        models.family_of("resnet")


def test_num_steps_is_settable():
    model = build("mlp", IMAGE, 10, hidden=[8], num_steps=5)
    model.num_steps = 3
    assert model.num_steps == 3 and model.config.num_steps == 3
    assert model(torch.rand(2, 1, 28, 28)).shape == (3, 2, 10)
    events = build("mlp", InputSpec("events", (6, 2, 8, 8)), 10, hidden=[8], num_steps=2)
    events.num_steps = 50
    assert events.num_steps == 6  # never more steps than the data has bins
    with pytest.raises(ConfigError, match="num_steps"):
        model.num_steps = 0
