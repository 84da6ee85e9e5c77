"""``measure(model, batch) -> EnergyReport``: what one batch costs a network.

Counting is done with forward hooks on the modules listed in
:mod:`neuroenergy.energy.modules`, so it works on any ``nn.Module`` built from
snnTorch neurons and Linear/Conv/recurrent-cell layers, ours or a user's.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import nn

from neuroenergy.energy.costs import CostTable, EnergyModel, get_cost_table, prices_neurons
from neuroenergy.energy.counting import (
    Scratch,
    StepActivity,
    SynapseCounter,
    SynOps,
    count_changed,
    count_nonzero,
    count_spikes,
    step_activity,
)
from neuroenergy.energy.modules import (
    countable_modules,
    emits_zero_one,
    module_kind,
    neuron_output,
    neuron_state,
    reset_neuron_state,
    restore_neuron_state,
    uncounted_modules,
)
from neuroenergy.energy.lemaire import LayerShape
from neuroenergy.energy.report import SUMMED, EnergyReport, LayerEnergy
from neuroenergy.errors import InvalidInputError, NothingToMeasureError

__all__ = ["measure", "split_batch", "OperationCounter"]


@dataclass
class _Tally:
    """Running sums of one module over the whole batch (not yet per sample).

    A field named like a ``LayerEnergy`` count (a ``sum`` metric of
    ``neuroenergy.metrics.LAYER_METRICS``) is that count's running sum: the
    report divides it by the number of samples. The others are bookkeeping.
    """

    dense_synops: int = 0
    effective_macs: int = 0
    effective_acs: int = 0
    spikes: int = 0
    outputs: int = 0
    nonzero_outputs: int = 0
    membrane_updates: int = 0
    # Raw activity the memory-aware models price (see neuroenergy.energy.lemaire).
    spike_inputs: int = 0
    analog_inputs: int = 0
    analog_outputs: int = 0
    analog_rows: int = 0
    synapse_outputs: int = 0
    # Bookkeeping: squared outputs (activation energy once a tap's weight is applied),
    # calls seen, and the last call's per-sample input and output sizes.
    squared: float = 0.0
    calls: int = 0
    sample_in: int = 0
    sample_out: int = 0

    def add_synops(self, ops: SynOps, sizes: tuple[int, int, int, int] | None) -> None:
        """Add one synaptic layer call: its operations and, when its input and output are
        tensors, ``sizes`` = (input values, output values, per-sample input, per-sample output)."""
        self.calls += 1
        self.dense_synops += ops.dense
        if ops.binary:
            self.effective_acs += ops.effective
            self.spike_inputs += ops.active_inputs
        else:
            self.effective_macs += ops.effective
        if sizes is not None:
            inputs, outputs, self.sample_in, self.sample_out = sizes
            self.synapse_outputs += outputs
            if not ops.binary:
                self.analog_inputs += inputs
                self.analog_outputs += outputs
                self.analog_rows += inputs // max(1, self.sample_in)


def _call_sizes(x: torch.Tensor | None, out: torch.Tensor | None, inner: int) -> tuple[int, int, int, int] | None:
    """``_Tally.add_synops``'s sizes of a call on ``x`` giving ``out``, each seen as rows of
    their last ``inner`` dimensions; None unless both are tensors."""
    if not isinstance(out, torch.Tensor) or x is None:
        return None
    sample_in = math.prod(x.shape[-inner:]) if x.dim() >= inner else x.numel()
    sample_out = math.prod(out.shape[-inner:]) if out.dim() >= inner else out.numel()
    return x.numel(), out.numel(), sample_in, sample_out


#: The tally fields that are per-layer counts, divided by the number of samples in a report.
_COUNTED: tuple[str, ...] = tuple(f.name for f in fields(_Tally) if f.name in SUMMED)


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
    costs: str | EnergyModel = "45nm-fp32",
    per_step: bool | None = None,
    batch_dim: int | None = None,
    compare_ann: bool = False,
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
      outputs (NeuroBench ``ActivationSparsity``). A neuron's output is
      tested for 0/1 values at every call, unless the neuron emits only 0 and
      1 by construction (snnTorch's firing neurons with its own surrogates and
      a graded factor of 1: ``neuroenergy.energy.modules.emits_zero_one``);
    * membrane updates (NeuroBench ``MembraneUpdates``: all neurons on the
      first step, then those whose potential changed);
    * activation energy: sum of squared outputs of neurons, ReLU/Sigmoid and
      :class:`EnergyTap` s (the spike count for binary spikes);
    * neuron operations (NeuroBench ``NeuronOperations``): membrane updates
      (effective) or neurons x steps (dense), times the operations of one
      update by neuron type and reset (Leaky 4; Synaptic 6 subtract / 8
      zero; Lapicque 11; Alpha 18 / 24; other types 0);
    * energy in pJ under the energy model ``costs``: a compute-only cost table
      (MACs x E_MAC + ACs x E_AC + membrane updates x E_neuron_update; the
      figure is ``compute_pj``) or the memory-aware ``lemaire-2022``
      (``compute_pj + addressing_pj + memory_pj``, see
      :mod:`neuroenergy.energy.lemaire`);
    * with ``compare_ann``: ``energy_pj_ann``, the same layers run once as a
      conventional ANN under the same model (each synaptic layer one pass of
      dense MACs on non-binary input, its dense operations / T; each spiking
      neuron replaced by a ReLU, which costs nothing and holds no state;
      ReLU/Sigmoid/taps cost nothing; a recurrent cell runs one step from zero
      state), and ``ann_ratio`` = SNN / ANN per layer and in total. This is
      the same network only when the T steps repeat one input (rate or direct
      coding); for a sequence read over time it understates the ANN.

    Parameters that never reach a counted layer during the call (used by a
    functional op such as ``F.linear``, or by an unknown layer type) are
    listed in ``report.unused_parameters`` and warned about once per module.
    A module declares the parameters that only enter element-wise arithmetic
    (per-neuron constants, positional offsets), which hold no synaptic
    operations, by naming them in a class attribute
    ``elementwise_parameters = ("mu",)``; those are never reported.

    Pooling, normalisation, dropout, embeddings and operations done outside
    module calls (e.g. ``torch.matmul`` in attention) are not counted; full
    ``nn.LSTM``/``nn.GRU``/``nn.RNN`` and ``nn.MultiheadAttention`` are listed
    in ``report.uncounted`` (use the cell versions to count them).

    The model runs in eval mode without gradients; its training mode, hooks
    and neuron state are as they were after the call.

    Args:
        model: the network.
        batch: ``[T, B, ...]`` tensor or ``(inputs, targets)`` pair.
        costs: energy-model name (any of ``list_cost_tables()``: ``45nm-fp32``,
            ``45nm-fp16``, ``45nm-int8``, ``loihi-2018``, ``truenorth-2014``,
            ``lemaire-2022``, or one registered with ``register_cost_table``)
            or a ``CostTable`` / ``LemaireModel``.
        compare_ann: also price the same layers run once as an ANN.
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
    inputs = inputs.to(_device_of(model, inputs))
    # The per-step summary the counter uses proves, as a by-product, that every value is
    # finite; else one reduction (a finite sum proves it), and only then the full check.
    activity = step_activity(inputs) if per_step and _ExpectedSteps.can_follow(inputs) else None
    if inputs.is_floating_point() and not (activity is not None and activity.finite) \
            and not bool(torch.isfinite(inputs.sum())) and not bool(torch.isfinite(inputs).all()):
        raise InvalidInputError("the batch contains NaN or infinite values; clean or drop those samples")

    was_training = model.training
    saved_state = neuron_state(model)
    try:
        model.eval()
        with OperationCounter(model, costs=table, sequence_calls=not per_step) as counter, torch.no_grad():
            _run(model, inputs, per_step, counter, activity)
    finally:
        model.train(was_training)
        restore_neuron_state(model, saved_state)
    time_steps = inputs.shape[0] if per_step else getattr(model, "num_steps", None)
    report = counter.report(int(batch_size), time_steps, compare_ann=compare_ann)
    _warn_unused(model, report.unused_parameters)
    return report


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

    def __init__(self, model: nn.Module, costs: str | EnergyModel = "45nm-fp32",
                 sequence_calls: bool | None = None, synapses_only: bool = False) -> None:
        self.model = model
        self.costs = get_cost_table(costs)
        counted = countable_modules(model)
        if not any(kind in ("synapse", "neuron", "activation") for _, _, kind in counted):
            raise NothingToMeasureError(
                f"{type(model).__name__} holds no countable layer (nn.Linear, nn.Conv1d/2d/3d, "
                "RNN/LSTM/GRU cells, snnTorch neurons, ReLU/Sigmoid); nothing to measure"
            )
        if synapses_only and prices_neurons(self.costs):
            synapses_only = False  # the model prices neuron updates, so it needs their statistics
        self.counted = [entry for entry in counted if entry[2] == "synapse"] if synapses_only else counted
        self.tallies = {name: _Tally() for name, _, _ in self.counted}
        # Kept across entries (the trainer enters once per optimiser step): their work buffers
        # are then allocated once, not at every step.
        self._synapse_counters = {name: SynapseCounter(module) for name, module, kind in self.counted
                                  if kind == "synapse"}
        self._scratches = {name: Scratch() for name, _, kind in self.counted if kind != "synapse"}
        self._sequence_calls = (getattr(model, "consumes_sequence", False)
                                if sequence_calls is None else sequence_calls)
        self._handles: list = []
        self._first_step: dict[str, bool] = {}
        # The last neuron output found to hold only 0 and 1 (a weak reference to that very
        # tensor object, its version and its number of ones): the layer that reads it next
        # (Linear after Leaky) need not test or count it again. Identity, not the storage
        # address, which a later tensor reuses.
        self._zero_one: tuple[weakref.ref, int, int] | None = None
        self._steps: _ExpectedSteps | None = None

    def expect_steps(self, steps: torch.Tensor, activity: StepActivity | None = None) -> None:
        """The model is about to be called on ``steps[0]``, ``steps[1]``, ... of a
        time-first ``[T, B, ...]`` tensor, one at a time.

        Their activity is summarised now, in a few passes over all steps
        (:func:`~neuroenergy.energy.counting.step_activity`), and a synaptic layer that
        reads one of them unchanged (its very memory, reshaped at most, with no
        in-place change since) takes its operations from one product over all steps
        instead of testing and summing its input at every call: its hook only notes the
        step, and those calls reach the layer's tally when the counter is read
        (``report``, the ``*_total`` properties) or exited. Any other input is counted
        as usual; the counts are the same either way. ``steps`` is held until the
        counter is exited. ``activity``: ``step_activity(steps)`` when the caller
        has it already.
        """
        self._settle()
        self._steps = None
        if not _ExpectedSteps.can_follow(steps):
            return
        if activity is None:
            activity = step_activity(steps)
        if activity is not None and any(activity.zero_one):
            self._steps = _ExpectedSteps(steps, activity)

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
        self._settle()
        self._steps = None

    def _settle(self) -> None:
        # calls on announced steps reach the tallies here, not in their hooks (see expect_steps)
        if self._steps is not None:
            self._steps.settle(self.tallies)

    def new_sequence(self) -> None:
        """The next neuron call of each layer is the first step of a sequence."""
        self._first_step = {name: True for name in self.tallies}

    @property
    def synops_total(self) -> tuple[int, int]:
        """(effective MACs, effective ACs) summed over everything counted so far."""
        self._settle()
        return (sum(t.effective_macs for t in self.tallies.values()),
                sum(t.effective_acs for t in self.tallies.values()))

    @property
    def energy_pj_total(self) -> float:
        """Energy in pJ of everything counted so far (all samples, not per sample)."""
        self._settle()
        if isinstance(self.costs, CostTable):
            updates = sum(t.membrane_updates for t in self.tallies.values())
            return self.costs.energy_pj(*self.synops_total, updates)
        if not any(t.calls for t in self.tallies.values()):
            return 0.0
        return self.report(1).total.energy_pj

    @property
    def backward_energy_pj_total(self) -> float:
        """Estimated energy in pJ of the backward passes of everything counted so far.

        Forward counts cover forward passes only. The backward pass of a trained
        synaptic layer (one holding a parameter with ``requires_grad``) computes
        the gradient with respect to its input and to its weights, each about as
        many operations as its forward synaptic operations; the standard
        estimate is therefore 2 x its forward operations (effective MACs + ACs).
        Gradients are real-valued, so all are priced as MACs (``E_MAC``); neuron
        updates and surrogate-gradient element-wise products are not included.
        All samples, not per sample.
        """
        self._settle()
        operations = sum(tally.effective_macs + tally.effective_acs for name, module, kind in self.counted
                         if kind == "synapse" and any(p.requires_grad for p in module.parameters())
                         for tally in (self.tallies[name],))
        return BACKWARD_FACTOR * operations * self.costs.e_mac_pj

    def report(self, num_samples: int, time_steps: int | None = None,
               compare_ann: bool = False) -> EnergyReport:
        """Per-sample report of everything counted: sums divided by ``num_samples``."""
        if num_samples <= 0:
            raise InvalidInputError("report() needs the number of samples counted (> 0)")
        self._settle()
        rows = []
        for name, module, kind in self.counted:
            tally = self.tallies[name]
            if tally.calls == 0:
                continue
            counts = {key: getattr(tally, key) / num_samples for key in _COUNTED}
            if kind not in ("neuron", "activation"):
                # outputs of their own are a neuron's or an activation's; a tap passes its input on
                counts.update(outputs=0.0, nonzero_outputs=0.0)
            if kind == "neuron":
                per_update = neuron_ops_per_update(module)
                counts.update(neuron_ops_dense=per_update * counts["outputs"],
                              neuron_ops_effective=per_update * counts["membrane_updates"])
            weight = module.weight if kind == "tap" else 1.0
            rows.append(LayerEnergy(
                name=name, kind=kind, module_type=type(module).__name__, **counts,
                activation_energy=weight * tally.squared / num_samples,
                shape=layer_shape(module, kind, tally.sample_in, tally.sample_out),
            ))
        uncounted = uncounted_modules(self.model)
        return EnergyReport.from_layers(rows, self.costs, int(num_samples), time_steps, uncounted, compare_ann,
                                        unused_parameters(self.model, self.counted, self.tallies, uncounted))

    def _attach(self, name: str, module: nn.Module, kind: str) -> list:
        tally = self.tallies[name]
        if kind == "synapse":
            counter = self._synapse_counters[name]
            counter.weights_changed()  # an optimiser step may have changed them since the last entry
            # per-sample sizes: a conv call is [N, C, *spatial], a linear one [..., F]
            inner = len(module.kernel_size) + 1 if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) else 1

            def count_synops(mod, args, output):
                x = args[0] if args and isinstance(args[0], torch.Tensor) else None
                memo = self._zero_one  # a neuron's 0/1 output, its count known
                spikes = (memo[2] if memo is not None and x is not None and x is memo[0]()
                          and x._version == memo[1] else None)
                if spikes is None and self._steps is not None and x is not None \
                        and self._steps.take(name, counter, x, inner, output):
                    return  # one of the announced steps: added to the tally when the counter settles
                # detached only when needed (the counts write into buffers), as in add_outputs
                ops = counter(tuple(a.detach() if isinstance(a, torch.Tensor) and a.requires_grad else a
                                    for a in args), spikes)
                out = neuron_output(output) if isinstance(output, (torch.Tensor, tuple)) else None
                tally.add_synops(ops, _call_sizes(x, out, inner))

            return [module.register_forward_hook(count_synops)]

        previous: list[torch.Tensor | None] = [None]
        scratch = self._scratches[name]
        # looked up once: a missing attribute costs an exception inside nn.Module.__getattr__
        sequence = getattr(module, "consumes_sequence", False)
        # decided before this counter's own hooks are on the module (emits_zero_one checks hooks)
        zero_one = kind == "neuron" and emits_zero_one(module)

        def remember_membrane(mod, args):
            previous[0] = _membrane(mod)

        def add_outputs(raw: torch.Tensor) -> int:
            # one output's statistics; returns its nonzero values (its spikes, for a neuron).
            # Detached only when needed (the tests write into buffers): a detach costs a
            # tensor object at every call, and the comparisons and sums record no graph.
            out = raw.detach() if raw.requires_grad else raw
            spikes = count_spikes(out, scratch, zero_one) if kind == "neuron" else None
            if spikes is not None:  # 0/1 spikes: their count is their sum and their sum of squares
                nonzero = spikes
                tally.squared += spikes
                # inference-mode tensors keep no version counter: no memo, the next layer tests
                self._zero_one = None if raw.is_inference() else (weakref.ref(raw), raw._version, spikes)
            else:
                flat = out.reshape(-1)
                tally.squared += float(torch.dot(flat, flat).item())
                nonzero = count_nonzero(out, scratch)
            tally.calls += 1
            tally.outputs += out.numel()
            tally.nonzero_outputs += nonzero
            return nonzero

        def count_outputs(mod, args, output):
            # an activation (called per step or on a sequence), or a neuron consuming the sequence
            raw = neuron_output(output)
            nonzero = add_outputs(raw)
            if raw.dim() > 1:
                lead = 2 if sequence and raw.dim() > 2 else 1
                tally.sample_out = math.prod(raw.shape[lead:])
            if kind == "neuron":
                tally.spikes += nonzero
                tally.membrane_updates += _sequence_membrane_updates(output, scratch)

        def count_step(mod, args, output):
            # a neuron called per step on [B, ...]: twice a step with its pre-hook, so kept short
            raw = output[0] if type(output) is tuple else output  # neuron_output
            tally.spikes += add_outputs(raw)
            if raw.dim() > 1:
                tally.sample_out = math.prod(raw.shape[1:])
            mem = _membrane(mod)
            if isinstance(mem, torch.Tensor):
                before = previous[0]
                first = self._first_step.get(name, True)
                self._first_step[name] = False
                # NeuroBench: every neuron updates on a sequence's first step; later, those whose potential changed.
                if first or not isinstance(before, torch.Tensor) or before.shape != mem.shape:
                    tally.membrane_updates += mem.numel()
                else:
                    tally.membrane_updates += count_changed(before, mem, scratch)  # a comparison: no graph

        if kind == "neuron" and not sequence:
            return [module.register_forward_hook(count_step), module.register_forward_pre_hook(remember_membrane)]
        return [module.register_forward_hook(count_outputs)]


class _ExpectedSteps:
    """The steps announced by ``OperationCounter.expect_steps``, each synaptic layer's
    operations on them (computed at its first call on one of them), and the calls taken
    from them, which :meth:`settle` adds to the layers' tallies."""

    def __init__(self, steps: torch.Tensor, activity: StepActivity) -> None:
        self.steps, self.activity = steps, activity
        self.version = steps._version
        # where each step starts (steps are contiguous: can_follow), without a view per step
        start, stride = steps.data_ptr(), steps.stride(0) * steps.element_size()
        self.index = {start + t * stride: t for t in range(steps.shape[0])}
        self.step_size = steps[0].numel()
        self._ops: dict[tuple, list[SynOps | None]] = {}
        # per (layer, input shape): its operations per step, the sizes of one call, and the
        # steps it was called on since the last settle (the hook only appends to that list)
        self._taken: dict[tuple, tuple[list[SynOps | None], tuple | None, list[int]]] = {}

    @staticmethod
    def can_follow(steps: torch.Tensor) -> bool:
        """Whether a layer's input can be recognised as one of ``steps``, unchanged:
        contiguous, and not an inference tensor (those keep no version counter, so an
        in-place change would go unseen)."""
        return steps.is_contiguous() and not steps.is_inference()

    def take(self, name: str, counter: SynapseCounter, x: torch.Tensor, inner: int, output) -> bool:
        """Whether layer ``name``'s call on ``x`` (which gave ``output``) is on one of the
        steps, unchanged and 0/1; if so it is recorded for :meth:`settle`, else the caller
        counts ``x`` itself. ``inner``: the layer's row dimensions (1 for a Linear)."""
        t = self.index.get(x.data_ptr())
        # the same start, size and dtype and contiguous: the very memory of step t; the
        # version counter, shared by all views of ``steps``, rules out an in-place change
        if t is None or x.numel() != self.step_size or x.dtype != self.steps.dtype \
                or not self.can_follow(x) or x._version != self.version:
            return False
        key = (name, x.shape)
        taken = self._taken.get(key)
        if taken is None:
            row = tuple(x.shape[-inner:])
            if (name, row) not in self._ops:
                self._ops[(name, row)] = counter.ops_per_step(self.activity, row)
            # a Linear's or convolution's output shape follows from its input's
            out = neuron_output(output) if isinstance(output, (torch.Tensor, tuple)) else None
            taken = self._taken[key] = (self._ops[(name, row)], _call_sizes(x, out, inner), [])
        if taken[0][t] is None:
            return False
        taken[2].append(t)
        return True

    def settle(self, tallies: dict[str, _Tally]) -> None:
        """Add the calls taken so far to the layers' tallies."""
        for (name, _), (ops, sizes, steps) in self._taken.items():
            tally = tallies[name]
            for t in steps:
                tally.add_synops(ops[t], sizes)
            steps.clear()


