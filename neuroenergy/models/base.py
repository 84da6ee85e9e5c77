"""The model convention every architecture follows: :class:`SpikingModel`.

A model is an ``nn.Module`` that holds its encoder and consumes a whole loader
batch at once:

- class attributes ``consumes_sequence = True`` and ``batch_dim = 0`` tell
  :func:`neuroenergy.energy.measure` to call ``model(inputs)`` once with the
  raw batch-first batch, and that ``B = inputs.shape[0]``;
- ``family`` is ``"baseline"`` or ``"energy_first"``; ``arch_name`` the
  registry name; ``config_cls`` its config dataclass (the defaults);
  ``description`` a few sentences for its config file; ``num_steps`` the T
  actually run (settable); ``input_spec``, ``num_classes``, ``encoder``,
  ``config`` (the resolved, concrete config);
- ``forward(x)``: ``x [B, *input_spec.shape]`` -> encoder -> ``[T, B, ...]``
  -> network -> readout ``[T, B, num_classes]``, the **membrane potential of
  the output LIF layer at every step**. The trainer applies cross-entropy to
  its mean over T (``out.mean(0)``) — the membrane readout of the snnTorch
  tutorials, averaged so that every step counts;
- no state survives a forward: every neuron starts from zero at each call, so
  a forward is a pure function of (parameters, x, RNG state for rate coding).

Every model ends in the same readout: ``TimeLinear(H, K)`` on the last hidden
spikes, then a Leaky output layer whose membrane is returned.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from torch import Tensor, nn

from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

from .config import ModelConfig, positive_int
from .encoders import Encoder
from .layers import TimeLinear, make_leaky, run_leaky

__all__ = ["SpikingModel", "count_parameters"]


def count_parameters(model: nn.Module, *, include_embedding: bool = False) -> int:
    """Trainable parameters of ``model``; the encoder's token embedding table
    (a lookup, the same for every architecture) is left out unless asked."""
    total = 0
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if not include_embedding and name.startswith("encoder.embedding."):
            continue
        total += p.numel()
    return total


class SpikingModel(nn.Module):
    """Base class of every architecture (see the module docstring).

    Subclasses build their layers in ``__init__`` from ``self.encoder.out_shape``
    and implement :meth:`network`.

    Args:
        input_spec: kind and per-sample shape of the inputs.
        num_classes: K, size of the readout.
        config: the concrete (validated, no "auto") architecture config.
    """

    consumes_sequence: ClassVar[bool] = True
    batch_dim: ClassVar[int] = 0
    family: ClassVar[str] = "baseline"
    arch_name: ClassVar[str] = ""
    config_cls: ClassVar[type[ModelConfig]] = ModelConfig
    #: what the network computes, in a few sentences (the ``description`` of its config file)
    description: ClassVar[str] = ""

    def __init__(self, input_spec: InputSpec, num_classes: int, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(input_spec, InputSpec):
            raise InvalidInputError(
                f"input_spec must be a neuroenergy.vocabulary.InputSpec, got {type(input_spec).__name__}"
            )
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise InvalidInputError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        if config.needs_width():
            raise InvalidInputError(
                f"{type(self).__name__} needs concrete sizes; build it with "
                f"neuroenergy.models.build(), which solves 'auto' sizes"
            )
        self.input_spec = input_spec
        self.num_classes = int(num_classes)
        self.config = config
        self.encoder = Encoder(input_spec, config)

    @property
    def num_steps(self) -> int:
        """T, the time steps a forward runs (events: ``min(T, T_bins)``)."""
        return self.encoder.num_steps

    @num_steps.setter
    def num_steps(self, value: int) -> None:
        # settable (e.g. by the trainer); nothing else depends on T
        value = positive_int()("num_steps", value)
        self.config = replace(self.config, num_steps=value)
        self.encoder.set_num_steps(value)

    # -- helpers for subclasses ---------------------------------------------
    def neuron_kwargs(self) -> dict:
        c = self.config
        return dict(beta=c.beta, threshold=c.threshold, surrogate=c.surrogate, slope=c.slope, reset=c.reset)

    def make_leaky(self, sequence: bool = True):
        """A Leaky neuron with this model's neuron config: a ``SequenceLeaky``
        for :func:`run_leaky`, or (``sequence=False``) a per-step ``snn.Leaky``."""
        return make_leaky(**self.neuron_kwargs(), sequence=sequence)

    def build_readout(self, hidden: int) -> None:
        """The shared output stage: ``TimeLinear(hidden, K)`` -> Leaky."""
        self.readout = TimeLinear(hidden, self.num_classes)
        self.out_lif = self.make_leaky()

    def readout_membrane(self, spikes: Tensor) -> Tensor:
        """Hidden spikes ``[T, B, H]`` -> output membrane ``[T, B, K]``."""
        _, mem = run_leaky(self.out_lif, self.readout(spikes), keep_mem=True)
        assert mem is not None
        return mem

    # -- the contract ---------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """``x [B, *input_spec.shape]`` -> output membrane ``[T, B, num_classes]``."""
        return self.network(self.encoder(x))

    def network(self, seq: Tensor) -> Tensor:
        """Encoded input ``[T, B, *encoder.out_shape]`` -> ``[T, B, num_classes]``."""
        raise NotImplementedError

    def num_parameters(self) -> int:
        """Trainable parameters without the token embedding table."""
        return count_parameters(self)

    def extra_repr(self) -> str:
        return f"family={self.family}, T={self.num_steps}, K={self.num_classes}"
