"""``TrainingConfig``: every setting that trains one model, with its default and its check.

The one place where training defaults live: :func:`neuroenergy.train.fit`
takes its keyword defaults from here, and protocol specs
(:mod:`neuroenergy.protocols.spec`) validate their ``[training]``,
``[datasets.*]`` and profile keys with the same checks, so an error reads the
same wherever the value came from.

Fields use the model configs' mechanism (:func:`neuroenergy.models.config.config_field`):
each carries a check ``(key, value) -> value`` that normalises the value or
raises :class:`~neuroenergy.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neuroenergy.errors import ConfigError
from neuroenergy.models.config import choice, config_field, positive_float, positive_int

__all__ = ["TrainingConfig", "OPTIMIZER_NAMES", "ENERGY_NORMS", "DEFAULT_ENERGY_NORM", "DEVICES",
           "check_energy_norm"]

#: ``adam``, ``adamw`` and ``sgd`` (momentum 0.9); see ``neuroenergy.train.fit.OPTIMIZERS``.
OPTIMIZER_NAMES: tuple[str, ...] = ("adam", "adamw", "sgd")
#: How the energy term E enters the loss L = CE + lambda * E / scale: ``sum`` (scale 1: E per
#: sample as recorded, so one lambda weighs a large network's E more), ``initial`` (scale = the
#: network's own E per sample on its first training batch, before any update: lambda is then
#: nats of CE per fraction of the network's initial energy, the same pressure for every
#: architecture and energy term).
ENERGY_NORMS: tuple[str, ...] = ("sum", "initial")
#: ``energy_norm`` where none is given (``fit()``, a protocol design, a record written before it existed).
DEFAULT_ENERGY_NORM = "sum"
#: The one check of ``energy_norm`` — ``fit()``'s argument, a protocol spec's ``design.energy_norm``
#: and a cell config's — so its error reads the same wherever the value came from.
check_energy_norm = choice(*ENERGY_NORMS)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def _cost_table(key: str, value: Any) -> str:
    from neuroenergy.energy.costs import list_cost_tables

    known = list_cost_tables()
    if value not in known:
        raise ConfigError(f"{key!r} {value!r} is unknown; known: {', '.join(known)}")
    return str(value)


def _optional_steps(key: str, value: Any) -> int | None:
    return None if value is None else positive_int()(key, value)


@dataclass(frozen=True)
class TrainingConfig:
    """How one model is trained and evaluated by :func:`neuroenergy.train.fit`.

    ``train_limit`` / ``test_limit`` are read by the protocol runner (the
    stratified subsets it loads); ``fit`` itself trains on what it is given.
    """

    epochs: float = config_field(1.0, section=None, check=positive_float,
                                 doc="passes over the (limited) training split; fractions allowed")
    batch_size: int = config_field(128, section=None, check=positive_int(), doc="samples per optimiser step")
    lr: float = config_field(1e-3, section=None, check=positive_float, doc="learning rate")
    optimizer: str = config_field("adam", section=None, check=choice(*OPTIMIZER_NAMES),
                                  doc="adam, adamw or sgd (momentum 0.9)")
    num_steps: int | None = config_field(None, section=None, check=_optional_steps,
                                         doc="time steps T per sample; unset = the model's own num_steps")
    num_evals: int = config_field(10, section=None, check=positive_int(),
                                  doc="learning-curve evaluations after step 0")
    eval_size: int = config_field(1000, section=None, check=positive_int(),
                                  doc="held-out test samples of each curve evaluation")
    train_limit: int = config_field(0, section=None, check=positive_int(0),
                                    doc="stratified subset of the train split, 0 = all")
    test_limit: int = config_field(0, section=None, check=positive_int(0),
                                   doc="stratified subset of the test split, 0 = all")
    costs: str = config_field("45nm-fp32", section=None, check=_cost_table,
                              doc="cost table (energy model) for energies in pJ")
    device: str = config_field("auto", section=None, check=choice(*DEVICES),
                               doc="auto (CUDA when present), cpu or cuda")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def check_values(cls, values: Mapping[str, Any], *, where: str, prefix: str = "") -> dict[str, Any]:
        """``values`` checked and normalised key by key; errors name ``where`` and ``prefix + key``."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        out = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{where}: unknown key '{prefix}{key}'; allowed: {', '.join(sorted(fields))}")
            try:
                out[key] = fields[key].metadata["check"](f"{prefix}{key}", value)
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
        return out

    @classmethod
    def from_values(cls, values: Mapping[str, Any], *, where: str = "training", prefix: str = "") -> TrainingConfig:
        """A config from defaults plus ``values`` (checked; see :meth:`check_values`)."""
        return cls(**cls.check_values(values, where=where, prefix=prefix))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fit_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`neuroenergy.train.fit` this config sets."""
        data = self.to_dict()
        for key in ("train_limit", "test_limit"):
            data.pop(key)
        return data
