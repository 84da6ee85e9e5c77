"""The architecture registry: ``list_architectures``, ``build``,
``register_architecture``, and where defaults come from.

Defaults: an architecture's defaults are its config dataclass's defaults
and nothing else. For readers they are rendered, with every key's doc as a
comment, into ``neuroenergy/models/configs/<name>.toml`` (package data that
ships in the wheel, found with :mod:`importlib.resources`; see
:mod:`neuroenergy.models.configfiles`, which regenerates the files and checks
that they are current). ``build`` takes a path to a user's copy of such a
file; ``name`` in the file says which architecture it configures.

Sizes set to ``"auto"`` are solved here: one width w, tried by building
candidate models (RNG state restored afterwards), chosen so that the
network — the token embedding table excluded — has the parameter count
closest to ``target_params`` on the given input. That keeps architectures
within a few percent of each other on every dataset.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union

import torch
from torch import nn

from neuroenergy._deprecation import renamed_attributes, warn_renamed
from neuroenergy.errors import ConfigError, InvalidInputError
from neuroenergy.registry import Registry
from neuroenergy.vocabulary import FAMILIES, INPUT_KINDS, InputSpec

from .base import SpikingModel, count_parameters
from .config import ENCODER_NAMES, ENCODERS_BY_KIND, ModelConfig, read_config_file

__all__ = [
    "Architecture",
    "ARCHITECTURES",
    "CONFIG_DIR",
    "list_architectures",
    "register_architecture",
    "build",
    "get_architecture",
    "family_of",
    "FAMILIES",
    "default_config",
    "resolve_config",
]

#: Folder of the shipped config files (package data: ``neuroenergy/models/configs``).
CONFIG_DIR = Path(str(resources.files("neuroenergy.models").joinpath("configs")))

BuilderFn = Callable[..., nn.Module]


@dataclass(frozen=True)
class Architecture:
    """A registered architecture: model class, config class and config file.

    Attributes:
        name: registry name; family: ``baseline`` or ``energy_first``;
        model_cls: a :class:`SpikingModel` subclass taking
        ``(input_spec, num_classes, config)``; config_file: where its defaults
        are rendered for readers to copy (None: no file); input_kinds: kinds
        it accepts.
    """

    name: str
    model_cls: type[SpikingModel]
    config_file: Path | None = None
    input_kinds: tuple[str, ...] = INPUT_KINDS

    @property
    def spec_file(self) -> Path | None:
        """Deprecated name of :attr:`config_file`."""
        warn_renamed("Architecture.spec_file", "Architecture.config_file")
        return self.config_file

    @property
    def family(self) -> str:
        return self.model_cls.family

    @property
    def config_cls(self) -> type[ModelConfig]:
        return self.model_cls.config_cls

    @property
    def description(self) -> str:
        """The model's ``description`` (a few sentences), else the first line of its module docstring."""
        if self.model_cls.description:
            return self.model_cls.description
        doc = (sys.modules[self.model_cls.__module__].__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


#: name -> Architecture, or a plain builder ``f(input_spec, num_classes, **overrides) -> nn.Module``.
ARCHITECTURES: Registry[Union[Architecture, BuilderFn]] = Registry("architecture")


def list_architectures() -> list[str]:
    """Registered architecture names, sorted."""
    return ARCHITECTURES.names()


def register_architecture(name: str, builder: Architecture | BuilderFn) -> Architecture | BuilderFn:
    """Register an architecture under ``name`` (DuplicateNameError if taken).

    ``builder`` is an :class:`Architecture` (full support: config files,
    overrides, "auto" sizes) or any callable
    ``builder(input_spec, num_classes, **overrides) -> nn.Module``.
    """
    if not isinstance(builder, Architecture) and not callable(builder):
        raise InvalidInputError(
            f"register_architecture({name!r}, ...) needs an Architecture or a callable "
            f"builder(input_spec, num_classes, **overrides), got {type(builder).__name__}"
        )
    return ARCHITECTURES.register(name, builder)


def get_architecture(name: str) -> Architecture | BuilderFn:
    """The registered entry (UnknownNameError listing the known names)."""
    return ARCHITECTURES.get(name)


def family_of(name: str) -> str:
    """``"baseline"`` or ``"energy_first"`` for a registered architecture.

    A plain-builder entry may declare a ``family`` attribute; without one it
    counts as ``"baseline"``.
    """
    entry = get_architecture(name)
    if isinstance(entry, Architecture):
        return entry.family
    family = getattr(entry, "family", "baseline")
    if family not in FAMILIES:
        raise ConfigError(
            f"architecture {name!r} declares family {family!r}; expected one of {', '.join(FAMILIES)}"
        )
    return family


def _as_path(name_or_path: str | os.PathLike) -> Path | None:
    if isinstance(name_or_path, os.PathLike):
        return Path(name_or_path)
    if isinstance(name_or_path, str) and (
        name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path
    ):
        return Path(name_or_path)
    return None


def default_config(arch: Architecture) -> ModelConfig:
    """The architecture's defaults: its config dataclass's (the config file is rendered from them)."""
    return arch.config_cls().validate()


def _apply_file(arch: Architecture, base: ModelConfig, data: Mapping[str, Any], path: Path) -> ModelConfig:
    if data.get("name") != arch.name:
        raise ConfigError(f"{path}: name is {data.get('name')!r}, expected {arch.name!r}")
    family = data.get("family", arch.family)
    if family != arch.family:
        raise ConfigError(
            f"{path}: family {family!r} does not match architecture {arch.name!r} ({arch.family}); "
            f"the family is a property of the architecture, not a setting"
        )
    flat = arch.config_cls.flatten_tables(data, source=str(path))
    return base.with_values(flat, source=str(path))


def resolve_config(
    name_or_path: str | os.PathLike, **overrides: Any
) -> tuple[Architecture, ModelConfig]:
    """(architecture, validated config) for a name or config-file path plus overrides.

    Sizes may still be "auto" (they depend on the input; :func:`build` solves them).
    """
    path = _as_path(name_or_path)
    if path is not None:
        data = read_config_file(path)
        entry = get_architecture(data["name"])
        if not isinstance(entry, Architecture):
            raise ConfigError(
                f"{path}: architecture {data['name']!r} is a plain builder; pass keyword overrides instead"
            )
        config = _apply_file(entry, default_config(entry), data, path)
    else:
        if not isinstance(name_or_path, str):
            raise InvalidInputError(
                f"build() needs an architecture name or a path to a .toml config file, got {name_or_path!r}"
            )
        entry = get_architecture(name_or_path)
        if not isinstance(entry, Architecture):
            raise ConfigError(f"architecture {name_or_path!r} is a plain builder; it has no config")
        config = default_config(entry)
    return entry, _apply_overrides(config, overrides, kind=None)


def _apply_overrides(config: ModelConfig, overrides: Mapping[str, Any], *, kind: str | None) -> ModelConfig:
    values = dict(overrides)
    enc = values.get("encoder")
    if isinstance(enc, str):
        if kind is None:
            # without an input kind, a bare encoder name applies to every kind that can take it
            kinds = [k for k, names in ENCODERS_BY_KIND.items() if enc in names]
            if not kinds:
                raise ConfigError(f"'encoder' {enc!r} is not an encoder; encoders: {', '.join(ENCODER_NAMES)}")
            values["encoder"] = {k: enc for k in kinds}
        else:
            values["encoder"] = {kind: enc}
    return config.with_values(values) if values else config


def _solve_width(arch: Architecture, input_spec: InputSpec, num_classes: int, config: ModelConfig) -> ModelConfig:
    """Fill "auto" sizes: the width whose parameter count is closest to the target."""
    step = config.width_step
    target = config.target_params
    cache: dict[int, int] = {}

    def params(mult: int) -> int:
        if mult not in cache:
            # on CPU (snnTorch neurons read their buffers at construction, so the meta
            # device is out), with the RNG state restored: trying widths draws no numbers
            with torch.random.fork_rng(devices=[]):
                model = arch.model_cls(input_spec, num_classes, config.with_width(mult * step))
            cache[mult] = count_parameters(model)
        return cache[mult]

    lo, hi = 1, 1
    while params(hi) < target and hi < 1 << 16:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # invariant: params(lo) < target <= params(hi) (or lo == 1)
        mid = (lo + hi) // 2
        if params(mid) < target:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda m: abs(params(m) - target))
    return config.with_width(best * step).validate()


