"""A Leaky (LIF) neuron run over a whole sequence in one call.

snnTorch's ``snn.Leaky`` advances one time step per call; run over T steps it
records about ten autograd nodes per step, and that bookkeeping, not the
arithmetic, is most of a small network's training time on CPU. Here the
membrane recurrence of all T steps is one autograd node:

* :func:`leaky_membrane` (functional core) — forward: the exact snnTorch
  update, step by step without autograd, so the values are bit-identical to
  ``snn.Leaky``; backward: the reverse scan of the same recurrence
  (``dU_t/dU_{t-1} = beta``, or ``beta * (1 - R_t)`` for the reset to zero;
  the reset signal is detached, as in snnTorch);
* :class:`SequenceLeaky` (module shell) — an ``snn.Leaky`` whose ``forward``
  takes ``cur [T, B, ...]`` and returns ``(spk, mem)``, both ``[T, B, ...]``.
  The spikes come from snnTorch's own ``fire`` (its surrogate gradient) on
  all steps at once.

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
from torch import Tensor, nn

__all__ = ["leaky_membrane", "SequenceLeaky", "RESETS", "release_state"]

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


class _LeakyMembrane(torch.autograd.Function):
    """``cur [T, ...] -> mem [T, ...]`` for a Leaky neuron from zero state.

    ``beta`` (already clamped to [0, 1]) and ``threshold`` are constants
    (tensors broadcastable to one step, not requiring grad).
    """

    @staticmethod
    def forward(ctx, cur: Tensor, beta: Tensor, threshold: Tensor, reset: str) -> Tensor:  # type: ignore[override]
        mem = torch.empty_like(cur)  # keeps a channels-last layout (see layers._cpu_channels_last)
        previous = torch.zeros_like(cur[0])
        keep_reset = reset == "zero"
        resets = torch.empty(cur.shape, dtype=torch.bool, device=cur.device) if keep_reset else None
        for t in range(cur.shape[0]):
            out = mem[t]
            # the same arithmetic in the same order as snn.Leaky, so the values are bit-identical;
            # R_t = H(U_{t-1} - theta) is snnTorch's mem_reset (U - theta > 0 exactly when U > theta)
            if reset == "zero":
                fired = torch.gt(previous, threshold, out=resets[t])  # type: ignore[index]
                torch.mul(previous, fired.logical_not(), out=out)
                out.mul_(beta).add_(cur[t])
            else:
                torch.mul(previous, beta, out=out)
                out.add_(cur[t])
                if reset == "subtract":
                    out.sub_(torch.gt(previous, threshold) * threshold)
            previous = out
        ctx.reset = reset
        ctx.save_for_backward(beta, resets if keep_reset else None)
        return mem

    @staticmethod
    def backward(ctx, grad_mem: Tensor):  # type: ignore[override]
        beta, resets = ctx.saved_tensors
        grad_cur = torch.empty_like(grad_mem)
        steps = grad_mem.shape[0]
        grad_cur[steps - 1] = grad_mem[steps - 1]
        for t in range(steps - 2, -1, -1):
            # dL/dU_t = dL/dU_t (direct) + dL/dU_{t+1} * dU_{t+1}/dU_t
            carried = grad_cur[t + 1] * beta
            if resets is not None:
                carried.masked_fill_(resets[t + 1], 0.0)
            torch.add(grad_mem[t], carried, out=grad_cur[t])
        return grad_cur, None, None, None


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
    if reset not in RESETS.values():
        raise ValueError(f"reset must be one of {sorted(RESETS.values())}, got {reset!r}")
    if cur.dim() < 2 or cur.shape[0] == 0:
        raise ValueError(f"cur must be a time-first sequence [T, B, ...] with T >= 1, got {tuple(cur.shape)}")
    beta_t = torch.as_tensor(beta, dtype=cur.dtype, device=cur.device).detach().clamp(0, 1)
    threshold_t = torch.as_tensor(threshold, dtype=cur.dtype, device=cur.device).detach()
    return _LeakyMembrane.apply(cur, beta_t, threshold_t, reset)


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
        if self._fusable():
            mem = leaky_membrane(cur, self.beta, self.threshold, RESETS[int(self.reset_mechanism_val)])
            return self.fire(mem), mem
        return self._forward_per_step(cur)

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
