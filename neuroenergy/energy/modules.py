"""Which modules of a network are counted, and how: the one place that
classifies modules for both ``measure`` and the loss terms.

* ``synapse``: ``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.RNNCellBase``
  (RNN/LSTM/GRU cells, also inside snnTorch ``RLeaky``/``SLSTM``) and
  :class:`~neuroenergy.energy.SynapticMatmul` (activity x activity products);
* ``neuron``: snnTorch ``SpikingNeuron`` (all LIF-family neurons);
* ``activation``: ``nn.ReLU`` and ``nn.Sigmoid`` (NeuroBench's activation set);
* ``tap``: :class:`~neuroenergy.energy.EnergyTap`.

Pooling, normalisation, dropout, embeddings (a lookup, not arithmetic) and
functional operations outside modules are not counted. Full-sequence
``nn.RNN/LSTM/GRU`` and ``nn.MultiheadAttention`` call their weights without
module calls, so they are reported as *uncounted*.
"""

from __future__ import annotations

import snntorch as snn
import torch
from torch import nn

from neuroenergy.energy.counting import SYNAPTIC_LAYERS
from neuroenergy.energy.tap import EnergyTap

__all__ = ["module_kind", "countable_modules", "uncounted_modules", "neuron_output", "emits_zero_one",
           "neuron_state", "restore_neuron_state", "reset_neuron_state"]

ACTIVATION_LAYERS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.Sigmoid)
UNCOUNTED_LAYERS: tuple[type[nn.Module], ...] = (nn.RNNBase, nn.MultiheadAttention)


def module_kind(module: nn.Module) -> str | None:
    """``synapse``, ``neuron``, ``activation``, ``tap`` or None (not counted)."""
    if isinstance(module, SYNAPTIC_LAYERS):
        return "synapse"
    if isinstance(module, snn.SpikingNeuron):
        return "neuron"
    if isinstance(module, ACTIVATION_LAYERS):
        return "activation"
    if isinstance(module, EnergyTap):
        return "tap"
    return None


def countable_modules(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(name, module, kind)`` of every counted module, in module order."""
    found = []
    for name, module in model.named_modules():
        kind = module_kind(module)
        if kind is not None and not _inside_uncounted(name, model):
            found.append((name or type(module).__name__, module, kind))
    return found


def uncounted_modules(model: nn.Module) -> tuple[str, ...]:
    """Names of modules whose weights are used without countable module calls."""
    return tuple(name for name, m in model.named_modules() if isinstance(m, UNCOUNTED_LAYERS))


def _inside_uncounted(name: str, model: nn.Module) -> bool:
    # MultiheadAttention.out_proj is a Linear that is never called as a module.
    if not name:
        return False
    parent = name.rpartition(".")[0]
    return isinstance(model.get_submodule(parent) if parent else model, UNCOUNTED_LAYERS)


def neuron_output(output) -> torch.Tensor:
    """The spike (or activation) tensor of a neuron module's output: snnTorch
    neurons return ``spk`` or a tuple whose first element is ``spk``."""
    return output[0] if isinstance(output, tuple) else output


#: snnTorch neuron classes whose forward returns ``fire(mem)`` (or ``fire_inhibition``):
#: ``spike_grad(mem - threshold) * graded_spikes_factor`` (read in snnTorch 1.0's source).
_FIRING_NEURONS: tuple[type[nn.Module], ...] = (
    snn.Leaky, snn.Synaptic, snn.Lapicque, snn.Alpha, snn.RLeaky, snn.RSynaptic)

#: snnTorch releases whose neurons and surrogates were read for :func:`emits_zero_one`;
#: under any other release every spike tensor is tested, as for unknown neurons.
_ZERO_ONE_SNNTORCH_RELEASES: tuple[str, ...] = ("1.0.",)


def emits_zero_one(module: nn.Module) -> bool:
    """Whether every spike tensor ``module`` outputs holds only 0 and 1, by its construction,
    so that counting need not test it (the test is a third of a neuron's counting cost).

    True for a neuron of exactly one of snnTorch's firing classes (Leaky, Synaptic,
    Lapicque, Alpha, RLeaky, RSynaptic; a subclass may change ``forward``) or of a class
    that declares ``zero_one_spikes = True`` in its own body (its spikes are
    ``spike_grad(...) * graded_spikes_factor``, as snnTorch's), when also

    * its ``spike_grad`` is a Heaviside step in the forward pass: one of snnTorch's
      surrogates (every ``snntorch.surrogate`` function returns ``(x > 0).float()``
      forward), snnTorch's ``surrogate_disable`` bypass, or an object whose class
      declares ``zero_one_spikes = True`` (``neuroenergy.models.neurons.Surrogate``);
    * its ``graded_spikes_factor`` is 1 everywhere (read now: call again after an
      optimiser step that may have changed a learnable factor);
    * no forward hook is registered on it yet, nor globally (such a hook, if it runs
      before the counter's, could replace the output);
    * the installed snnTorch is a release whose source this rule was read against.

    Anything else returns False, and its outputs are tested call by call.
    """
    cls = type(module)
    if not (cls in _FIRING_NEURONS or cls.__dict__.get("zero_one_spikes", False)):
        return False
    if not snn.__version__.startswith(_ZERO_ONE_SNNTORCH_RELEASES):
        return False
    if module._forward_hooks or getattr(nn.modules.module, "_global_forward_hooks", None):
        return False
    factor = getattr(module, "graded_spikes_factor", None)
    if not isinstance(factor, torch.Tensor):
        return False
    if not (float(factor) == 1.0 if factor.numel() == 1 else bool(torch.all(factor == 1))):
        return False
    return _heaviside(getattr(module, "spike_grad", None))


def _heaviside(spike_function) -> bool:
    """Whether ``spike_function`` returns only 0 and 1 in the forward pass."""
    if spike_function is snn.SpikingNeuron._surrogate_bypass:
        return True
    if type(spike_function).__dict__.get("zero_one_spikes", False):
        return True
    # the closures snntorch.surrogate's functions return (atan(), fast_sigmoid(), ...)
    return (getattr(spike_function, "__module__", None) == "snntorch.surrogate"
            and getattr(spike_function, "__qualname__", "").endswith(".<locals>.inner"))


def neuron_state(model: nn.Module) -> dict[str, dict[str, torch.Tensor | None]]:
    """Snapshot of the hidden state (non-persistent buffers such as ``mem``,
    ``syn``, ``spk``) of every snnTorch neuron in ``model``."""
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, snn.SpikingNeuron):
            state[name] = {key: module._buffers[key] for key in module._non_persistent_buffers_set
                           if key in module._buffers}
    return state


def restore_neuron_state(model: nn.Module, state: dict[str, dict[str, torch.Tensor | None]]) -> None:
    """Put back a snapshot taken with :func:`neuron_state`."""
    for name, buffers in state.items():
        module = model.get_submodule(name) if name else model
        for key, value in buffers.items():
            module._buffers[key] = value


def reset_neuron_state(model: nn.Module) -> None:
    """Zero the hidden state of every snnTorch neuron in ``model`` only.

    ``snntorch.utils.reset`` resets every neuron of a class in the whole
    process; this touches the given model alone.
    """
    for name, buffers in neuron_state(model).items():
        module = model.get_submodule(name) if name else model
        for key, value in buffers.items():
            if value is not None:
                module._buffers[key] = torch.zeros_like(value)
