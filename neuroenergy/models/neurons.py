"""A Leaky (LIF) neuron run over a whole sequence in one call.

snnTorch's ``snn.Leaky`` advances one time step per call; run over T steps it
records about ten autograd nodes and a dozen element-wise passes per step, and
that, not the synaptic arithmetic, was most of a small network's training time
on CPU. Here a whole layer over all T steps is one autograd node:

* functional core — :func:`leaky_sequence` (spikes and membrane) and
  :func:`leaky_membrane` (membrane only). Forward: the exact snnTorch update,
  step by step without autograd, so the values are bit-identical to
  ``snn.Leaky``. Backward: the surrogate derivative of the spikes
  (:class:`Surrogate`, snnTorch's formulas), then the reverse scan of the same
  recurrence (``dU_t/dU_{t-1} = beta``, or ``beta * (1 - R_t)`` for the reset
  to zero; the reset signal is detached, as in snnTorch);
* module shell — :class:`SequenceLeaky`, an ``snn.Leaky`` whose ``forward``
  takes ``cur [T, B, ...]`` and returns ``(spk, mem)``, both ``[T, B, ...]``.
  With a spike function other than a :class:`Surrogate` it fuses the
  recurrence only and applies snnTorch's own ``fire`` to all steps at once.

Being an ``snn.Leaky``, it carries the same parameters and state-dict and is
counted by :func:`neuroenergy.energy.measure` as a neuron; its class
attribute ``consumes_sequence = True`` tells the counter that one call is a
whole sequence (first step: every neuron updates; later steps: those whose
potential changed — NeuroBench's rule, as for per-step calls).
"""

from __future__ import annotations

from typing import ClassVar

import snntorch as snn
import torch
from snntorch import surrogate as sg
from torch import Tensor, nn

__all__ = ["Surrogate", "leaky_membrane", "leaky_sequence", "SequenceLeaky", "RESETS", "release_state"]

#: snnTorch's reset mechanisms, by its ``reset_mechanism_val`` code.
RESETS = {0: "subtract", 1: "zero", 2: "none"}


_STATE_NAMES = ("mem", "spk", "syn")  # what snnTorch neurons cache on themselves


def release_state(neuron: nn.Module) -> None:
    """Drop the last step's state that snnTorch caches on the module.

    snnTorch stores ``mem``/``spk``/``syn`` of the last call on the neuron;
    with explicit state that copy is unused, but it would pin the autograd
    graph in memory and make ``copy.deepcopy(model)`` fail after a forward.
    """
    for name in _STATE_NAMES:
        t = getattr(neuron, name, None)
        if isinstance(t, Tensor) and t.numel() > 0:
            setattr(neuron, name, t.new_zeros(0).detach())


class Surrogate:
    """An snnTorch surrogate spike function that knows its name and slope.

    Called like the function snnTorch's ``surrogate.fast_sigmoid(slope)`` /
    ``atan(alpha)`` / ``sigmoid(slope)`` return (it *is* that function), so any
    snnTorch neuron takes it as ``spike_grad``; :class:`SequenceLeaky` also
    uses :meth:`backward` to fold the derivative into its own backward pass.
    """

    NAMES = ("fast_sigmoid", "atan", "sigmoid")

    def __init__(self, name: str, slope: float) -> None:
        if name not in self.NAMES:
            raise ValueError(f"unknown surrogate {name!r}; known: {', '.join(self.NAMES)}")
        self.name, self.slope = name, float(slope)
        if name == "fast_sigmoid":
            self._spike = sg.fast_sigmoid(slope=slope)
        elif name == "atan":
            self._spike = sg.atan(alpha=slope)
        else:
            self._spike = sg.sigmoid(slope=slope)

    def __call__(self, x: Tensor) -> Tensor:
        return self._spike(x)

    def backward_(self, x: Tensor, grad: Tensor) -> Tensor:
        """``grad * dS/dx`` at ``x = U - theta``, computed in place in ``x``.

        snnTorch's formulas (tested equal to its autograd within float
        rounding): fast_sigmoid ``1 / (k|x| + 1)^2``; atan
        ``k/2 / (1 + (pi/2 k x)^2)``; sigmoid ``k e^{-kx} / (e^{-kx} + 1)^2``.
        """
        k = self.slope
        if self.name == "fast_sigmoid":
            return x.abs_().mul_(k).add_(1.0).square_().reciprocal_().mul_(grad)
        if self.name == "atan":
            return x.mul_(torch.pi / 2 * k).square_().add_(1.0).reciprocal_().mul_(k / 2).mul_(grad)
        decay = x.mul_(-k).exp_()
        return (decay + 1).square_().reciprocal_().mul_(decay).mul_(k).mul_(grad)

    def __repr__(self) -> str:
        return f"Surrogate({self.name!r}, slope={self.slope:g})"