#: Backward-pass operations per forward synaptic operation of a trained layer (see
#: ``OperationCounter.backward_energy_pj_total``).
BACKWARD_FACTOR = 2


#: NeuroBench ``NeuronOperations``: operations of one membrane update by neuron type and reset.
NEURON_OPS_PER_UPDATE: dict[str, dict[str, int]] = {
    "Leaky": {"subtract": 4, "zero": 4},
    "Synaptic": {"subtract": 6, "zero": 8},
    "Lapicque": {"subtract": 11, "zero": 11},
    "Alpha": {"subtract": 18, "zero": 24},
}


def neuron_ops_per_update(module: nn.Module) -> int:
    """Operations of one update of ``module`` (0 for types NeuroBench does not list)."""
    by_reset = NEURON_OPS_PER_UPDATE.get(type(module).__name__, {})
    return by_reset.get(getattr(module, "reset_mechanism", getattr(module, "_reset_mechanism", "")), 0)


def _is_leaky(module: nn.Module) -> bool:
    beta = getattr(module, "beta", None)
    if beta is None:
        return False
    beta = torch.as_tensor(beta)
    return float(beta) != 1.0 if beta.numel() == 1 else not bool(torch.all(beta == 1))


def layer_shape(module: nn.Module, kind: str, sample_in: int, sample_out: int) -> LayerShape:
    """The per-sample sizes a memory-aware model prices ``module`` with."""
    if kind == "neuron":
        return LayerShape(sample_out=sample_out, leaky=_is_leaky(module), priced=True)
    if kind != "synapse":
        return LayerShape(sample_in=sample_in, sample_out=sample_out)
    params = sum(p.numel() for p in module.parameters(recurse=False))
    has_bias = getattr(module, "bias", None) is not None and isinstance(module.bias, torch.Tensor)
    if isinstance(module, nn.Linear):
        return LayerShape(sample_in=sample_in, sample_out=sample_out, params=params,
                          weights_per_output=module.in_features, fanout_ops=module.out_features,
                          fanout_mem=module.out_features, has_bias=has_bias, priced=True)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_group = module.out_channels // module.groups
        return LayerShape(
            conv=True, sample_in=sample_in, sample_out=sample_out, params=params,
            weights_per_output=math.prod(module.weight.shape[1:]),
            fanout_ops=per_group * math.prod(math.ceil(k / s) for k, s in zip(module.kernel_size, module.stride)),
            fanout_mem=per_group * math.prod(module.kernel_size),
            kernel_outputs=module.out_channels * math.prod(module.kernel_size),
            has_bias=has_bias, priced=True)
    return LayerShape(sample_in=sample_in, sample_out=sample_out, params=params)


