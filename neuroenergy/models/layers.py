"""Building blocks shared by the architectures: time-batched synaptic layers,
snnTorch neuron construction, and the loops that run a neuron over time.

The speed rule of every model here: synaptic work (Linear / Conv) runs over
all T steps at once (``[T, B, ...]`` -> one call on ``T*B`` rows; on CPU,
convolutions go in blocks of whole steps, see :func:`blockwise`; an input
that is the same at every step, from the ``direct`` encoder, is multiplied
once and expanded, so the T-fold repetition costs nothing); only the
neuron's recurrence loops over time, inside one autograd node per layer
(:class:`~neuroenergy.models.neurons.SequenceLeaky`, bit-identical to calling
``snn.Leaky`` once per step). Every synaptic
layer is an ``nn.Linear`` / ``nn.ConvNd`` module called through ``__call__``
with the real tensor it multiplies, so the forward hooks of
:func:`neuroenergy.energy.measure` see every operation.

Shapes: ``T`` time steps, ``B`` batch, ``F`` features, ``C`` channels,
``H, W`` / ``L`` spatial / sequence positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import snntorch as snn
import torch
from torch import Tensor, nn

from neuroenergy.energy.matmul import SynapticMatmul

from .neurons import SequenceLeaky, Surrogate, release_state, step_through

__all__ = [
    "TimeLinear",
    "TimeConv1d",
    "TimeConv2d",
    "time_apply",
    "blockwise",
    "CPU_BLOCK_ELEMENTS",
    "make_surrogate",
    "make_leaky",
    "register_neuron",
    "release_state",
    "run_leaky",
    "SpikeMatmul",
]


def _is_time_constant(x: Tensor) -> bool:
    """True for a tensor expanded along time (stride 0 on dim 0): the same at every step."""
    return x.shape[0] > 1 and x.stride(0) == 0


def first_step(x: Tensor) -> Tensor:
    """``x[0]`` of a time-constant ``x [T, B, ...]``.

    When ``x`` is ``once.unsqueeze(0).expand(T, ...)`` (what the time-batched
    layers return for a time-constant input), this is ``once`` itself: the
    gradient then reaches ``once`` directly, instead of through ``x[0]``'s
    backward, which fills a zero gradient of the full ``[T, B, ...]`` size
    only for the expansion to sum it again (a fifth of a cnn training step).
    """
    base = x._base
    if (base is not None and base.shape == x.shape[1:] and base.stride() == x.stride()[1:]
            and base.storage_offset() == x.storage_offset()):
        return base
    return x[0]


class TimeLinear(nn.Linear):
    """``nn.Linear`` applied to a time-first sequence ``[T, B, ..., F_in]``.

    One call covers all T steps (a ``[T*B*..., F_in] x [F_in, F_out]`` product).
    If the input is, by construction, the same at every step — a tensor
    *expanded* along time (stride 0 on dim 0), which is what the ``direct``
    encoder yields — the product is computed once and expanded: bit-identical
    to computing it at every step, T times cheaper. Forward hooks still receive
    the full ``[T, B, ..., F_in]`` input and ``[T, B, ..., F_out]`` output, so
    operation counts stay per step.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() >= 3 and _is_time_constant(x):
            once = super().forward(first_step(x))
            return once.unsqueeze(0).expand(x.shape[0], *once.shape)
        return super().forward(x)


class _TimeConvMixin:
    """Convolution over a time-first sequence ``[T, B, C, *S]`` -> ``[T, B, C', *S']``.

    One call covers all T steps (as ``[T*B, C, *S]``); an input expanded along
    time (the ``direct`` encoder's) is convolved once and expanded — the same
    values a per-step loop computes. Forward hooks see the ``[T, B, C, *S]``
    input, so operation counts stay per step.
    """

    def forward(self, x: Tensor) -> Tensor:
        return time_apply(lambda z: super(_TimeConvMixin, self).forward(_cpu_channels_last(z)), x)


def _cpu_channels_last(x: Tensor) -> Tensor:
    """On CPU, a 2-D conv's ``[N, C, H, W]`` input in channels-last layout:
    oneDNN convolutions and max pooling run several times faster on it (the
    values are the same; the layout carries through the conv's output, pooling
    and the neurons).

    A single-channel input (a grey image) is already "channels-last
    contiguous" by torch's flags, so ``contiguous(channels_last)`` returns it
    unchanged, with strides that torch reads as NCHW; oneDNN would then return
    an NCHW output, and the max pooling after it runs about 3x slower. A view
    with channels-last strides over the same memory avoids that (conv + pool
    forward and backward about 2x faster).
    """
    if x.device.type != "cpu" or x.dim() != 4:
        return x
    n, c, h, w = x.shape
    if c == 1 and x.is_contiguous():
        return x.view(n, h, w, 1).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)


class TimeConv1d(_TimeConvMixin, nn.Conv1d):
    """``nn.Conv1d`` over ``[T, B, C, L]`` (see :class:`_TimeConvMixin`)."""


class TimeConv2d(_TimeConvMixin, nn.Conv2d):
    """``nn.Conv2d`` over ``[T, B, C, H, W]`` (see :class:`_TimeConvMixin`)."""


#: On CPU, time-batched work is cut into blocks of whole steps whose largest
#: intermediate stays below this many elements (4 MB in float32): one huge
#: tensor is slower than several cache-sized ones (memory traffic, and the page
#: faults of fresh large allocations). GPUs take all T steps in one call.
CPU_BLOCK_ELEMENTS = 1 << 20


