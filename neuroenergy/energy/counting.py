"""Pure counting functions: synaptic operations of one layer call.

Definitions follow NeuroBench (``SynapticOperations``):

* **dense** operations: every weight times every input position, zeros
  included (for a convolution, only taps that fall inside the padded input);
* **effective** operations: only pairs of a nonzero input and a nonzero
  weight; bias additions are not counted;
* an effective operation is an **AC** (accumulate) when the layer's input is
  binary, i.e. all its values lie in {-1, 0, 1}, and a **MAC** otherwise. The
  decision is taken per layer call.

Counts are exact integers computed in float64 from binarised copies: the
effective count of a Linear/Conv layer is the layer applied to
``input != 0`` with weights ``weight != 0`` and no bias, summed. Because the
layer is linear we sum the binarised input over the batch first and the
binarised weight over output channels, which makes counting far cheaper than
the layer itself.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from neuroenergy.energy.matmul import SynapticMatmul

__all__ = [
    "SynOps",
    "SYNAPTIC_LAYERS",
    "is_binary",
    "conv_count",
    "linear_synops",
    "conv_synops",
    "rnn_cell_synops",
    "layer_synops",
    "matmul_synops",
    "SynapseCounter",
    "count_nonzero",
    "count_changed",
    "is_zero_one",
    "count_spikes",
    "Scratch",
    "StepActivity",
    "step_activity",
]

SYNAPTIC_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.RNNCellBase,
    SynapticMatmul,
)


class SynOps(NamedTuple):
    """Synaptic operations of one layer call, summed over the whole call (not per sample)."""

    effective: int
    dense: int
    binary: bool
    #: nonzero input values of the call (the input spikes when ``binary``).
    active_inputs: int = 0


class Scratch:
    """Work tensors of one hooked layer, reused from call to call.

    The counting arithmetic writes temporaries as large as a layer's input
    (a sign copy, a membrane difference). A fresh tensor of a few hundred kB
    is often a fresh memory mapping (glibc serves large allocations with
    mmap) whose page faults add to the arithmetic, and a trainer that counts
    every optimiser step would pay them at every step. One buffer per
    (tag, shape, dtype, device) is kept, so the memory held is one copy of
    each distinct temporary — up to :attr:`keep_limit` elements each: a larger
    temporary (a convolution's activations over a whole test batch run to
    hundreds of MB) is allocated per call and freed, as without a scratch, so a
    counter kept over a whole evaluation never holds copies of its largest
    tensors.
    """

    #: Largest temporary kept between calls, in elements (16 MB of float32).
    keep_limit: int = 1 << 22

    def __init__(self) -> None:
        self._buffers: dict[tuple, torch.Tensor] = {}

    def like(self, x: torch.Tensor, tag: str = "") -> torch.Tensor:
        """A contiguous tensor of ``x``'s shape, dtype and device (contents undefined)."""
        if x.numel() > self.keep_limit:
            return torch.empty(x.shape, dtype=x.dtype, device=x.device)
        key = (tag, x.shape, x.dtype, x.device)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = torch.empty(x.shape, dtype=x.dtype, device=x.device)
        return buffer


#: Without a :class:`Scratch`, :func:`is_binary` checks CPU tensors of more than
#: ``_BINARY_CHECK_WHOLE`` elements in pieces of about ``_BINARY_CHECK_PIECE``: a
#: sign copy of a whole multi-megabyte tensor is a fresh allocation whose page
#: faults cost more than the check, while below a few megabytes one piece is
#: fastest (measured at B = 128: 42 vs 52 us for [128, 784], 1.40 vs 1.55 ms for
#: [128, 32, 28, 28]).
_BINARY_CHECK_PIECE = 1 << 18
_BINARY_CHECK_WHOLE = 1 << 20