def _membrane_forward(cur: Tensor, beta: Tensor, threshold: Tensor, reset: str) -> tuple[Tensor, Tensor | None]:
    """``U [T, ...]`` from zero state, and the reset masks ``R [T, ...]`` for reset "zero"."""
    mem = torch.empty_like(cur)  # keeps a channels-last layout (see layers._cpu_channels_last)
    previous = torch.zeros_like(cur[0])
    resets = torch.empty(cur.shape, dtype=torch.bool, device=cur.device) if reset == "zero" else None
    for t in range(cur.shape[0]):
        out = mem[t]
        # the same arithmetic in the same order as snn.Leaky, so the values are bit-identical;
        # R_t = H(U_{t-1} - theta) is snnTorch's mem_reset (U - theta > 0 exactly when U > theta)
        if resets is not None:
            fired = torch.gt(previous, threshold, out=resets[t])
            torch.mul(previous, fired.logical_not(), out=out)
            out.mul_(beta).add_(cur[t])
        else:
            torch.mul(previous, beta, out=out)
            out.add_(cur[t])
            if reset == "subtract":
                out.sub_(torch.gt(previous, threshold) * threshold)
        previous = out
    return mem, resets


def _membrane_backward(grad_mem: Tensor, beta: Tensor, resets: Tensor | None) -> Tensor:
    """Reverse scan: ``dL/dI_t = dL/dU_t + dL/dI_{t+1} * dU_{t+1}/dU_t`` (reset detached)."""
    grad_cur = torch.empty_like(grad_mem)
    steps = grad_mem.shape[0]
    grad_cur[steps - 1] = grad_mem[steps - 1]
    for t in range(steps - 2, -1, -1):
        if resets is None:
            torch.addcmul(grad_mem[t], grad_cur[t + 1], beta, out=grad_cur[t])
        else:
            carried = (grad_cur[t + 1] * beta).masked_fill_(resets[t + 1], 0.0)
            torch.add(grad_mem[t], carried, out=grad_cur[t])
    return grad_cur


class _LeakyMembrane(torch.autograd.Function):
    """``cur [T, ...] -> U [T, ...]``; ``beta`` (clamped) and ``threshold`` are constants."""

    @staticmethod
    def forward(ctx, cur: Tensor, beta: Tensor, threshold: Tensor, reset: str) -> Tensor:  # type: ignore[override]
        mem, resets = _membrane_forward(cur, beta, threshold, reset)
        ctx.save_for_backward(beta, resets)
        return mem

    @staticmethod
    def backward(ctx, grad_mem: Tensor):  # type: ignore[override]
        beta, resets = ctx.saved_tensors
        return _membrane_backward(grad_mem, beta, resets), None, None, None


class _LeakySpikes(torch.autograd.Function):
    """``cur [T, ...] -> (S, U)``, the spike function and its surrogate derivative
    folded in: a few whole-sequence passes instead of about ten per step."""

    @staticmethod
    def forward(ctx, cur: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor | None,  # type: ignore[override]
                reset: str, surrogate: Surrogate) -> tuple[Tensor, Tensor]:
        mem, resets = _membrane_forward(cur, beta, threshold, reset)
        # snnTorch: S = H(U - theta) * graded_spikes_factor (None: a factor of 1)
        spk = torch.gt(mem, threshold, out=torch.empty_like(mem))
        if graded is not None:
            spk.mul_(graded)
        ctx.surrogate = surrogate
        ctx.save_for_backward(mem, beta, threshold, graded, resets)
        ctx.set_materialize_grads(False)  # an unused output (often the spikes of a readout) costs nothing
        return spk, mem

    @staticmethod
    def backward(ctx, grad_spk: Tensor | None, grad_mem: Tensor | None):  # type: ignore[override]
        mem, beta, threshold, graded, resets = ctx.saved_tensors
        direct = None
        if grad_spk is not None:
            direct = ctx.surrogate.backward_(mem - threshold, grad_spk if graded is None else grad_spk * graded)
        if grad_mem is not None:
            direct = grad_mem if direct is None else direct.add_(grad_mem)
        if direct is None:
            return None, None, None, None, None, None
        return _membrane_backward(direct, beta, resets), None, None, None, None, None


def _constants(cur: Tensor, reset: str, *values) -> list[Tensor]:
    if reset not in RESETS.values():
        raise ValueError(f"reset must be one of {sorted(RESETS.values())}, got {reset!r}")
    if cur.dim() < 2 or cur.shape[0] == 0:
        raise ValueError(f"cur must be a time-first sequence [T, B, ...] with T >= 1, got {tuple(cur.shape)}")
    return [torch.as_tensor(v, dtype=cur.dtype, device=cur.device).detach() for v in values]


