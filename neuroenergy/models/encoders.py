"""Input encoders: a loader batch ``[B, *shape]`` -> time-first ``[T, B, *out]``.

The encoder is part of the model, so what it emits is exactly what the first
synaptic layer multiplies: binary spikes (``rate``, ``latency``, ``delta``,
``events`` with binarisation) give accumulates (ACs) in
:func:`neuroenergy.energy.measure`; analog values (``direct``, graded events)
give multiply-accumulates (MACs).

Encoders (pure functions below; :class:`Encoder` is the module that picks one
from the config and owns the token embedding):

``rate``
    Bernoulli spike at each step with probability ``clamp(gain * x, 0, 1)``
    (the distribution of ``snntorch.spikegen.rate``, drawn faster). Images are in [0, 1] already; signals and
    audio features are first min-max scaled to [0, 1] per sample.
``latency``
    One spike per feature at step ``round((T - 1) * (1 - x))``: strong features
    fire first; features below ``latency_threshold`` never fire
    (``snntorch.spikegen.latency``, linear code, normalised to T, clipped).
    Signals/audio are min-max scaled per sample first.
``delta``
    For signals ``[C, L]`` and audio features ``[F, L]``: change coding
    along the sample axis L (``snntorch.spikegen.delta`` with on- and
    off-spikes: a spike where the change between consecutive samples reaches
    the threshold) after scaling each channel by its per-sample standard
    deviation, so ``delta_threshold`` is in standard deviations. On- and
    off-spikes become separate channels (``2C``). The window is then *played
    out over the T steps*: position l is emitted at step ``floor(l * T / L)``,
    at its own input position. Every delta event reaches the first layer
    exactly once, so the input is sparse and binary, and the network sees the
    signal unfold in time while keeping positions apart.
``direct``
    The analog input is presented unchanged at every step (a tensor expanded
    along time, which :class:`~neuroenergy.models.layers.TimeLinear` exploits).
``events``
    Input already in time, ``[B, T_bins, C, H, W]`` -> ``[T, B, C, H, W]``.
    ``T = min(num_steps, T_bins)``; when fewer steps than bins are asked for,
    consecutive bins are merged (counts summed) into T nearly equal groups.
    With ``events_binarize`` (default) a bin with >= 1 event is one spike.

Tokens ``[L]`` (int64 ids, 0 = padding): an ``nn.Embedding`` lookup (no
synaptic operations; padding maps to the zero vector) gives ``[E, L]``
(channels first, like a signal), then ``direct`` (embeddings as analog
current, the default) or ``rate`` (Bernoulli of ``sigmoid(embedding)`` with a
straight-through gradient so the embedding still learns).

How the 1-D axis is used: for signals, audio and tokens the whole window
``[C, L]`` is the per-step input (``cnn`` convolves over L with Conv1d,
``mlp``/``rnn``/``lstm``/energy-first models flatten it, ``transformer``
cuts L into patches = tokens); with ``delta`` the window unfolds over time
as described above.
"""

from __future__ import annotations

import torch
from snntorch import spikegen
from torch import Tensor, nn

from neuroenergy._deprecation import warn_renamed
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

from .config import ENCODERS_BY_KIND, ModelConfig

__all__ = [
    "Encoder",
    "rate_encode",
    "latency_encode",
    "delta_encode",
    "direct_encode",
    "events_encode",
    "minmax_unit",
    "events_steps",
]

_EPS = 1e-8


def minmax_unit(x: Tensor) -> Tensor:
    """Scale each sample of ``[B, ...]`` to [0, 1] (a constant sample -> 0)."""
    flat = x.reshape(x.shape[0], -1)
    lo = flat.min(dim=1, keepdim=True).values
    hi = flat.max(dim=1, keepdim=True).values
    return ((flat - lo) / (hi - lo).clamp_min(_EPS)).reshape(x.shape)


#: Elements of a rate-code block drawn at once on CPU (see :func:`rate_encode`).
_RATE_BLOCK_ELEMENTS = 1 << 18


