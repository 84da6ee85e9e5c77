"""``measure(model, batch) -> EnergyReport``: what one batch costs a network.

Counting is done with forward hooks on the modules listed in
:mod:`neuroenergy.energy.modules`, so it works on any ``nn.Module`` built from
snnTorch neurons and Linear/Conv/recurrent-cell layers, ours or a user's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from neuroenergy.energy.costs import CostTable, get_cost_table
from neuroenergy.energy.counting import SynapseCounter
from neuroenergy.energy.modules import (
    countable_modules,
    neuron_output,
    neuron_state,
    reset_neuron_state,
    restore_neuron_state,
    uncounted_modules,
)
from neuroenergy.energy.report import EnergyReport, LayerEnergy, price
from neuroenergy.errors import InvalidInputError, NothingToMeasureError

__all__ = ["measure", "split_batch", "OperationCounter"]


@dataclass
class _Tally:
    """Running sums of one module over the whole batch (not yet per sample)."""

    dense: int = 0
    macs: int = 0
    acs: int = 0
    spikes: int = 0
    outputs: int = 0
    nonzero: int = 0
    membrane_updates: int = 0
    squared: float = 0.0
    calls: int = 0


def split_batch(batch) -> torch.Tensor:
    """The input tensor of ``batch``: a tensor, or an ``(inputs, targets)`` pair."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) == 2 \
            and isinstance(batch[0], torch.Tensor):
        return batch[0]
    raise InvalidInputError(
        "batch must be a tensor or an (inputs, targets) pair of tensors; "
        f"got {type(batch).__name__}"
    )


def measure(
    model: nn.Module,
    batch,
    *,
    costs: str | CostTable = "45nm-fp32",
    per_step: bool | None = None,
    batch_dim: int | None = None,
) -> EnergyReport:
    """Count what ``model`` spends on ``batch``: per layer and in total, per sample.

    Two ways of running the model:

    * **per step** (the default for a plain module, as in the snnTorch
      tutorials): ``batch`` is time-first ``[T, B, ...]``; the neurons' state
      is reset, then ``model(batch[t])`` is called for ``t = 0 .. T-1``.
    * **whole sequence**: a model that loops over time itself (every
      neuroenergy architecture) declares ``consumes_sequence = True`` (or pass
      ``per_step=False``) and is called once, ``model(inputs)``. The batch
      size is read from dimension ``batch_dim`` of the inputs: the model's
      ``batch_dim`` attribute if it has one (0 for neuroenergy models, which
      take batch-first loader batches), else 1 (time-first ``[T, B, ...]``).

    Counts (per sample = batch total / B, summed over time steps):

    * synaptic operations as NeuroBench ``SynapticOperations`` defines them:
      dense; effective MACs (non-binary input) and effective ACs (input
      values all in {-1, 0, 1}), skipping zero inputs and zero weights and not
      counting biases; decided per layer call;
    * spikes (nonzero outputs of snnTorch neurons) and firing rate (spikes per
      neuron per step); activation sparsity over neuron and ReLU/Sigmoid
      outputs (NeuroBench ``ActivationSparsity``);
    * membrane updates (NeuroBench ``MembraneUpdates``: all neurons on the
      first step, then those whose potential changed);
    * activation energy: sum of squared outputs of neurons, ReLU/Sigmoid and
      :class:`EnergyTap` s (the spike count for binary spikes);
    * energy in pJ = MACs x E_MAC + ACs x E_AC + membrane updates x
      E_neuron_update, a compute-only estimate from the cost table ``costs``.

    Pooling, normalisation, dropout, embeddings and operations done outside
    module calls (e.g. ``torch.matmul`` in attention) are not counted; full
    ``nn.LSTM``/``nn.GRU``/``nn.RNN`` and ``nn.MultiheadAttention`` are listed
    in ``report.uncounted`` (use the cell versions to count them).

    The model runs in eval mode without gradients; its training mode, hooks
    and neuron state are as they were after the call.

    Args:
        model: the network.
        batch: ``[T, B, ...]`` tensor or ``(inputs, targets)`` pair.
        costs: cost-table name (``45nm-fp32``, ``45nm-fp16``, ``45nm-int8``, or
            one registered with ``register_cost_table``) or a ``CostTable``.
        per_step: force the per-step (True) or whole-sequence (False) mode.
        batch_dim: the batch dimension of the inputs in whole-sequence mode.

    Raises:
        InvalidInputError: not a module, a malformed batch, NaN/inf in the
            batch, or a batch the model cannot take.
        NothingToMeasureError: the model has no countable module.
        UnknownNameError: unknown cost-table name.
    """
    if not isinstance(model, nn.Module):
        raise InvalidInputError(
            f"measure() needs a torch.nn.Module, got {type(model).__name__}; "
            "pass your network object, not its output or class"
        )
    table = get_cost_table(costs)
    inputs = split_batch(batch)
    if per_step is None:
        per_step = not getattr(model, "consumes_sequence", False)
    if per_step:
        if inputs.dim() < 2:
            raise InvalidInputError(
                f"per-step measurement needs a time-first batch [T, B, ...], got shape "
                f"{tuple(inputs.shape)}; a model that loops over time itself should set "
                "consumes_sequence = True or be measured with per_step=False"
            )
        dim = 1
    else:
        dim = getattr(model, "batch_dim", 1) if batch_dim is None else batch_dim
        if not -inputs.dim() <= dim < inputs.dim():
            raise InvalidInputError(f"batch_dim {dim} is outside the inputs' shape {tuple(inputs.shape)}")
    batch_size = inputs.shape[dim]
    if batch_size == 0 or (per_step and inputs.shape[0] == 0):
        raise InvalidInputError(f"the batch is empty (shape {tuple(inputs.shape)})")
    # One reduction first: a finite sum proves every value finite; only then the full check.
    if inputs.is_floating_point() and not bool(torch.isfinite(inputs.sum())) \
            and not bool(torch.isfinite(inputs).all()):
        raise InvalidInputError("the batch contains NaN or infinite values; clean or drop those samples")

    device = _device_of(model, inputs)
    inputs = inputs.to(device)
    was_training = model.training
    saved_state = neuron_state(model)
    try:
        model.eval()
        with OperationCounter(model, costs=table, sequence_calls=not per_step) as counter, torch.no_grad():
            _run(model, inputs, per_step, counter)
    finally:
        model.train(was_training)
        restore_neuron_state(model, saved_state)
    time_steps = inputs.shape[0] if per_step else getattr(model, "num_steps", None)
    return counter.report(int(batch_size), time_steps)