def unused_parameters(model: nn.Module, counted, tallies, uncounted: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Modules holding parameters that no counted layer call used (their operations are missing).
    ``uncounted``: ``uncounted_modules(model)``, when the caller has it."""
    if uncounted is None:
        uncounted = uncounted_modules(model)
    used = set()
    for name, module, kind in counted:
        if tallies[name].calls:
            used.update(id(p) for p in module.parameters())
    missing = []
    inside = tuple(f"{name}." for name in uncounted if name)
    for name, module in model.named_modules():
        if name.startswith(inside) if inside else False:
            continue  # weights of an uncounted layer, already listed in report.uncounted
        elementwise = set(getattr(module, "elementwise_parameters", ()))
        own = [p for pname, p in module.named_parameters(recurse=False) if pname not in elementwise]
        if not own or isinstance(module, _FREE_PARAMETER_LAYERS) or module_kind(module) in ("neuron", "tap"):
            continue
        if any(id(p) not in used for p in own):
            missing.append(name or type(module).__name__)
    return tuple(missing)


#: Layers whose parameters are not synaptic arithmetic (lookups, normalisation) or are
#: already reported as ``uncounted``: never warned about.
_FREE_PARAMETER_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Embedding, nn.EmbeddingBag, nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm,
    nn.RNNBase, nn.MultiheadAttention, nn.ReLU, nn.Sigmoid, nn.PReLU)


def _warn_unused(model: nn.Module, names: tuple[str, ...]) -> None:
    # once per module object: a training loop that measures every epoch warns once
    for name in names:
        module = dict(model.named_modules()).get(name, model)
        if getattr(module, "_neuroenergy_unused_warned", False):
            continue
        object.__setattr__(module, "_neuroenergy_unused_warned", True)
        warnings.warn(
            f"measure(): {name} ({type(module).__name__}) holds parameters that no counted layer used "
            "(used by a functional op such as F.linear, x @ W or an element-wise product, or by an "
            "unsupported layer type); operations with them are not in the report",
            UnusedParameterWarning, stacklevel=3)


class UnusedParameterWarning(UserWarning):
    """A model holds parameters whose operations ``measure`` could not count."""


def _membrane(neuron: nn.Module):
    """The neuron's membrane potential ``mem`` (None if it has none). snnTorch keeps it as a
    buffer, read here without ``nn.Module.__getattr__``: a hook reads it twice a step."""
    buffers = neuron._buffers
    return buffers["mem"] if "mem" in buffers else getattr(neuron, "mem", None)


def _sequence_membrane_updates(output, scratch: Scratch | None = None) -> int:
    """NeuroBench's membrane updates of one whole-sequence neuron call
    returning ``(spk, mem)`` with ``mem [T, ...]`` from zero state: every
    neuron on the first step, then those whose potential changed."""
    mem = output[1].detach()
    return mem[0].numel() + count_changed(mem[:-1], mem[1:], scratch)


def _device_of(model: nn.Module, inputs: torch.Tensor) -> torch.device:
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return inputs.device if tensor is None else tensor.device


def _run(model: nn.Module, inputs: torch.Tensor, per_step: bool, counter: "OperationCounter",
         activity: StepActivity | None = None) -> None:
    try:
        if per_step:
            reset_neuron_state(model)
            counter.new_sequence()
            counter.expect_steps(inputs, activity)
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
