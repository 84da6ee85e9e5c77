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
from neuroenergy.energy.counting import layer_synops
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

__all__ = ["measure", "split_batch"]


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
    if inputs.is_floating_point() and not bool(torch.isfinite(inputs).all()):
        raise InvalidInputError("the batch contains NaN or infinite values; clean or drop those samples")

    counted = countable_modules(model)
    if not any(kind in ("synapse", "neuron", "activation") for _, _, kind in counted):
        raise NothingToMeasureError(
            f"{type(model).__name__} holds no countable layer (nn.Linear, nn.Conv1d/2d/3d, "
            "RNN/LSTM/GRU cells, snnTorch neurons, ReLU/Sigmoid); nothing to measure"
        )
    device = _device_of(model, inputs)
    inputs = inputs.to(device)

    tallies = {name: _Tally() for name, _, _ in counted}
    handles = []
    for name, module, kind in counted:
        handles.extend(_attach(module, kind, tallies[name]))
    was_training = model.training
    saved_state = neuron_state(model)
    try:
        model.eval()
        with torch.no_grad():
            _run(model, inputs, per_step)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
        restore_neuron_state(model, saved_state)

    rows = []
    for name, module, kind in counted:
        tally = tallies[name]
        if tally.calls == 0:
            continue
        weight = module.weight if kind == "tap" else 1.0
        row = LayerEnergy(
            name=name, kind=kind, module_type=type(module).__name__,
            dense_synops=tally.dense / batch_size,
            effective_macs=tally.macs / batch_size,
            effective_acs=tally.acs / batch_size,
            spikes=tally.spikes / batch_size,
            outputs=tally.outputs / batch_size if kind in ("neuron", "activation") else 0.0,
            nonzero_outputs=tally.nonzero / batch_size if kind in ("neuron", "activation") else 0.0,
            membrane_updates=tally.membrane_updates / batch_size,
            activation_energy=weight * tally.squared / batch_size,
        )
        rows.append(_with_energy(row, table))
    time_steps = inputs.shape[0] if per_step else getattr(model, "num_steps", None)
    return EnergyReport.from_layers(rows, table, int(batch_size), time_steps, uncounted_modules(model))


def _with_energy(row: LayerEnergy, table: CostTable) -> LayerEnergy:
    return replace(row, energy_pj=price(row, table))


def _device_of(model: nn.Module, inputs: torch.Tensor) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return inputs.device


def _run(model: nn.Module, inputs: torch.Tensor, per_step: bool) -> None:
    try:
        if per_step:
            reset_neuron_state(model)
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


def _attach(module: nn.Module, kind: str, tally: _Tally) -> list:
    if kind == "synapse":
        def count_synops(mod, args):
            ops = layer_synops(mod, args)
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
        tally.squared += float(out.double().pow(2).sum().item())
        if kind == "neuron":
            tally.spikes += nonzero
            mem = getattr(mod, "mem", None)
            if isinstance(mem, torch.Tensor):
                before = previous[0]
                # NeuroBench: every neuron updates on the first step; later, those whose potential changed.
                if tally.calls == 1 or not isinstance(before, torch.Tensor) or before.shape != mem.shape:
                    tally.membrane_updates += mem.numel()
                else:
                    tally.membrane_updates += int(torch.count_nonzero(before - mem).item())

    hooks = [module.register_forward_hook(count_outputs)]
    if kind == "neuron":
        hooks.append(module.register_forward_pre_hook(remember_membrane))
    return hooks

