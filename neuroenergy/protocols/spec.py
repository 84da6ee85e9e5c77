"""Protocol specs: TOML files that define a factorial design and how to train it.

Schema (documented for users in ``protocols/README.md``)::

    name = "factorial"                 # required, str
    description = "..."               # str
    default_profile = "quick"         # str, a key of [profiles]

    [design]
    architectures = "all"             # "all" or a list of names
    datasets = "all"                  # "all" or a list of names
    lam = [0.0]                        # list of lambda >= 0
    seeds = 10                         # n (seeds 0..n-1) or a list of ints
    energy_term = "activation"         # activation | spikes | synops

    [training]                         # passed to neuroenergy.train.fit
    epochs = 1.0                       # passes over the (limited) training split
    batch_size = 128
    lr = 1e-3
    optimizer = "adam"                 # adam | adamw | sgd
    num_steps = 10                     # time steps T (unset: the model's own num_steps)
    num_evals = 10                     # learning-curve evaluations
    eval_size = 1000                   # held-out subset for the curve
    train_limit = 0                    # stratified subset of the train split (0 = all)
    test_limit = 0                     # stratified subset of the test split (0 = all)
    costs = "45nm-fp32"
    device = "auto"

    [targets]                          # held-out accuracy targets for efficiency
    default = 0.5
    mnist = 0.9

    [models.mlp]                       # per-architecture overrides for models.build
    hidden = 256

    [profiles.smoke]                   # flat overrides of any [design]/[training] key
    seeds = 1
    train_limit = 256

A profile overrides design and training keys by their bare name.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import itertools
import json
import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroenergy.errors import ConfigError, UnknownNameError
from neuroenergy.results.store import cell_key
from neuroenergy.train.config import DEFAULT_ENERGY_NORM, TrainingConfig, check_energy_norm

__all__ = ["ProtocolSpec", "Design", "load_spec", "list_protocols", "protocol_dir", "Cell", "CellConfig"]

DESIGN_KEYS: dict[str, type | tuple[type, ...]] = {
    "architectures": (str, list),
    "datasets": (str, list),
    "lam": list,
    "seeds": (int, list),
    "energy_term": str,
    "energy_norm": str,
}
#: Every training key and its default: the fields of TrainingConfig (the one place they are set).
TRAINING_DEFAULTS: dict[str, Any] = TrainingConfig().to_dict()
#: Training keys a ``[training.<dataset>]`` table (or its ``[training.<dataset>.<architecture>]``
#: subtable) may set; the cost table and device stay one per study.
PER_DATASET_KEYS: tuple[str, ...] = tuple(k for k in TRAINING_DEFAULTS if k not in ("costs", "device"))
TOP_KEYS = {"name", "description", "default_profile", "design", "training", "targets", "models", "profiles"}
PROFILE_KEYS = set(DESIGN_KEYS) | set(TRAINING_DEFAULTS) | {"training"}


def protocol_dir() -> Path:
    """The folder of built-in protocol specs, shipped inside the package (``neuroenergy/protocols/builtin``)."""
    return Path(str(importlib.resources.files("neuroenergy.protocols") / "builtin"))


def list_protocols() -> list[str]:
    """Names of the built-in protocol specs (``neuroenergy/protocols/builtin/*.toml``)."""
    return sorted(p.stem for p in protocol_dir().glob("*.toml"))


@dataclass(frozen=True)
class Cell:
    """One run of the design: a pure function of this config."""

    architecture: str
    dataset: str
    lam: float
    seed: int

    @property
    def key(self) -> str:
        return cell_key(self.architecture, self.dataset, self.lam, self.seed)

    def __str__(self) -> str:
        return f"{self.architecture} x {self.dataset} x lam={self.lam:g} x seed {self.seed}"


@dataclass(frozen=True)
class CellConfig:
    """Everything one cell trains and is scored with: what ``run_cell`` takes.

    Typed, so a wrong or missing key is refused where the config is made or
    read (:meth:`from_dict`, one line), not deep inside a worker. It travels
    to workers as itself (picklable) and is stored in the record, and hashed
    into its identity, as :meth:`to_dict` (plain JSON-able data).
    """

    architecture: str
    dataset: str
    lam: float
    seed: int
    key: str
    energy_term: str
    energy_norm: str
    training: TrainingConfig
    target_accuracy: float
    model_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def cell(self) -> Cell:
        return Cell(self.architecture, self.dataset, self.lam, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data: the form records store and ``config_hash`` hashes."""
        return {
            "architecture": self.architecture, "dataset": self.dataset, "lam": self.lam, "seed": self.seed,
            "key": self.key, "energy_term": self.energy_term, "energy_norm": self.energy_norm,
            "training": self.training.to_dict(), "target_accuracy": self.target_accuracy,
            "model_overrides": dict(self.model_overrides),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CellConfig":
        """Read :meth:`to_dict`'s form back; ConfigError (one line) for a wrong key or value.

        ``energy_norm`` may be absent (records written before it existed: ``DEFAULT_ENERGY_NORM``).
        """
        if isinstance(data, CellConfig):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"a cell config must be a table of settings, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"cell config: unknown key {unknown[0]!r}; known: {', '.join(names)}")
        values = {"energy_norm": DEFAULT_ENERGY_NORM, "model_overrides": {}, **data}
        missing = [name for name in names if name not in values]
        if missing:
            raise ConfigError(f"cell config: missing key {missing[0]!r}")
        training = values["training"]
        if not isinstance(training, (dict, TrainingConfig)):
            raise ConfigError(f"cell config: training must be a table, got {type(training).__name__}")
        values["training"] = (training if isinstance(training, TrainingConfig)
                              else TrainingConfig.from_values(training, where="cell config: training"))
        try:
            values["energy_norm"] = check_energy_norm("energy_norm", values["energy_norm"])
        except ConfigError as error:
            raise ConfigError(f"cell config: {error}") from None
        return cls(**values)


@dataclass(frozen=True)
class Design:
    """A spec resolved for one profile: the factor levels and every setting.

    ``training`` holds the study-wide training settings; ``per_dataset`` the
    per-dataset ones (``{dataset: {key: value, architecture: {key: value}}}``,
    profile overrides already applied), which :meth:`training_for` lays over it.
    """

    name: str
    profile: str
    architectures: tuple[str, ...]
    datasets: tuple[str, ...]
    lams: tuple[float, ...]
    seeds: tuple[int, ...]
    energy_term: str
    training: dict[str, Any]
    targets: dict[str, float]
    model_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)
    energy_norm: str = DEFAULT_ENERGY_NORM

    def cells(self) -> Iterator[Cell]:
        for arch, dataset, lam, seed in itertools.product(self.architectures, self.datasets, self.lams, self.seeds):
            yield Cell(arch, dataset, lam, seed)

    @property
    def num_cells(self) -> int:
        return len(self.architectures) * len(self.datasets) * len(self.lams) * len(self.seeds)

    def target_for(self, dataset: str) -> float:
        return float(self.targets.get(dataset, self.targets.get("default", math.nan)))

    def training_for(self, dataset: str, architecture: str) -> TrainingConfig:
        """The training settings of every cell of ``dataset`` x ``architecture``."""
        table = self.per_dataset.get(dataset, {})
        per_dataset = {k: v for k, v in table.items() if k in PER_DATASET_KEYS}
        per_arch = table.get(architecture, {}) if isinstance(table.get(architecture), dict) else {}
        return TrainingConfig(**{**self.training, **per_dataset, **per_arch})

    def cell_config(self, cell: Cell) -> CellConfig:
        """Everything ``run_cell`` needs for ``cell``."""
        return CellConfig(
            architecture=cell.architecture, dataset=cell.dataset, lam=cell.lam, seed=cell.seed, key=cell.key,
            energy_term=self.energy_term, energy_norm=self.energy_norm,
            training=self.training_for(cell.dataset, cell.architecture),
            target_accuracy=self.target_for(cell.dataset),
            model_overrides=dict(self.model_overrides.get(cell.architecture, {})))

    def to_json(self) -> str:
        """Canonical text of the resolved design (what an output directory is bound to)."""
        data = {
            "name": self.name, "profile": self.profile, "architectures": list(self.architectures),
            "datasets": list(self.datasets), "lam": list(self.lams), "seeds": list(self.seeds),
            "energy_term": self.energy_term, "training": self.training, "targets": self.targets,
            "models": self.model_overrides,
        }
        # Written only when set, so the directories of specs without them stay bound as before.
        if self.per_dataset:
            data["training_by_dataset"] = self.per_dataset
        if self.energy_norm != DEFAULT_ENERGY_NORM:
            data["energy_norm"] = self.energy_norm
        return json.dumps(data, indent=1, sort_keys=True)


@dataclass(frozen=True)
class ProtocolSpec:
    """A parsed, validated protocol spec; ``design(profile)`` resolves it."""

    name: str
    description: str
    text: str
    path: Path
    default_profile: str
    design_table: dict[str, Any]
    training_table: dict[str, Any]
    datasets_table: dict[str, dict[str, Any]]
    targets: dict[str, float]
    model_overrides: dict[str, dict[str, Any]]
    profiles: dict[str, dict[str, Any]]

    def design(self, profile: str | None = None) -> Design:
        profile = profile or self.default_profile
        if profile not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "(none)"
            raise ConfigError(f"protocol {self.name!r} has no profile {profile!r}; profiles: {known}")
        overrides = self.profiles[profile]
        merged_design = {**self.design_table, **{k: v for k, v in overrides.items() if k in DESIGN_KEYS}}
        training = {**TRAINING_DEFAULTS, **self.training_table,
                    **{k: v for k, v in overrides.items() if k in TRAINING_DEFAULTS}}
        per_dataset = _merge_per_dataset(self.datasets_table, overrides.get("training", {}),
                                 {k for k in overrides if k in TRAINING_DEFAULTS})
        where = f"{self.path.name} (profile {profile})"
        architectures = _names(merged_design.get("architectures", "all"), "architectures", where)
        datasets = _names(merged_design.get("datasets", "all"), "datasets", where)
        lams = _lams(merged_design.get("lam", [0.0]), where)
        seeds = _seeds(merged_design.get("seeds", 1), where)
        from neuroenergy.energy.terms import DEFAULT_TERM, list_terms  # torch only when a spec is resolved

        energy_term = merged_design.get("energy_term", DEFAULT_TERM)
        try:
            energy_norm = check_energy_norm("design.energy_norm",
                                            merged_design.get("energy_norm", DEFAULT_ENERGY_NORM))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
        if energy_term not in list_terms():
            raise ConfigError(f"{where}: design.energy_term {energy_term!r} is unknown; "
                              f"known: {', '.join(list_terms())}")
        training = TrainingConfig.from_values(training, where=where, prefix="training.").to_dict()
        _check_device(training, where)
        # Only the design's datasets and architectures: the bound directory names what it trains.
        per_dataset = {d: {k: v for k, v in table.items() if not isinstance(v, dict) or k in architectures}
                       for d, table in per_dataset.items() if d in datasets}
        per_dataset = {d: table for d, table in per_dataset.items() if table}
        for arch in self.model_overrides:
            if arch not in architectures and arch not in _known("architectures"):
                raise ConfigError(f"{where}: [models.{arch}] names an unknown architecture")
        _check_model_overrides(self.model_overrides, where)
        return Design(self.name, profile, architectures, datasets, lams, seeds, energy_term,
                      training, dict(self.targets), dict(self.model_overrides), per_dataset, energy_norm)


def load_spec(name_or_path: str | Path) -> ProtocolSpec:
    """Read and validate a built-in spec by name or a user's TOML file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = protocol_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise UnknownNameError(
                f"unknown protocol {str(name_or_path)!r}; built-in protocols: {', '.join(list_protocols())} "
                "(or pass the path of a .toml spec)")
    if path.is_dir():
        raise ConfigError(f"protocol spec {path} is a directory; pass a .toml file")
    if not path.is_file():
        raise ConfigError(f"protocol spec {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name} is not valid TOML: {error}") from None
    return _parse(raw, text, path)


def _parse(raw: dict[str, Any], text: str, path: Path) -> ProtocolSpec:
    where = path.name
    _no_unknown(raw, TOP_KEYS, where, "")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'name' is required and must be a non-empty string")
    design = _table(raw, "design", where)
    _no_unknown(design, set(DESIGN_KEYS), where, "design.")
    for key, value in design.items():
        _check_type(value, DESIGN_KEYS[key], f"design.{key}", where)
    training_raw = _table(raw, "training", where)
    training = {k: v for k, v in training_raw.items() if not isinstance(v, dict)}
    TrainingConfig.check_values(training, where=where, prefix="training.")
    datasets_table = _per_dataset_tables({k: v for k, v in training_raw.items() if isinstance(v, dict)},
                                    where, "training.")
    targets = _table(raw, "targets", where)
    for key, value in targets.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"{where}: targets.{key} must be an accuracy between 0 and 1, got {value!r}")
        if key != "default" and key not in _known("datasets"):
            raise ConfigError(f"{where}: targets.{key} names an unknown dataset; "
                              f"known: {', '.join(_known('datasets'))}")
    models = _table(raw, "models", where)
    for arch, overrides in models.items():
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}: models.{arch} must be a table of overrides")
    profiles = _table(raw, "profiles", where)
    if not profiles:
        profiles = {"default": {}}
    for profile, overrides in profiles.items():
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}: profiles.{profile} must be a table")
        _no_unknown(overrides, PROFILE_KEYS, where, f"profiles.{profile}.")
        for key, value in overrides.items():
            if key in DESIGN_KEYS:
                _check_type(value, DESIGN_KEYS[key], f"profiles.{profile}.{key}", where)
            elif key in TRAINING_DEFAULTS:
                TrainingConfig.check_values({key: value}, where=where, prefix=f"profiles.{profile}.")
        if "training" in overrides:
            if not isinstance(overrides["training"], dict):
                raise ConfigError(f"{where}: profiles.{profile}.training must hold one table per dataset")
            overrides["training"] = _per_dataset_tables(overrides["training"], where, f"profiles.{profile}.training.")
    default_profile = raw.get("default_profile", "quick" if "quick" in profiles else next(iter(profiles)))
    if default_profile not in profiles:
        raise ConfigError(f"{where}: default_profile {default_profile!r} is not one of the profiles "
                          f"({', '.join(profiles)})")
    spec = ProtocolSpec(name, str(raw.get("description", "")), text, path, default_profile, design,
                        training, datasets_table, {k: float(v) for k, v in targets.items()},
                        {k: dict(v) for k, v in models.items()}, {k: dict(v) for k, v in profiles.items()})
    for profile in profiles:  # every profile must resolve: errors show up at load, not mid-study
        spec.design(profile)
    return spec


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key '{prefix}{key}'; allowed: {', '.join(sorted(allowed))}")


def _check_type(value: Any, expected, key: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise ConfigError(f"{where}: {key} must be {names}, got {type(value).__name__} {value!r}")


def _known(kind: str) -> list[str]:
    if kind == "architectures":
        from neuroenergy.models import list_architectures

        return list_architectures()
    from neuroenergy.data import list_datasets

    return list_datasets()


def _names(value: Any, kind: str, where: str) -> tuple[str, ...]:
    known = _known(kind)
    if value == "all":
        return tuple(known)
    if isinstance(value, str) or not isinstance(value, list):
        raise ConfigError(f"{where}: design.{kind} must be \"all\" or a list of names, got {value!r}")
    if not value:
        raise ConfigError(f"{where}: design.{kind} is empty; give at least one name")
    for name in value:
        if name not in known:
            raise ConfigError(f"{where}: design.{kind} names unknown {kind[:-1]} {name!r}; "
                              f"known: {', '.join(known)}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: design.{kind} lists a name twice")
    return tuple(value)


def _lams(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: design.lam must be a non-empty list of numbers >= 0")
    for lam in value:
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise ConfigError(f"{where}: design.lam values must be finite numbers >= 0, got {lam!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: design.lam lists a value twice")
    return tuple(float(v) for v in value)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{where}: design.seeds must be >= 1, got {value}")
        return tuple(range(value))
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: design.seeds must be a count or a non-empty list of integers")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value) or len(set(value)) != len(value):
        raise ConfigError(f"{where}: design.seeds must be distinct integers >= 0, got {value!r}")
    return tuple(value)


def _per_dataset_tables(table: dict[str, Any], where: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Check ``[training.<dataset>]`` tables: training keys of ``PER_DATASET_KEYS``, and
    ``[training.<dataset>.<architecture>]`` subtables of the same keys."""
    out: dict[str, dict[str, Any]] = {}
    for dataset, budget in table.items():
        if dataset not in _known("datasets"):
            raise ConfigError(f"{where}: [{prefix}{dataset}] is neither a training key nor a dataset; "
                              f"datasets: {', '.join(_known('datasets'))}; "
                              f"training keys: {', '.join(TRAINING_DEFAULTS)}")
        if not isinstance(budget, dict):
            raise ConfigError(f"{where}: {prefix}{dataset} must be a table of training keys")
        checked: dict[str, Any] = {}
        for key, value in budget.items():
            if isinstance(value, dict):
                if key not in _known("architectures"):
                    raise ConfigError(f"{where}: [{prefix}{dataset}.{key}] names an unknown architecture; "
                                      f"known: {', '.join(_known('architectures'))}")
                _no_unknown(value, set(PER_DATASET_KEYS), where, f"{prefix}{dataset}.{key}.")
                checked[key] = TrainingConfig.check_values(value, where=where, prefix=f"{prefix}{dataset}.{key}.")
            else:
                _no_unknown({key: value}, set(PER_DATASET_KEYS), where, f"{prefix}{dataset}.")
                checked.update(TrainingConfig.check_values({key: value}, where=where, prefix=f"{prefix}{dataset}."))
        out[dataset] = checked
    return out


def _merge_per_dataset(base: dict[str, dict[str, Any]], profile: dict[str, dict[str, Any]],
                   profile_flat: set[str]) -> dict[str, dict[str, Any]]:
    """Per-dataset per_dataset of one profile.

    Precedence, lowest first: ``[training]``, ``[training.D]``,
    ``[training.D.ARCH]``, the profile's flat keys, ``[profiles.P.training.D]``,
    ``[profiles.P.training.D.ARCH]``: a profile always wins over the base spec
    (so ``smoke``'s small ``train_limit`` holds on every dataset), and within
    each the more specific table wins.
    """
    merged: dict[str, dict[str, Any]] = {}
    for dataset in set(base) | set(profile):
        table: dict[str, Any] = {}
        for key, value in base.get(dataset, {}).items():
            if isinstance(value, dict):
                kept = {k: v for k, v in value.items() if k not in profile_flat}
                if kept:
                    table[key] = kept
            elif key not in profile_flat:
                table[key] = value
        for key, value in profile.get(dataset, {}).items():
            if isinstance(value, dict):
                table[key] = {**table.get(key, {}), **value}
            else:
                table[key] = value
                for arch_table in (v for v in table.values() if isinstance(v, dict)):
                    arch_table.pop(key, None)
        merged[dataset] = {k: v for k, v in table.items() if v != {}}
    return merged


def _check_device(training: dict[str, Any], where: str) -> None:
    if training["device"] == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"{where}: training.device is 'cuda' but this machine has no CUDA GPU; "
                              "use 'auto' (CUDA when present) or 'cpu'")


def _check_model_overrides(model_overrides: dict[str, dict[str, Any]], where: str) -> None:
    """Each ``[models.<arch>]`` table through the architecture's own config checks (ranges,
    types, unknown keys), so a typo fails at load, not in every cell of that architecture."""
    from neuroenergy.errors import NeuroEnergyError
    from neuroenergy.models import get_architecture, resolve_config
    from neuroenergy.models.catalog import Architecture

    for arch, overrides in model_overrides.items():
        if not isinstance(get_architecture(arch), Architecture):
            continue  # a user's plain builder: its keyword arguments are its own
        try:
            resolve_config(arch, **overrides)
        except NeuroEnergyError as error:
            raise ConfigError(f"{where}: [models.{arch}] {error}") from None