def blockwise(fn: Callable[[Tensor], Tensor], x: Tensor, elements_per_sample: int) -> Tensor:
    """``fn`` over all T steps of ``x [T, B, ...]``, in blocks of steps on CPU.

    ``elements_per_sample``: size of ``fn``'s largest intermediate per sample
    and step (e.g. a conv's output before pooling). ``fn`` must act on each
    step independently; a time-constant input goes through ``fn`` whole
    (its layers compute it once). Forward hooks fire once per block.
    """
    if x.device.type != "cpu" or _is_time_constant(x):
        return fn(x)
    t, b = x.shape[:2]
    steps = max(1, CPU_BLOCK_ELEMENTS // max(1, b * elements_per_sample))
    if steps >= t:
        return fn(x)
    return _cat_steps([fn(block) for block in _split_steps(x, steps)])


def _memory_order(x: Tensor) -> list[int]:
    """``x``'s dims from outermost to innermost in memory (decreasing stride)."""
    return sorted(range(x.dim()), key=lambda d: -x.stride(d))


def _inverse(order: list[int]) -> list[int]:
    inverse = [0] * len(order)
    for position, dim in enumerate(order):
        inverse[dim] = position
    return inverse


def _split_steps(x: Tensor, steps: int) -> list[Tensor]:
    """``x [T, ...]`` in blocks of ``steps`` time steps, each keeping ``x``'s memory layout.

    Plain ``split`` would do too in the forward, but its backward concatenates
    the blocks' gradients with ``torch.cat``, whose result is always in the
    standard layout for 5-D tensors: a channels-last gradient would be
    converted by a slow strided copy, and every element-wise operation after
    it would mix two layouts. Splitting the tensor permuted into memory order
    (a view) makes that concatenation keep the layout.
    """
    order = _memory_order(x)
    if order[0] != 0:  # time is not the outermost dim: no layout to keep along it
        return list(x.split(steps))
    inverse = _inverse(order)
    return [block.permute(inverse) for block in x.permute(order).split(steps)]


def _cat_steps(blocks: list[Tensor]) -> Tensor:
    """Blocks of time steps ``[t_i, ...]`` -> ``[sum t_i, ...]`` in the blocks' memory
    layout (see :func:`_split_steps`; a channels-last result keeps max pooling's
    backward and the neurons on one layout)."""
    order = _memory_order(blocks[0])
    if order[0] != 0:
        return torch.cat(blocks)
    return torch.cat([block.permute(order) for block in blocks]).permute(_inverse(order))


def time_apply(module: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Apply a per-sample module or function (pooling, a convolution) to
    ``[T, B, C, *S]`` as one ``[T*B, ...]`` call; a time-constant input is
    processed once and expanded."""
    if _is_time_constant(x):
        once = module(first_step(x))
        return once.unsqueeze(0).expand(x.shape[0], *once.shape)
    t, b = x.shape[:2]
    y = module(x.reshape(t * b, *x.shape[2:]))
    return y.reshape(t, b, *y.shape[1:])


def make_surrogate(name: str, slope: float) -> Surrogate:
    """snnTorch surrogate gradient by name (``fast_sigmoid``, ``sigmoid``,
    ``atan``); ``slope`` is its steepness. A :class:`Surrogate`, which
    :class:`SequenceLeaky` fuses into its backward pass."""
    return Surrogate(name, slope)


def register_neuron(neuron: snn.SpikingNeuron) -> snn.SpikingNeuron:
    """Detach a neuron from snnTorch's global ``SpikingNeuron.instances`` list.

    snnTorch appends every neuron to that class-level list (used only for
    ``init_hidden=True``); ours pass state explicitly, and leaving them there
    would keep every model ever built alive (thousands of runs in a sweep).
    """
    inst = snn.SpikingNeuron.instances
    for i in range(len(inst) - 1, -1, -1):
        if inst[i] is neuron:
            del inst[i]
            break
    return neuron


def make_leaky(
    *,
    beta: float,
    threshold: float,
    surrogate: str,
    slope: float,
    reset: str,
    sequence: bool = True,
) -> snn.Leaky:
    """An ``snn.Leaky`` with explicit state (``init_hidden=False``).

    ``U[t] = beta * U[t-1] + I[t] - S[t-1] * threshold`` (subtract reset),
    ``S[t] = H(U[t] - threshold)`` with a surrogate gradient.
    ``sequence=True`` gives a :class:`~neuroenergy.models.neurons.SequenceLeaky`
    (one call per sequence, for :func:`run_leaky`); ``False`` a plain
    ``snn.Leaky`` for models whose input at step t depends on step t-1.
    """
    neuron = (SequenceLeaky if sequence else snn.Leaky)(
        beta=beta,
        threshold=threshold,
        spike_grad=make_surrogate(surrogate, slope),
        init_hidden=False,
        reset_mechanism=reset,
    )
    return register_neuron(neuron)


def run_leaky(neuron: snn.Leaky, cur: Tensor, *, keep_mem: bool = False) -> tuple[Tensor, Tensor | None]:
    """Run a Leaky neuron over ``cur [T, B, ...]`` from zero state.

    Returns ``(spk [T, B, ...], mem [T, B, ...] or None)``. A
    :class:`~neuroenergy.models.neurons.SequenceLeaky` takes all T steps in one
    call; a plain ``snn.Leaky`` is called once per step
    (:func:`~neuroenergy.models.neurons.step_through`).
    """
    if isinstance(neuron, SequenceLeaky):
        spk, mem = neuron(cur)
        return spk, (mem if keep_mem else None)
    result = step_through(neuron, cur, keep_mem)
    release_state(neuron)
    return result


def flat_features(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class SpikeMatmul(SynapticMatmul):
    """``a @ b`` for spike-by-spike products (spiking attention).

    Such products have no weights; as a :class:`SynapticMatmul` they are
    counted by ``measure`` (ACs when ``a`` is binary) and the ``synops`` term.
    """