def leaky_membrane(cur: Tensor, beta: Tensor | float, threshold: Tensor | float,
                   reset: str = "subtract") -> Tensor:
    """Membrane potential ``[T, B, ...]`` of a Leaky neuron driven by ``cur [T, B, ...]``.

    From zero state, per step (snnTorch ``snn.Leaky`` with ``reset_delay``)::

        R_t = H(U_{t-1} - theta)                    (detached)
        U_t = beta U_{t-1} + I_t - R_t theta        reset "subtract"
        U_t = beta (1 - R_t) U_{t-1} + I_t          reset "zero"
        U_t = beta U_{t-1} + I_t                    reset "none"

    ``beta`` and ``threshold``: floats or tensors broadcastable to one step
    ``[B, ...]`` (no gradient flows to them). The result is differentiable
    with respect to ``cur`` through the whole recurrence (BPTT).
    """
    beta_t, threshold_t = _constants(cur, reset, beta, threshold)
    return _LeakyMembrane.apply(cur, beta_t.clamp(0, 1), threshold_t, reset)


def leaky_sequence(cur: Tensor, beta: Tensor | float, threshold: Tensor | float, surrogate: Surrogate,
                   reset: str = "subtract", graded_spikes_factor: Tensor | float = 1.0) -> tuple[Tensor, Tensor]:
    """Spikes and membrane ``(S, U)``, both ``[T, B, ...]``, of a Leaky neuron.

    ``U`` as in :func:`leaky_membrane`; ``S_t = H(U_t - theta) *
    graded_spikes_factor`` with ``surrogate``'s derivative in the backward
    pass — what ``snn.Leaky(spike_grad=surrogate)`` computes step by step.
    """
    beta_t, threshold_t, graded_t = _constants(cur, reset, beta, threshold, graded_spikes_factor)
    # a factor of exactly 1 (the default) is skipped; read on CPU only, where it costs no device sync
    unit = graded_t.device.type == "cpu" and graded_t.numel() == 1 and float(graded_t) == 1.0
    return _LeakySpikes.apply(cur, beta_t.clamp(0, 1), threshold_t, None if unit else graded_t, reset, surrogate)


class SequenceLeaky(snn.Leaky):
    """``snn.Leaky`` that takes a whole sequence: ``forward(cur [T, B, ...])``
    -> ``(spk [T, B, ...], mem [T, B, ...])``, from zero state each call.

    Same constructor, parameters and outputs as ``snn.Leaky`` run step by step
    (tested bit-identical forward, equal gradients). Options the fused
    recurrence does not cover — learnable beta or threshold, state
    quantisation, inhibition, ``reset_delay=False`` — fall back to calling
    ``snn.Leaky`` once per step, with the same result.
    """

    consumes_sequence: ClassVar[bool] = True

    def __init__(self, *args, init_hidden: bool = False, **kwargs) -> None:
        if init_hidden:  # checked first: snnTorch would already have listed the neuron globally
            raise ValueError("SequenceLeaky starts every call from zero state; init_hidden=True does not apply")
        super().__init__(*args, **kwargs)

    def forward(self, cur: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        if cur.dim() < 2:
            raise ValueError(
                f"SequenceLeaky takes a time-first sequence [T, B, ...], got shape {tuple(cur.shape)}"
            )
        if not self._fusable():
            return self._forward_per_step(cur)
        reset = RESETS[int(self.reset_mechanism_val)]
        if isinstance(self.spike_grad, Surrogate) and not self.graded_spikes_factor.requires_grad:
            return leaky_sequence(cur, self.beta, self.threshold, self.spike_grad, reset, self.graded_spikes_factor)
        # any other spike function: the recurrence fused, snnTorch's fire on all steps at once
        mem = leaky_membrane(cur, self.beta, self.threshold, reset)
        return self.fire(mem), mem

    def _fusable(self) -> bool:
        return (not self.state_quant and not self.inhibition and self.reset_delay
                and not self.beta.requires_grad and not self.threshold.requires_grad
                and int(self.reset_mechanism_val) in RESETS)

    def _forward_per_step(self, cur: Tensor) -> tuple[Tensor, Tensor]:
        mem = torch.zeros_like(cur[0])
        spikes, mems = [], []
        for c in cur.unbind(0):
            spk, mem = super().forward(c, mem)
            spikes.append(spk)
            mems.append(mem)
        release_state(self)
        return torch.stack(spikes), torch.stack(mems)
