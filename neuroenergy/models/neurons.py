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

from collections.abc import Callable
from typing import ClassVar

import snntorch as snn
import torch
from snntorch import surrogate as sg
from torch import Tensor, nn

__all__ = ["Surrogate", "leaky_membrane", "leaky_sequence", "SequenceLeaky", "RESETS", "release_state",
           "step_through"]

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


def step_through(step: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]], cur: Tensor,
                 keep_mem: bool = True) -> tuple[Tensor, Tensor | None]:
    """Run a per-step neuron call ``step(cur_t, mem) -> (spk_t, mem_t)`` (an
    ``snn.Leaky`` with explicit state) over ``cur [T, B, ...]`` from zero state.

    Returns ``(spk [T, B, ...], mem [T, B, ...] or None)``. ``unbind`` (not
    ``cur[t]``) keeps the backward linear in T: indexing would make autograd
    build a full-size zero gradient per step.
    """
    mem = torch.zeros_like(cur[0])
    spikes: list[Tensor] = []
    mems: list[Tensor] = []
    for c in cur.unbind(0):
        spk, mem = step(c, mem)
        spikes.append(spk)
        if keep_mem:
            mems.append(mem)
    return torch.stack(spikes), (torch.stack(mems) if keep_mem else None)


class Surrogate:
    """An snnTorch surrogate spike function that knows its name and slope.

    Called like the function snnTorch's ``surrogate.fast_sigmoid(slope)`` /
    ``atan(alpha)`` / ``sigmoid(slope)`` return (it *is* that function), so any
    snnTorch neuron takes it as ``spike_grad``; :class:`SequenceLeaky` also
    uses :meth:`backward_` to fold the derivative into its own backward pass.
    """

    NAMES = ("fast_sigmoid", "atan", "sigmoid")
    #: its forward is snnTorch's, a Heaviside step: it returns only 0 and 1
    #: (``neuroenergy.energy.modules.emits_zero_one``)
    zero_one_spikes: ClassVar[bool] = True

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

        snnTorch's derivatives (tested equal to its autograd within float
        rounding): fast_sigmoid ``1 / (k|x| + 1)^2``; atan
        ``k/2 / (1 + (pi/2 k x)^2)``; sigmoid ``k e^{-kx} / (e^{-kx} + 1)^2``,
        computed as ``k s (1 - s)`` with ``s = sigmoid(kx)``: snnTorch's form
        overflows to NaN once ``-kx`` exceeds about 88 (e.g. U 3.5 below
        threshold at slope 25); this one goes to 0 there.
        """
        k = self.slope
        if self.name == "fast_sigmoid":
            return x.abs_().mul_(k).add_(1.0).square_().reciprocal_().mul_(grad)
        if self.name == "atan":
            return x.mul_(torch.pi / 2 * k).square_().add_(1.0).reciprocal_().mul_(k / 2).mul_(grad)
        s = x.mul_(k).sigmoid_()
        return torch.rsub(s, 1.0).mul_(s).mul_(k).mul_(grad)

    def __repr__(self) -> str:
        return f"Surrogate({self.name!r}, slope={self.slope:g})"


def _membrane_forward(cur: Tensor, beta: Tensor, threshold: Tensor, reset: str) -> tuple[Tensor, Tensor]:
    """``U [T, ...]`` from zero state and ``H [T, ...]``, ``H_t = H(U_t - theta)`` as 0/1 floats.

    The same arithmetic in the same order as ``snn.Leaky``, so the values are
    bit-identical: its reset signal ``R_t = H(U_{t-1} - theta)`` is ``H_{t-1}``
    (``U - theta > 0`` exactly when ``U > theta``), and ``R theta`` is exact for
    R in {0, 1}, so subtracting it with ``addcmul`` rounds once, as snnTorch does.
    """
    mem = torch.empty_like(cur)  # keeps a channels-last layout (see layers._cpu_channels_last)
    fired = torch.empty_like(mem)
    for t in range(cur.shape[0]):
        out = mem[t]
        if t == 0:
            out.copy_(cur[0])  # beta * 0 + I_0 - 0 * theta
        elif reset == "zero":  # U_t = beta * ((1 - R_t) * U_{t-1}) + I_t
            torch.mul(torch.rsub(fired[t - 1], 1.0), mem[t - 1], out=out)
            out.mul_(beta).add_(cur[t])
        else:
            torch.mul(mem[t - 1], beta, out=out)
            out.add_(cur[t])
            if reset == "subtract":
                out.addcmul_(fired[t - 1], threshold, value=-1.0)
        torch.gt(out, threshold, out=fired[t])
    return mem, fired


#: On CPU the backward handles as many time steps per pass as fit in about
#: this many elements (256 KB in float32), so that a block stays in cache
#: across the dozen operations applied to it while small layers still take
#: few, larger operations.
_CPU_BLOCK_ELEMENTS = 1 << 16


def _steps_per_block(t: Tensor) -> int:
    """Time steps of ``t [T, ...]`` handled per pass in the backward: a cache-sized
    block on CPU; all of them on a GPU, where fewer, larger kernels count."""
    if t.device.type != "cpu":
        return t.shape[0]
    return max(1, _CPU_BLOCK_ELEMENTS // max(1, t[0].numel()))


def _leaky_backward(mem: Tensor, fired: Tensor, beta: Tensor, threshold: Tensor, reset: str,
                    grad_spk: Tensor | None, grad_mem: Tensor | None,
                    surrogate: Surrogate | None, steps_per_block: int) -> Tensor:
    """``dL/dI [T, ...]`` from the gradients on the spikes (through ``surrogate``)
    and on the membrane, by the reverse scan
    ``dL/dI_t = dL/dU_t + dL/dI_{t+1} * dU_{t+1}/dU_t`` with
    ``dU_{t+1}/dU_t = beta`` (subtract, none) or ``beta * (1 - H_t)`` (zero);
    the reset signal is detached, as in snnTorch."""
    steps = mem.shape[0]
    grad_cur = torch.empty_like(mem)
    # one buffer for every block: a fresh large allocation per step costs page faults on CPU
    scratch = torch.empty_like(mem[:steps_per_block]) if grad_spk is not None else None
    for stop in range(steps, 0, -steps_per_block):
        block = slice(max(0, stop - steps_per_block), stop)
        if grad_spk is not None:
            shifted = torch.sub(mem[block], threshold, out=scratch[:stop - block.start])  # type: ignore[index]
            direct = surrogate.backward_(shifted, grad_spk[block])  # type: ignore[union-attr]
            if grad_mem is not None:
                direct.add_(grad_mem[block])
        else:
            direct = grad_mem[block]  # type: ignore[index]
        for t in range(stop - 1, block.start - 1, -1):
            here = direct[t - block.start]
            if t == steps - 1:
                grad_cur[t].copy_(here)
            elif reset == "zero":
                carried = (grad_cur[t + 1] * beta).masked_fill_(fired[t] > 0, 0.0)
                torch.add(here, carried, out=grad_cur[t])
            else:
                torch.addcmul(here, grad_cur[t + 1], beta, out=grad_cur[t])
    return grad_cur


class _LeakyMembrane(torch.autograd.Function):
    """``cur [T, ...] -> U [T, ...]``; ``beta`` (clamped) and ``threshold`` are constants."""

    @staticmethod
    def forward(ctx, cur: Tensor, beta: Tensor, threshold: Tensor, reset: str) -> Tensor:  # type: ignore[override]
        mem, fired = _membrane_forward(cur, beta, threshold, reset)
        ctx.reset = reset
        ctx.save_for_backward(mem, fired, beta, threshold)
        return mem

    @staticmethod
    def backward(ctx, grad_mem: Tensor):  # type: ignore[override]
        mem, fired, beta, threshold = ctx.saved_tensors
        grad = _leaky_backward(mem, fired, beta, threshold, ctx.reset, None, grad_mem, None, _steps_per_block(mem))
        return grad, None, None, None


class _LeakySpikes(torch.autograd.Function):
    """``cur [T, ...] -> (S, U)``, the spike function and its surrogate derivative
    folded in: a few operations per step instead of about twenty."""

    @staticmethod
    def forward(ctx, cur: Tensor, beta: Tensor, threshold: Tensor, graded: Tensor | None,  # type: ignore[override]
                reset: str, surrogate: Surrogate, steps_per_block: int) -> tuple[Tensor, Tensor]:
        mem, fired = _membrane_forward(cur, beta, threshold, reset)
        # snnTorch: S = H(U - theta) * graded_spikes_factor (None: a factor of 1)
        spk = fired if graded is None else fired * graded
        ctx.reset, ctx.surrogate, ctx.steps_per_block = reset, surrogate, steps_per_block
        ctx.save_for_backward(mem, fired, beta, threshold, graded)
        ctx.set_materialize_grads(False)  # an unused output (often the spikes of a readout) costs nothing
        return spk, mem

    @staticmethod
    def backward(ctx, grad_spk: Tensor | None, grad_mem: Tensor | None):  # type: ignore[override]
        mem, fired, beta, threshold, graded = ctx.saved_tensors
        none = (None,) * 6
        if grad_spk is None and grad_mem is None:
            return (None, *none)
        if grad_spk is not None and graded is not None:
            grad_spk = grad_spk * graded
        grad = _leaky_backward(mem, fired, beta, threshold, ctx.reset, grad_spk, grad_mem,
                               ctx.surrogate, ctx.steps_per_block)
        return (grad, *none)


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
    return _LeakySpikes.apply(cur, beta_t.clamp(0, 1), threshold_t, None if unit else graded_t, reset, surrogate,
                              _steps_per_block(cur))


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
    #: its spikes are its spike function's output times ``graded_spikes_factor``, as
    #: snnTorch's (``neuroenergy.energy.modules.emits_zero_one``)
    zero_one_spikes: ClassVar[bool] = True

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
        spk, mem = step_through(super().forward, cur)
        release_state(self)
        assert mem is not None
        return spk, mem
