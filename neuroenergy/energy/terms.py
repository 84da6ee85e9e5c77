"""Differentiable energy terms E(theta, x) for the loss L = L_CE + lambda * E.

A term is recorded with hooks during the *same* forward pass that produces
the logits (no second forward), so it costs little and its gradient flows
through the surrogate spike functions::

    with record(model, "activation") as energy:
        out = model(x)
    loss = cross_entropy(out.mean(0), y) + lam * energy.value

Terms, all **per sample** (batch total / B) and summed over time steps, and
each equal on the same batch to the matching :func:`~neuroenergy.energy.measure`
figure:

* ``activation`` (default): sum of squared outputs of neurons, ReLU/Sigmoid
  and :class:`EnergyTap` s -> ``report.total.activation_energy``; for binary
  spikes it is the spike count.
* ``spikes``: sum of spiking-neuron outputs -> ``report.total.spikes`` for
  {0, 1} spikes.
* ``synops``: binary inputs of Linear/Conv layers weighted by their fan-out
  (number of nonzero outgoing weights), sinabs-style, and binary left
  operands of :class:`SynapticMatmul` s weighted by the right operand's
  nonzeros ->
  ``report.total.effective_acs`` when no recurrent cell is present (for
  RNN/LSTM/GRU cells only the input and hidden weight products are counted,
  not NeuroBench's gate products).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from neuroenergy.energy.counting import conv_count, is_binary
from neuroenergy.energy.matmul import SynapticMatmul
from neuroenergy.energy.modules import countable_modules, neuron_output
from neuroenergy.errors import InvalidInputError, NothingToMeasureError
from neuroenergy.registry import Registry

__all__ = ["EnergyRecorder", "record", "list_terms"]


@dataclass(frozen=True)
class _Term:
    """How a term reads one module call (``collect`` -> an item or None) and
    turns the items of a forward pass into the batch total (``reduce``).

    Reducing once per forward, instead of adding per call, keeps the autograd
    graph small: a neuron is called once per time step.
    """

    collect: Callable[[nn.Module, str, tuple, object], object]
    reduce: Callable[[list], torch.Tensor]


def _flat_sum_of_squares(items: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
    total = None
    for weight in sorted({w for w, _ in items}):
        flat = torch.cat([o.reshape(-1) for w, o in items if w == weight])
        part = weight * flat.pow(2).sum()
        total = part if total is None else total + part
    return total


def _activation(module: nn.Module, kind: str, args: tuple, output):
    if kind in ("neuron", "activation"):
        return (1.0, neuron_output(output))
    if kind == "tap":
        return (module.weight, output)
    return None


def _spikes(module: nn.Module, kind: str, args: tuple, output):
    return neuron_output(output) if kind == "neuron" else None


def _synops(module: nn.Module, kind: str, args: tuple, output) -> torch.Tensor | None:
    if kind != "synapse" or not is_binary(args[0].detach()):
        return None
    x = args[0]
    if isinstance(module, SynapticMatmul):
        b_rows = (args[1].detach() != 0).sum(-1).to(x.dtype)  # [..., k]
        return (x.sum(-2) * b_rows).sum()
    if isinstance(module, nn.Linear):
        fan_out = (module.weight.detach() != 0).sum(0).to(x.dtype)
        return (x.reshape(-1, module.in_features).sum(0) * fan_out).sum()
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        batched = x.reshape(-1, *x.shape[-(len(module.kernel_size) + 1):])
        return conv_count(module, batched.sum(0, keepdim=True), (module.weight.detach() != 0).to(x.dtype))
    if isinstance(module, nn.RNNCellBase):
        total = (x.reshape(-1, module.input_size).sum(0)
                 * (module.weight_ih.detach() != 0).sum(0).to(x.dtype)).sum()
        state = args[1] if len(args) > 1 else None
        hidden = state[0] if isinstance(state, tuple) else state
        if hidden is not None and is_binary(hidden.detach()):
            total = total + (hidden.reshape(-1, module.hidden_size).sum(0)
                             * (module.weight_hh.detach() != 0).sum(0).to(x.dtype)).sum()
        return total
    return None


_TERMS: Registry[_Term] = Registry("energy term")
_TERMS.register("activation", _Term(_activation, _flat_sum_of_squares))
#: The energy term where none is given (``record``, ``fit``, a protocol design).
DEFAULT_TERM = "activation"
_TERMS.register("spikes", _Term(_spikes, lambda items: torch.cat([o.reshape(-1) for o in items]).sum()))
_TERMS.register("synops", _Term(_synops, lambda items: torch.stack(items).sum()))


def list_terms() -> list[str]:
    """Names of the energy terms: activation, spikes, synops."""
    return _TERMS.names()


class EnergyRecorder:
    """Context manager that accumulates an energy term over one forward pass.

    Args:
        model: the network (any ``nn.Module``).
        term: ``activation``, ``spikes`` or ``synops``.
        batch_size: samples per forward; by default read from the model's
            input (dimension ``model.batch_dim`` for models that consume the
            whole sequence, else 0 for a per-step call ``model(x[t])``).

    ``value`` is the term per sample, summed over time, with gradient.
    """

    def __init__(self, model: nn.Module, term: str = DEFAULT_TERM, batch_size: int | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidInputError(f"record() needs a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.term = term
        self._term = _TERMS.get(term)
        self._fixed_batch_size = batch_size
        self._batch_size: int | None = batch_size
        self._items: list = []
        self._reduced: torch.Tensor | None = None
        self._handles: list = []
        self._modules = [(m, kind) for _, m, kind in countable_modules(model)]
        if not self._modules:
            raise NothingToMeasureError(
                f"{type(model).__name__} holds no layer that energy term {term!r} can record"
            )

    def __enter__(self) -> "EnergyRecorder":
        self.reset()
        self._handles.append(self.model.register_forward_pre_hook(self._read_batch_size))
        for module, kind in self._modules:
            self._handles.append(module.register_forward_hook(self._make_hook(kind)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def reset(self) -> None:
        """Forget what was recorded (e.g. between batches)."""
        self._items = []
        self._reduced = None
        self._batch_size = self._fixed_batch_size

    def _read_batch_size(self, model: nn.Module, args: tuple) -> None:
        if self._fixed_batch_size is None and args and isinstance(args[0], torch.Tensor):
            dim = getattr(model, "batch_dim", 0) if getattr(model, "consumes_sequence", False) else 0
            self._batch_size = int(args[0].shape[dim])

    def _make_hook(self, kind: str):
        def hook(module, args, output):
            item = self._term.collect(module, kind, args, output)
            if item is not None:
                self._items.append(item)
                self._reduced = None
        return hook

    @property
    def total(self) -> torch.Tensor:
        """The term summed over the batch (a scalar tensor with gradient)."""
        if not self._items:
            return torch.zeros(())
        if self._reduced is None:
            self._reduced = self._term.reduce(self._items)
        return self._reduced

    @property
    def value(self) -> torch.Tensor:
        """The term per sample (batch total / batch size), with gradient."""
        if not self._batch_size:
            raise InvalidInputError("no forward pass was recorded; call the model inside the `with` block")
        return self.total / self._batch_size


def record(model: nn.Module, term: str = DEFAULT_TERM, batch_size: int | None = None) -> EnergyRecorder:
    """``with record(model, term) as e: out = model(x)`` -> ``e.value``."""
    return EnergyRecorder(model, term, batch_size)