def build(
    name_or_path: str | os.PathLike,
    input_spec: InputSpec,
    num_classes: int,
    **overrides: Any,
) -> nn.Module:
    """Build an architecture for an input spec.

    Args:
        name_or_path: a registered name (see :func:`list_architectures`) or a
            path to a config file (a copy of ``neuroenergy/models/configs/<name>.toml``).
        input_spec: the dataset's ``info(name).input_spec``.
        num_classes: K, the readout size.
        **overrides: any config key (e.g. ``num_steps=10``, ``hidden=[256]``,
            ``beta=0.95``, ``encoder="latency"`` for this input's kind, or
            ``encoder={"image": "direct"}``).

    Returns:
        The model (a :class:`SpikingModel` for built-in architectures), with
        ``model.config`` holding the concrete config used.

    Raises:
        UnknownNameError: unknown architecture (the message lists known ones).
        ConfigError: unknown override key or invalid value (named).
        InvalidInputError: an input this architecture cannot take.
    """
    if not isinstance(input_spec, InputSpec):
        raise InvalidInputError(
            f"input_spec must be a neuroenergy.vocabulary.InputSpec (e.g. neuroenergy.data.info(name).input_spec), "
            f"got {type(input_spec).__name__}"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidInputError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    path = _as_path(name_or_path)
    if path is None and isinstance(name_or_path, str):
        entry = get_architecture(name_or_path)
        if not isinstance(entry, Architecture):
            return entry(input_spec, num_classes, **overrides)
    # encoder="name" means "for this input's kind"
    arch, config = resolve_config(name_or_path, **{k: v for k, v in overrides.items() if k != "encoder"})
    if input_spec.kind not in arch.input_kinds:
        raise InvalidInputError(
            f"architecture {arch.name!r} cannot take {input_spec.kind!r} inputs; it takes "
            f"{', '.join(arch.input_kinds)}"
        )
    if "encoder" in overrides:
        config = _apply_overrides(config, {"encoder": overrides["encoder"]}, kind=input_spec.kind)
    if config.needs_width():
        config = _solve_width(arch, input_spec, num_classes, config)
    return arch.model_cls(input_spec, num_classes, config)


def _config_path(name: str) -> Path:
    return CONFIG_DIR / f"{name}.toml"


def _register_builtins() -> None:
    from .bimodal import BimodalTrue
    from .cnn import CNN
    from .lagrangian import PhysicsLagrangian
    from .lstm import LSTM
    from .mlp import MLP
    from .rnn import RNN
    from .transformer import SpikingTransformer

    for cls in (MLP, CNN, RNN, LSTM, SpikingTransformer, BimodalTrue, PhysicsLagrangian):
        register_architecture(cls.arch_name, Architecture(cls.arch_name, cls, _config_path(cls.arch_name)))


_register_builtins()


# deprecated module attribute, kept for code written before the rename
__getattr__ = renamed_attributes(__name__, {"SPEC_DIR": ("CONFIG_DIR", lambda: CONFIG_DIR)})