class OperationCounter:
    """Counts a model's operations over any number of forward passes (hooks).

    ``measure`` is one counter around one batch; the trainer keeps one around
    its training forward passes (training synaptic operations and energy) and
    one around the whole test split. Gradients are untouched: hooks only read.

    Args:
        model: the network.
        costs: cost table or its name.
        sequence_calls: treat every top-level ``model(...)`` call as a new
            sequence (first step of the membrane-update rule). Default: the
            model's ``consumes_sequence`` attribute.
        synapses_only: count synaptic operations only (no neuron statistics):
            the cheap mode for counting training energy when the cost table
            does not price neuron updates.

    Use ``with OperationCounter(model) as counter: model(x)``, then
    ``counter.report(num_samples, time_steps)`` or the running ``counter.synops_total``
    and ``counter.energy_pj_total`` (sums over all samples seen, not per sample).
    """

    def __init__(self, model: nn.Module, costs: str | CostTable = "45nm-fp32",
                 sequence_calls: bool | None = None, synapses_only: bool = False) -> None:
        self.model = model
        self.costs = get_cost_table(costs)
        counted = countable_modules(model)
        if not any(kind in ("synapse", "neuron", "activation") for _, _, kind in counted):
            raise NothingToMeasureError(
                f"{type(model).__name__} holds no countable layer (nn.Linear, nn.Conv1d/2d/3d, "
                "RNN/LSTM/GRU cells, snnTorch neurons, ReLU/Sigmoid); nothing to measure"
            )
        self.counted = [entry for entry in counted if entry[2] == "synapse"] if synapses_only else counted
        self.tallies = {name: _Tally() for name, _, _ in self.counted}
        self._sequence_calls = (getattr(model, "consumes_sequence", False)
                                if sequence_calls is None else sequence_calls)
        self._handles: list = []
        self._first_step: dict[str, bool] = {}

    def __enter__(self) -> "OperationCounter":
        for name, module, kind in self.counted:
            self._handles.extend(self._attach(name, module, kind))
        if self._sequence_calls:
            self._handles.append(self.model.register_forward_pre_hook(
                lambda mod, args: self.new_sequence()))
        self.new_sequence()
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def new_sequence(self) -> None:
        """The next neuron call of each layer is the first step of a sequence."""
        self._first_step = {name: True for name in self.tallies}

    @property
    def synops_total(self) -> tuple[int, int]:
        """(effective MACs, effective ACs) summed over everything counted so far."""
        return (sum(t.macs for t in self.tallies.values()), sum(t.acs for t in self.tallies.values()))

    @property
    def energy_pj_total(self) -> float:
        """Energy in pJ of everything counted so far (all samples, not per sample)."""
        updates = sum(t.membrane_updates for t in self.tallies.values())
        return self.costs.energy_pj(*self.synops_total, updates)

    def report(self, num_samples: int, time_steps: int | None = None) -> EnergyReport:
        """Per-sample report of everything counted: sums divided by ``num_samples``."""
        if num_samples <= 0:
            raise InvalidInputError("report() needs the number of samples counted (> 0)")
        rows = []
        for name, module, kind in self.counted:
            tally = self.tallies[name]
            if tally.calls == 0:
                continue
            weight = module.weight if kind == "tap" else 1.0
            has_outputs = kind in ("neuron", "activation")
            row = LayerEnergy(
                name=name, kind=kind, module_type=type(module).__name__,
                dense_synops=tally.dense / num_samples,
                effective_macs=tally.macs / num_samples,
                effective_acs=tally.acs / num_samples,
                spikes=tally.spikes / num_samples,
                outputs=tally.outputs / num_samples if has_outputs else 0.0,
                nonzero_outputs=tally.nonzero / num_samples if has_outputs else 0.0,
                membrane_updates=tally.membrane_updates / num_samples,
                activation_energy=weight * tally.squared / num_samples,
            )
            rows.append(replace(row, energy_pj=price(row, self.costs)))
        return EnergyReport.from_layers(rows, self.costs, int(num_samples), time_steps,
                                        uncounted_modules(self.model))

    def _attach(self, name: str, module: nn.Module, kind: str) -> list:
        tally = self.tallies[name]
        if kind == "synapse":
            counter = SynapseCounter(module)

            def count_synops(mod, args):
                ops = counter(tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args))
                tally.calls += 1
                tally.dense += ops.dense
                if ops.binary:
                    tally.acs += ops.effective
                else:
                    tally.macs += ops.effective

            return [module.register_forward_pre_hook(count_synops)]

        previous: list[torch.Tensor | None] = [None]

        def remember_membrane(mod, args):
            previous[0] = getattr(mod, "mem", None)

        def count_outputs(mod, args, output):
            out = neuron_output(output).detach()
            tally.calls += 1
            nonzero = int(torch.count_nonzero(out).item())
            tally.outputs += out.numel()
            tally.nonzero += nonzero
            flat = out.reshape(-1)
            tally.squared += float(torch.dot(flat, flat).item())
            if kind == "neuron":
                tally.spikes += nonzero
                if getattr(mod, "consumes_sequence", False):
                    tally.membrane_updates += _sequence_membrane_updates(output)
                    return
                mem = getattr(mod, "mem", None)
                if isinstance(mem, torch.Tensor):
                    mem = mem.detach()
                    before = previous[0]
                    first = self._first_step.get(name, True)
                    self._first_step[name] = False
                    # NeuroBench: every neuron updates on a sequence's first step; later, those whose potential changed.
                    if first or not isinstance(before, torch.Tensor) or before.shape != mem.shape:
                        tally.membrane_updates += mem.numel()
                    else:
                        tally.membrane_updates += int(torch.count_nonzero(before.detach() - mem).item())

        hooks = [module.register_forward_hook(count_outputs)]
        if kind == "neuron" and not getattr(module, "consumes_sequence", False):
            hooks.append(module.register_forward_pre_hook(remember_membrane))
        return hooks


def _sequence_membrane_updates(output) -> int:
    """NeuroBench's membrane updates of one whole-sequence neuron call
    returning ``(spk, mem)`` with ``mem [T, ...]`` from zero state: every
    neuron on the first step, then those whose potential changed."""
    mem = output[1].detach()
    return mem[0].numel() + int(torch.count_nonzero(mem[1:] - mem[:-1]).item())


def _device_of(model: nn.Module, inputs: torch.Tensor) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return inputs.device


def _run(model: nn.Module, inputs: torch.Tensor, per_step: bool, counter: "OperationCounter") -> None:
    try:
        if per_step:
            reset_neuron_state(model)
            counter.new_sequence()
            for step in inputs:
                model(step)
        else:
            model(inputs)
    except (RuntimeError, ValueError, IndexError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        mode = "per step, model(batch[t])" if per_step else "once, model(inputs)"
        raise InvalidInputError(
            f"the batch of shape {tuple(inputs.shape)} does not fit {type(model).__name__} "
            f"(called {mode}): {first_line}"
        ) from error