def rate_encode(x: Tensor, num_steps: int, gain: float = 1.0) -> Tensor:
    """Bernoulli rate code of ``x [B, ...]`` in [0, 1] -> ``[T, B, ...]`` in {0, 1}.

    The distribution of ``snntorch.spikegen.rate``: a spike with probability
    ``p = clamp(gain * x, 0, 1)`` at every step, independently. Drawn from
    15-bit uniform integers ``u`` (four per 64-bit draw of the generator) as
    ``u < p * 2**15``, so the spike probability is ``ceil(p * 2**15) / 2**15``:
    within 3.1e-5 of ``p``, exactly 0 at p = 0 and 1 at p = 1 (8-bit pixels are
    ``k / 255``). On CPU that is several times faster than ``torch.rand`` and
    ``torch.bernoulli``, whose draws were a third of an mlp's training step;
    the comparison runs on 16-bit integers straight into the float result.
    """
    p = (x * gain).clamp(0.0, 1.0) if gain != 1.0 else x.clamp(0.0, 1.0)
    # u < p * 2**15  <=>  u - 2**14 < ceil(p * 2**15) - 2**14, which lies in [-2**14, 2**14]: an int16
    wide = torch.float32 if p.dtype != torch.float64 else p.dtype
    threshold = (p.to(wide) * 32768.0).ceil_().sub_(16384.0).to(torch.int16)
    spikes = torch.empty((num_steps, *x.shape), dtype=p.dtype, device=x.device)
    # On CPU, blocks of steps drawn into one reused buffer: a fresh multi-megabyte
    # buffer per call costs more in page faults than drawing the numbers.
    per_step = max(1, x.numel())
    steps = num_steps if x.device.type != "cpu" else max(1, min(num_steps, _RATE_BLOCK_ELEMENTS // per_step))
    words = torch.empty(((steps * per_step + 3) // 4,), dtype=torch.int64, device=x.device)
    for start in range(0, num_steps, steps):
        block = spikes[start:start + steps]
        count = block.numel()
        # the full int64 range (2**64 - 1 values): every 16-bit part of a draw is uniform
        drawn = words[:(count + 3) // 4].random_(-2**63, 2**63 - 1)
        # arithmetic shift: the top 15 bits of each part, u - 2**14 in [-2**14, 2**14)
        signed = drawn.view(torch.int16)[:count].view(block.shape).bitwise_right_shift_(1)
        torch.lt(signed, threshold, out=block)
    return spikes


def latency_encode(x: Tensor, num_steps: int, threshold: float = 0.01) -> Tensor:
    """Linear time-to-first-spike code of ``x [B, ...]`` in [0, 1] -> ``[T, B, ...]``."""
    if num_steps == 1:  # snnTorch's normalisation divides by T - 1
        return (x >= threshold).to(x.dtype).unsqueeze(0)
    return spikegen.latency(
        x, num_steps=num_steps, threshold=threshold, normalize=True, linear=True, clip=True
    )


def delta_encode(x: Tensor, num_steps: int, threshold: float = 0.1) -> Tensor:
    """Delta (change) code of ``x [B, C, L]`` -> ``[T, B, 2C, L]`` in {0, 1}.

    Channels ``[:C]`` are on-spikes (rise >= threshold std), ``[C:]`` off-spikes.
    Position l appears only at step ``floor(l * T / L)``.
    """
    b, c, length = x.shape
    std = x.std(dim=2, keepdim=True, unbiased=False).clamp_min(_EPS)
    z = (x / std).movedim(2, 0)  # [L, B, C]: spikegen.delta differences along dim 0
    d = spikegen.delta(z, threshold=threshold, padding=True, off_spike=True)
    spikes = torch.cat([(d > 0), (d < 0)], dim=2).to(x.dtype).movedim(0, 2)  # [B, 2C, L]
    step_of = (torch.arange(length, device=x.device) * num_steps) // length  # [L]
    steps = torch.arange(num_steps, device=x.device)
    onehot = (steps[:, None] == step_of[None, :]).to(x.dtype)  # [T, L]
    return onehot[:, None, None, :] * spikes.unsqueeze(0)


def direct_encode(x: Tensor, num_steps: int) -> Tensor:
    """The same analog ``x [B, ...]`` at every step: ``[T, B, ...]`` (a stride-0 view)."""
    return x.unsqueeze(0).expand(num_steps, *x.shape)


def events_steps(t_bins: int, num_steps: int) -> int:
    """Time steps used for an event input of ``t_bins`` bins."""
    return min(int(num_steps), int(t_bins))


def events_encode(x: Tensor, num_steps: int, binarize: bool = True) -> Tensor:
    """Event frames ``[B, T_bins, C, H, W]`` -> ``[T, B, C, H, W]``, T = min(num_steps, T_bins)."""
    seq = x.movedim(1, 0)  # [T_bins, B, C, H, W]
    t = events_steps(seq.shape[0], num_steps)
    if t < seq.shape[0]:
        seq = torch.stack([chunk.sum(0) for chunk in torch.tensor_split(seq, t, dim=0)])
    return (seq > 0).to(x.dtype) if binarize else seq.contiguous()


class Encoder(nn.Module):
    """Turns a raw loader batch into the time-first input of the first layer.

    Args:
        input_spec: the dataset's input spec.
        config: the model config (``encoder[input_spec.kind]`` picks the encoder,
            ``num_steps`` and the ``[encoding]`` keys parametrise it).

    Attributes:
        input_spec: the input spec it was built for; name: encoder name;
        ``kind``: input kind; ``num_steps``: T produced;
        out_shape: per-step shape the first layer sees — ``(C, H, W)`` for
        images/events, ``(C', L)`` for signal/audio (C' = 2C with delta),
        ``(E, L)`` for tokens; ``spatial_dims``: 2 or 1.
    """

    def __init__(self, input_spec: InputSpec, config: ModelConfig) -> None:
        super().__init__()
        self.input_spec = input_spec
        self.kind = input_spec.kind
        self.name = config.encoder[input_spec.kind]
        if self.name not in ENCODERS_BY_KIND[self.kind]:
            raise InvalidInputError(
                f"encoder {self.name!r} cannot encode {self.kind!r} inputs; choose one of "
                f"{', '.join(ENCODERS_BY_KIND[self.kind])}"
            )
        self.rate_gain = config.rate_gain
        self.latency_threshold = config.latency_threshold
        self.delta_threshold = config.delta_threshold
        self.events_binarize = config.events_binarize
        self.embedding: nn.Embedding | None = None
        shape = input_spec.shape
        self.set_num_steps(config.num_steps)
        if self.kind == "events":
            self.out_shape: tuple[int, ...] = tuple(shape[1:])
        elif self.kind == "tokens":
            self.embedding = nn.Embedding(int(input_spec.vocab_size), config.embed_dim, padding_idx=0)
            self.out_shape = (config.embed_dim, shape[0])
        else:
            self.out_shape = tuple(shape)
            if self.name == "delta":
                self.out_shape = (2 * shape[0], shape[1])
        self.spatial_dims = 2 if self.kind in ("image", "events") else 1

    @property
    def spec(self) -> InputSpec:
        """Deprecated name of :attr:`input_spec`."""
        warn_renamed("Encoder.spec", "Encoder.input_spec")
        return self.input_spec

    def set_num_steps(self, num_steps: int) -> None:
        """Steps to produce: ``num_steps``, or ``min(num_steps, T_bins)`` for events."""
        if self.kind == "events":
            self.num_steps = events_steps(self.input_spec.shape[0], num_steps)
        else:
            self.num_steps = int(num_steps)

    def extra_repr(self) -> str:
        return f"{self.name}, kind={self.kind}, T={self.num_steps}, out={self.out_shape}"

    # ------------------------------------------------------------------
    def check_input(self, x: Tensor) -> None:
        """InvalidInputError unless ``x`` is a batch ``[B, *input_spec.shape]`` of the right type."""
        if not isinstance(x, Tensor):
            raise InvalidInputError(f"model input must be a torch.Tensor, got {type(x).__name__}")
        want = tuple(self.input_spec.shape)
        if x.dim() != len(want) + 1 or tuple(x.shape[1:]) != want or x.shape[0] < 1:
            raise InvalidInputError(
                f"expected a batch of {self.kind} inputs shaped [B, {', '.join(map(str, want))}], "
                f"got {list(x.shape)}; build the model from the dataset's info().input_spec"
            )
        if self.kind == "tokens":
            if x.dtype.is_floating_point or x.dtype == torch.bool:
                raise InvalidInputError(f"token inputs must be integer ids (int64), got {x.dtype}")
            lo, hi = int(x.min()), int(x.max())
            if lo < 0 or hi >= int(self.input_spec.vocab_size):
                raise InvalidInputError(
                    f"token ids must lie in [0, {self.input_spec.vocab_size - 1}] (vocab_size="
                    f"{self.input_spec.vocab_size}), got ids in [{lo}, {hi}]"
                )
            return
        if not x.dtype.is_floating_point:
            raise InvalidInputError(f"{self.kind} inputs must be floating point, got {x.dtype}")
        # a finite sum proves every value finite (one cheap reduction); only otherwise the full check
        if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
            raise InvalidInputError(f"{self.kind} input contains NaN or infinite values")
        if self.kind == "image" and self.name in ("rate", "latency"):
            lo, hi = float(x.min()), float(x.max())
            if lo < 0.0 or hi > 1.0:
                raise InvalidInputError(
                    f"{self.name} coding needs images in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
                    f"scale the images or use encoder='direct'"
                )
        if self.kind == "events" and float(x.min()) < 0:
            raise InvalidInputError("event inputs are counts per bin and must be >= 0")

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, *input_spec.shape]`` -> ``[T, B, *out_shape]``."""
        self.check_input(x)
        t = self.num_steps
        if self.kind == "events":
            return events_encode(x, t, self.events_binarize)
        if self.kind == "tokens":
            assert self.embedding is not None
            emb = self.embedding(x).transpose(1, 2).contiguous()  # [B, E, L]
            if self.name == "direct":
                return direct_encode(emb, t)
            p = torch.sigmoid(emb)
            spikes = rate_encode(p.detach(), t, self.rate_gain)
            # straight-through: the value is the spike, the gradient is d p
            return spikes + (p - p.detach()).unsqueeze(0)
        if self.name == "direct":
            return direct_encode(x, t)
        if self.name == "delta":
            return delta_encode(x, t, self.delta_threshold)
        unit = x if self.kind == "image" else minmax_unit(x)
        if self.name == "rate":
            return rate_encode(unit, t, self.rate_gain)
        return latency_encode(unit, t, self.latency_threshold)