def is_binary(x: torch.Tensor, scratch: Scratch | None = None) -> bool:
    """True when every value of ``x`` is -1, 0 or 1 (a spike tensor).

    ``scratch`` holds the sign copy between calls (see :class:`Scratch`).
    """
    # x equals its sign exactly when x is in {-1, 0, 1} (NaN never does). With a scratch the
    # comparison is a != pass into a buffer (_equals_sign); without one, torch.equal compares
    # without building a boolean tensor, twice as fast as eq(...).all()
    if scratch is not None and x.dim() > 0:
        return _equals_sign(x, torch.sign(x, out=scratch.like(x, "sign")), scratch)
    if x.device.type != "cpu" or x.dim() == 0 or x.numel() <= _BINARY_CHECK_WHOLE:
        return torch.equal(x, torch.sign(x))
    rows = max(1, _BINARY_CHECK_PIECE // max(1, x[0].numel()))
    return all(torch.equal(piece, torch.sign(piece)) for piece in x.split(rows))


#: Sums of 0/1 values in float32 are exact integers below this many elements.
_EXACT_FLOAT32_COUNT = 1 << 24


def count_nonzero(x: torch.Tensor, scratch: Scratch | None = None) -> int:
    """Number of nonzero values of ``x`` (NaN counts as nonzero, as in ``torch.count_nonzero``).

    ``scratch`` holds the temporary between calls (see :class:`Scratch`).
    """
    # On CPU torch.count_nonzero is not vectorised. ``x != 0`` written as 0/1 into a float
    # buffer and summed is exact (every term 0 or 1, below 2**24 of them) and counts NaN;
    # without a buffer, summing |sign(x)| avoids the allocation but reads NaN as 0, so it is
    # taken only when a plain sum proves every value finite.
    if x.is_floating_point() and x.numel() < _EXACT_FLOAT32_COUNT:
        if scratch is not None:
            return int(torch.ne(x, 0, out=scratch.like(x, "nonzero")).sum(dtype=torch.float32))
        if math.isfinite(float(x.sum())):
            return int(torch.sign(x).abs_().sum(dtype=torch.float32))
    return int(torch.count_nonzero(x))


def count_changed(before: torch.Tensor, after: torch.Tensor, scratch: Scratch | None = None) -> int:
    """Number of positions where ``after`` differs from ``before`` (same shape; NaN counts as changed)."""
    if scratch is not None and after.is_floating_point() and after.numel() < _EXACT_FLOAT32_COUNT:
        # one pass, no difference tensor: the 0/1 of ``!=`` written into a float buffer, summed
        return int(torch.ne(before, after, out=scratch.like(after, "changed")).sum(dtype=torch.float32))
    return count_nonzero(before - after)


def _nonzero(x: torch.Tensor) -> torch.Tensor:
    return (x != 0).to(torch.float64)


def linear_synops(x: torch.Tensor, layer: nn.Linear) -> SynOps:
    """Operations of ``layer(x)`` for ``x`` of shape ``[..., in_features]``."""
    return SynapseCounter(layer)((x,))


def conv_count(layer: nn.Module, x_sum: torch.Tensor, w_nonzero: torch.Tensor) -> torch.Tensor:
    """Sum of the layer's convolution of a batch-summed input ``[1, C, *spatial]``
    with the nonzero-weight mask summed over the output channels of each group.

    With binarised inputs this is the number of (nonzero input, nonzero
    weight) pairs; it is differentiable in ``x_sum``.
    """
    return _conv_of_counts(layer, x_sum, w_nonzero).sum()


def _conv_counts(layer: nn.Module, x_sums: torch.Tensor, w_nonzero: torch.Tensor) -> torch.Tensor:
    """:func:`conv_count` of each of ``K`` batch-summed inputs ``[K, C, *spatial]`` at once (``[K]``)."""
    out = _conv_of_counts(layer, x_sums, w_nonzero)
    return out.reshape(out.shape[0], -1).sum(1)


def _conv_of_counts(layer: nn.Module, x_sums: torch.Tensor, w_nonzero: torch.Tensor) -> torch.Tensor:
    groups = layer.groups
    out_channels = w_nonzero.shape[0]
    per_group = w_nonzero.reshape(groups, out_channels // groups, *w_nonzero.shape[1:]).sum(1)
    # _conv_forward applies the layer's own padding mode, stride and dilation.
    return layer._conv_forward(x_sums, per_group.to(x_sums.dtype), None)


def conv_synops(x: torch.Tensor, layer: nn.Conv1d | nn.Conv2d | nn.Conv3d) -> SynOps:
    """Operations of ``layer(x)``, ``x`` of shape ``[..., C, *spatial]``."""
    return SynapseCounter(layer)((x,))


def _binarise(x: torch.Tensor, all_ones: bool) -> torch.Tensor:
    return torch.ones_like(x, dtype=torch.float64) if all_ones else _nonzero(x)


def rnn_cell_synops(args: tuple, layer: nn.RNNCellBase) -> SynOps:
    """Operations of ``layer(*args)`` for an RNNCell, LSTMCell or GRUCell.

    Follows NeuroBench's cell accounting: besides the input and hidden weight
    products, an LSTM counts the element-wise gate products that form the
    cell and hidden state, and a GRU the reset-gate and interpolation
    products, each where both operands are nonzero. Hidden states that are
    not passed count as zeros, as in PyTorch.
    """
    x = args[0]
    state = args[1] if len(args) > 1 else None
    effective = _cell_count(x, state, layer, dense=False)
    dense = _cell_count(x, state, layer, dense=True)
    return SynOps(effective, dense, is_binary(x), count_nonzero(x))


def _cell_count(x: torch.Tensor, state, layer: nn.RNNCellBase, dense: bool) -> int:
    # Dense: the input and all weights count as ones. An LSTM keeps its passed
    # states binarised, as NeuroBench computes it; an RNNCell or GRUCell counts
    # every hidden weight (a hidden state full of zeros, or none, still meets
    # W_hh), as NeuroBench's documentation defines Dense.
    full_hidden = dense and not isinstance(layer, nn.LSTMCell)
    xb = _binarise(x, dense).reshape(-1, layer.input_size).T  # [in, N]
    w_ih = _binarise(layer.weight_ih.detach(), dense)
    w_hh = _binarise(layer.weight_hh.detach(), dense)
    gates = w_ih @ xb  # [G*H, N]
    if isinstance(layer, nn.LSTMCell):
        h, c = (state if state is not None else (None, None))
    else:
        h, c = state, None
    if full_hidden:
        h = torch.ones(xb.shape[1], layer.hidden_size, dtype=torch.float64, device=xb.device)
    hidden = w_hh @ _nonzero(h).reshape(-1, layer.hidden_size).T if h is not None else torch.zeros_like(gates)
    if layer.bias:
        bias_ih = _binarise(layer.bias_ih.detach(), dense)[:, None]
        bias_hh = _binarise(layer.bias_hh.detach(), dense)[:, None]
    else:
        bias_ih = bias_hh = torch.zeros(gates.shape[0], 1, dtype=torch.float64, device=gates.device)
    count = gates + hidden
    total = count.sum()
    size = layer.hidden_size
    if isinstance(layer, nn.LSTMCell):
        i, f, g, o = _nonzero(count + bias_ih + bias_hh).reshape(4, size, -1)
        cell = i * g
        if c is not None:
            cell = cell + f * _nonzero(c).reshape(-1, size).T
        total = total + cell.sum() + (o * _nonzero(cell)).sum()
    elif isinstance(layer, nn.GRUCell):
        pre = (count + bias_ih + bias_hh).reshape(3, size, -1)
        r, z = _nonzero(pre[0]), pre[1]
        hidden_n = _nonzero(hidden.reshape(3, size, -1)[2] + bias_hh.reshape(3, size, -1)[2])
        reset_products = r * hidden_n  # r * (W_hn h + b_hn)
        total = total + reset_products.sum()
        n = _nonzero(gates.reshape(3, size, -1)[2] + bias_ih.reshape(3, size, -1)[2] + reset_products)
        h_prev = _nonzero(h).reshape(-1, size).T if h is not None else torch.zeros_like(n)
        total = total + (_nonzero(1 - z) * n).sum() + (_nonzero(z) * h_prev).sum()
    return int(total.item())


def _equals_sign(x: torch.Tensor, signs: torch.Tensor, scratch: Scratch) -> bool:
    """``torch.equal(x, signs)``, 3x faster on CPU below a few MB: the 0/1 of ``!=`` written
    into a reused float buffer and summed (a sum of non-negative terms is 0 only when all are)."""
    if not x.is_floating_point():
        return torch.equal(x, signs)
    return float(torch.ne(x, signs, out=scratch.like(x, "differs")).sum()) == 0.0


def _excess(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``|x - x*x|`` written into ``out``: a sum of it is 0 exactly when every value is 0 or 1.

    In floating point ``x - x*x`` is exactly 0 only for x = 0 and 1 (for every
    other value, NaN and infinities included, it is nonzero or NaN), and a sum
    of non-negative floats is 0 only when every term is.
    """
    return torch.addcmul(x, x, x, value=-1, out=out).abs_()


def is_zero_one(x: torch.Tensor, scratch: Scratch) -> bool:
    """True when every value of floating-point ``x`` is 0 or 1 (spikes of a neuron).

    Three passes into a reused buffer (:func:`_excess`), after which ``x`` itself
    holds the counts — fewer passes than comparing ``x`` with its sign and then
    counting ``|sign|``.
    """
    if not x.is_floating_point() or x.numel() == 0:
        return False
    return float(_excess(x, scratch.like(x, "excess")).sum()) == 0.0


def count_spikes(x: torch.Tensor, scratch: Scratch, zero_one: bool = False) -> int | None:
    """The number of ones in ``x`` when every value is 0 or 1 (then also its sum of squares),
    else None (:func:`is_zero_one`; exact below 2**24 values). ``zero_one``: the caller
    knows that ``x`` holds only 0 and 1 (``modules.emits_zero_one``), so it is not tested."""
    if x.numel() < _EXACT_FLOAT32_COUNT and (zero_one or is_zero_one(x, scratch)):
        return int(x.sum(dtype=torch.float32))
    return None


class StepActivity(NamedTuple):
    """The activity of every step ``steps[t]`` of a time-first input ``[T, B, *S]``,
    each seen as ``B`` rows: what a synaptic layer's count needs of it."""

    #: rows of each step (B)
    rows: int
    #: per step: every value is 0 or 1 (then the counts below are its input spikes)
    zero_one: tuple[bool, ...]
    #: per step, how many rows are nonzero at each position (float64 ``[T, *S]``, exact);
    #: meaningful only for the steps that are ``zero_one``
    counts: torch.Tensor
    #: proven that every value is finite (the test's sums are; an infinity or NaN makes
    #: them infinite or NaN, and so may a value whose square overflows: False is no proof)
    finite: bool = False


#: :func:`step_activity` works through pieces of about this many elements: a piece
#: and its work tensor stay in cache across the test's passes (measured on a 2-core
#: CPU after a forward, [25, 128, 784]: 1.4 ms in pieces of 2**18, 2.6 ms at once).
_STEP_PIECE = 1 << 18


def step_activity(steps: torch.Tensor) -> StepActivity | None:
    """The :class:`StepActivity` of a floating-point ``[T, B, *S]`` tensor, computed
    over several steps at a time, or None when it has fewer than two dimensions.

    This costs less than testing and summing each step when a layer reads it: by
    the time a layer's forward hook runs, its input has usually left the cache, and
    each call pays the operator overheads again.
    """
    if steps.dim() < 2 or not steps.is_floating_point() or steps.shape[1] >= _EXACT_FLOAT32_COUNT:
        return None
    size = steps[0].numel()
    chunk = max(1, _STEP_PIECE // max(1, size))
    work = torch.empty(min(chunk, steps.shape[0]), size, dtype=steps.dtype, device=steps.device)
    excess, counts = [], []
    for start in range(0, steps.shape[0], chunk):
        part = steps[start:start + chunk]
        flat = part.reshape(part.shape[0], size)
        excess.append(_excess(flat, work[:part.shape[0]]).sum(1))  # is_zero_one of each step
        counts.append(part.sum(1, dtype=torch.float32))  # at most B per position: exact
    excess = torch.cat(excess).tolist()
    return StepActivity(int(steps.shape[1]), tuple(value == 0.0 for value in excess),
                        torch.cat(counts).to(torch.float64), all(map(math.isfinite, excess)))


def _input_activity(x: torch.Tensor, inner: tuple[int, ...], scratch: Scratch,
                    zero_one: bool = False) -> tuple[bool, torch.Tensor]:
    """``(binary, counts)`` of ``x`` seen as rows ``[N, *inner]``: whether every value is
    in {-1, 0, 1}, and how many rows are nonzero at each position (float64 ``[*inner]``).

    The counts are column sums of a 0/1 tensor, exact in float32 below 2**24
    rows (``count_nonzero`` along a dimension is many times slower). Spikes
    are usually 0/1 (:func:`is_zero_one`; ``zero_one=True``: the caller knows
    it already), and then ``x`` itself is that tensor. Otherwise ``x`` is
    compared with its sign (NaN never equals it) and ``|sign|`` (binary:
    spikes of -1 too) or ``x != 0`` (this counts NaN) is summed.
    """
    rows = x.numel() // max(1, math.prod(inner))
    if rows >= _EXACT_FLOAT32_COUNT:
        return is_binary(x, scratch), torch.count_nonzero(x.reshape(-1, *inner), dim=0).to(torch.float64)
    if zero_one or is_zero_one(x, scratch):
        return True, x.reshape(-1, *inner).sum(0, dtype=torch.float32).to(torch.float64)
    signs = torch.sign(x, out=scratch.like(x, "sign"))
    binary = _equals_sign(x, signs, scratch)
    nonzero = signs.abs_() if binary else torch.ne(x, 0, out=signs)
    return binary, nonzero.reshape(-1, *inner).sum(0, dtype=torch.float32).to(torch.float64)


def _nonzero_per_column(weight: torch.Tensor, scratch: Scratch) -> torch.Tensor:
    """Nonzero values (NaN included) in each column of ``weight [out, in]`` (float64 ``[in]``)."""
    if weight.is_floating_point() and weight.shape[0] < _EXACT_FLOAT32_COUNT:
        # the 0/1 of != into a reused buffer: 5x faster than a float64 copy of the matrix;
        # summed by a product with ones, which reads the rows in order (sum(0) strides
        # across them: 250 against 140 us for [1000, 784]); sums of 0/1 below 2**24 are exact
        # (half-precision sums are exact only to 2**11 or 2**8: those sum in float32)
        nonzero = torch.ne(weight, 0, out=scratch.like(weight, "weight"))
        if weight.dtype not in (torch.float32, torch.float64):
            return nonzero.sum(0, dtype=torch.float32).to(torch.float64)
        ones = torch.ones(weight.shape[0], dtype=weight.dtype, device=weight.device)
        return torch.mv(nonzero.t(), ones).to(torch.float64)
    return _nonzero(weight).sum(0)


class SynapseCounter:
    """Counts the calls of one layer, with its weight summaries computed once.

    ``measure`` runs with frozen weights, so the nonzero fan-out of a Linear
    layer, the per-group weight mask of a convolution and the dense count per
    input shape are computed on the first call only; a counter kept across
    optimiser steps calls :meth:`weights_changed` (the dense counts and the
    work buffers stay).
    """

    def __init__(self, layer: nn.Module) -> None:
        self.layer = layer
        self._weight_summary: torch.Tensor | None = None
        self._weight_summary_32: torch.Tensor | None = None
        #: a Linear whose every input reaches the same number of nonzero weights: that number
        self._uniform_fanout: int | None = None
        self._dense_per_row: dict[tuple[int, ...], int] = {}
        self._scratch = Scratch()

    def weights_changed(self) -> None:
        """The layer's weights may differ from the last call's: summarise them again."""
        self._weight_summary = None

    def __call__(self, args: tuple, spikes: int | None = None) -> SynOps:
        """Operations of ``layer(*args)``. ``spikes``: the caller knows that the input
        holds only 0 and 1, this many ones (the output of the neuron before it)."""
        layer = self.layer
        if spikes is not None and isinstance(layer, nn.Linear):
            ops = self._linear_of_zero_one(args[0], spikes)  # first: the common Linear after a neuron
            if ops is not None:
                return ops
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            x, repeats = _distinct_part(args[0], 1 if isinstance(layer, nn.Linear) else len(layer.kernel_size) + 1)
            ops = self._count(x, spikes if repeats == 1 else None)
            return ops if repeats == 1 else SynOps(ops.effective * repeats, ops.dense * repeats, ops.binary,
                                                   ops.active_inputs * repeats)
        return layer_synops(layer, args)

    def _linear_of_zero_one(self, x: torch.Tensor, spikes: int) -> SynOps | None:
        """A Linear on 0/1 ``x`` holding ``spikes`` ones: the spikes times the fan-out when
        every input has the same fan-out (a dense weight), else its float32 rows times the
        fan-out (None if not float32, or if a row's count could reach 2**24). Rows
        repeated by a stride-0 expansion are counted as rows, as the layer computes them."""
        layer = self.layer
        self._weights()
        rows = x.numel() // layer.in_features
        dense = rows * layer.in_features * layer.out_features
        if self._uniform_fanout is not None:
            return SynOps(spikes * self._uniform_fanout, dense, True, spikes)
        if x.dtype != torch.float32 or layer.in_features * layer.out_features >= _EXACT_FLOAT32_COUNT:
            return None
        # each row's count is an integer below 2**24, exact in float32; their sum in float64
        per_row = torch.mv(x.reshape(rows, layer.in_features), self._weight_summary_32)
        return SynOps(int(per_row.sum(dtype=torch.float64)), dense, True, spikes)

    def ops_per_step(self, activity: StepActivity, inner: tuple[int, ...]) -> list[SynOps | None]:
        """Operations of the layer called on each step of ``activity`` seen as rows
        ``[B, *inner]`` (all steps in one product), None for a step that is not 0/1;
        all None when a step's size is not ``B`` rows of ``inner`` or the layer is not
        a Linear or convolution."""
        layer = self.layer
        steps = len(activity.zero_one)
        size = math.prod(inner)
        if not isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) \
                or activity.counts[0].numel() != size:
            return [None] * steps
        counts = activity.counts.reshape(steps, *inner)
        if isinstance(layer, nn.Linear):
            effective = torch.mv(counts.reshape(steps, size), self._weights())
            dense = activity.rows * layer.in_features * layer.out_features
        else:
            effective = _conv_counts(layer, counts, self._weights())
            dense = activity.rows * self._dense_count(inner, counts.device)
        active = counts.reshape(steps, size).sum(1)
        return [SynOps(int(e), dense, True, int(a)) if zero_one else None
                for e, a, zero_one in zip(effective.tolist(), active.tolist(), activity.zero_one)]

    def _weights(self) -> torch.Tensor:
        """The weight summary, made at the first call after :meth:`weights_changed`: a
        Linear's nonzero weights per input (float64 ``[in]``, also kept in float32), a
        convolution's nonzero mask (float64, the weight's shape)."""
        if self._weight_summary is None:
            weight = self.layer.weight.detach()
            if isinstance(self.layer, nn.Linear):
                summary = self._weight_summary = _nonzero_per_column(weight, self._scratch)
                self._weight_summary_32 = summary.float()
                # a dense weight, the usual case, gives every input the same fan-out; then a
                # 0/1 input's operations are its spikes times it, with no pass over the input
                uniform = summary.numel() > 0 and bool((summary == summary[0]).all())
                self._uniform_fanout = int(summary[0]) if uniform else None
            else:
                self._weight_summary = _nonzero(weight)
        return self._weight_summary

    def _dense_count(self, shape: tuple[int, ...], device: torch.device) -> int:
        """Dense operations of one row ``[*shape]`` through the convolution."""
        if shape not in self._dense_per_row:
            ones = torch.ones((1, *shape), dtype=torch.float64, device=device)
            self._dense_per_row[shape] = int(conv_count(
                self.layer, ones, torch.ones_like(self._weights())).item())
        return self._dense_per_row[shape]

    def _count(self, x: torch.Tensor, spikes: int | None = None) -> SynOps:
        layer = self.layer
        if isinstance(layer, nn.Linear):
            fanout = self._weights()
            rows = x.numel() // layer.in_features
            dense = rows * layer.in_features * layer.out_features
            binary, active = _input_activity(x, (layer.in_features,), self._scratch, spikes is not None)
            effective = int(torch.dot(active, fanout).item())
            return SynOps(effective, dense, binary, int(active.sum().item()))
        batched = x.reshape(-1, *x.shape[-(len(layer.kernel_size) + 1):])
        mask = self._weights()
        shape = tuple(batched.shape[1:])
        dense = self._dense_count(shape, x.device)
        binary, x_sum = _input_activity(batched, shape, self._scratch, spikes is not None)
        x_sum = x_sum[None]
        effective = int(conv_count(layer, x_sum, mask).item())
        active = spikes if spikes is not None else int(x_sum.sum().item())
        return SynOps(effective, batched.shape[0] * dense, binary, active)


def _distinct_part(x: torch.Tensor, inner_dims: int) -> tuple[torch.Tensor, int]:
    """``(x[0], x.shape[0])`` when ``x`` is expanded along its first of more than
    ``inner_dims`` dimensions (stride 0: a time-constant input, as from the
    ``direct`` encoder), else ``(x, 1)``: equal slices are counted once."""
    if x.dim() > inner_dims and x.shape[0] > 1 and x.stride(0) == 0:
        return x[0], int(x.shape[0])
    return x, 1


def matmul_synops(a: torch.Tensor, b: torch.Tensor) -> SynOps:
    """Operations of ``a @ b`` for activity tensors ``[..., m, k]`` and ``[..., k, n]``."""
    a_cols = torch.count_nonzero(a, dim=-2).to(torch.float64)  # [..., k]
    b_rows = torch.count_nonzero(b, dim=-1).to(torch.float64)  # [..., k]
    a_cols, b_rows = torch.broadcast_tensors(a_cols, b_rows)
    effective = int((a_cols * b_rows).sum().item())
    batch = a_cols.numel() // a_cols.shape[-1] if a_cols.numel() else 0
    dense = batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
    return SynOps(effective, dense, is_binary(a), count_nonzero(a))


def layer_synops(layer: nn.Module, args: tuple) -> SynOps:
    """Dispatch on the layer type; ``args`` are the positional call arguments."""
    if isinstance(layer, SynapticMatmul):
        return matmul_synops(args[0], args[1])
    if isinstance(layer, nn.Linear):
        return linear_synops(args[0], layer)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return conv_synops(args[0], layer)
    if isinstance(layer, nn.RNNCellBase):
        return rnn_cell_synops(args, layer)
    raise TypeError(f"no synaptic-operation count for {type(layer).__name__}")
