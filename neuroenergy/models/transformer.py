"""``transformer``: a small spiking self-attention network in the style of
Spikformer (Zhou et al., ICLR 2023) with the residual stream of the
Spike-driven Transformer (Yao et al., NeurIPS 2023), simplified.

Tokens: the per-step input is cut into patches — ``Conv2d(C, D, p, stride p)``
for images/event frames (``H/p x W/p`` tokens; p = 14: 2 x 2 for MNIST),
``Conv1d(C, D, p, stride p)`` along L for signals/audio/token embeddings
(``L/p`` tokens; p = 12 for 48-word text), zero-padded so no position is
dropped — plus a learned position current. Why four tokens by default: the
blocks' work is their parameters times the tokens, so at a fixed parameter
budget 16-48 tokens cost 30-400x an mlp's training time per sample
(``benchmarks/bench_roofline.py``); with 4 tokens the same budget trains at a
few times the mlp's cost (``patch`` sets finer tokens). For the same reason
one block by default: the cost of a block on CPU is mostly its nine LIF
layers' element-wise passes over time, not its products (profiled). That starts the
residual stream ``U [T, B, N, D]`` of currents; every layer *with weights*
reads spikes of it (all TimeLinear: all T steps at once; only the LIFs
loop over time)::

    U = LN(PatchConv(x_t) + P)
    per block (``depth`` of them):
        S = LIF(U)
        Q, K, V = LIF(LN(W_q S)), LIF(LN(W_k S)), LIF(LN(W_v S))      spikes, split into heads
        A = LIF(LN(s * (Q K^T) V))                                    spiking self-attention, no softmax
        U = U + LN(W_o A)
        U = U + LN(W_2 LIF(LN(W_1 LIF(U))))                           spiking MLP
    out_t = U^out_t = LIF_out(W_r flatten(LIF(U)_t) + b_r)

Design choices (documented, not Spikformer's): LayerNorm instead of
BatchNorm (per sample, so a forward stays a pure function of its input); the
residual stream carries currents and each branch reads it through a LIF
(membrane shortcut), so every Linear multiplies binary spikes and gradients
have an identity path through depth. Without softmax ``(Q K^T) V`` and
``Q (K^T V)`` are equal, exactly so for spikes (integer sums), at ``2 N^2
d_h`` and ``2 N d_h^2`` operations: each block computes the cheaper order
(scores first when the N tokens are fewer than the head width d_h, as with
the default 4 tokens; on CPU that product runs 6x faster than the other
order). The two products are spike-by-spike products without weights, run
through :class:`~neuroenergy.models.layers.SpikeMatmul` modules, which
``measure`` counts (ACs, their left operand being spikes: the scores, which
are integers, enter ``S V`` as ``(V^T S^T)^T``). The readout sees
the spikes of all tokens (``readout = "flatten"``, default: markedly faster
learning on small data) or their mean over tokens (``"mean"``, Spikformer).
"auto": model width D (a multiple of ``heads``) meeting ``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import torch
from torch import Tensor, nn

from neuroenergy.errors import ConfigError, InvalidInputError

from .base import SpikingModel
from .config import (
    ModelConfig,
    choice,
    config_field,
    per_kind_int,
    positive_float,
    positive_int,
    size_or_auto,
)
from .layers import SpikeMatmul, TimeConv1d, TimeConv2d, TimeLinear, run_leaky

__all__ = ["TransformerConfig", "SpikingTransformer"]


def _default_patch() -> dict[str, int]:
    return {"image": 14, "events": 17, "signal": 64, "audio": 16, "tokens": 12}


@dataclass
class TransformerConfig(ModelConfig):
    dim: int | str = config_field(
        "auto", section="sizes", check=size_or_auto,
        doc="model width D (multiple of heads), or \"auto\"",
    )
    heads: int = config_field(4, section="sizes", check=positive_int(), doc="attention heads")
    depth: int = config_field(1, section="sizes", check=positive_int(), doc="attention blocks")
    mlp_ratio: int = config_field(
        2, section="sizes", check=positive_int(), doc="hidden width of the block MLP / D"
    )
    attn_scale: float = config_field(
        0.125, section="sizes", check=positive_float, doc="scale s of Q K^T V (Spikformer: 0.125)"
    )
    readout: str = config_field(
        "flatten", section="sizes", check=choice("flatten", "mean"),
        doc="readout input: all token spikes (flatten) or their mean over tokens (Spikformer)",
    )
    patch: dict[str, int] = config_field(
        section="@table", check=per_kind_int, factory=_default_patch,
        doc="patch size per input kind (positions per token along each spatial axis)",
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("dim",)

    def _validate_extra(self) -> None:
        if self.dim != "auto" and self.dim % self.heads != 0:
            raise ConfigError(f"'dim' ({self.dim}) must be a multiple of 'heads' ({self.heads})")

    @property
    def width_step(self) -> int:
        return self.heads

    def with_width(self, width: int) -> "TransformerConfig":
        return replace(self, dim=width)


class SpikingAttentionBlock(nn.Module):
    """One spiking self-attention block on the residual stream (see the module docstring)."""

    def __init__(self, owner: SpikingModel, dim: int, heads: int, mlp_ratio: int, scale: float) -> None:
        super().__init__()
        self.heads = heads
        self.scale = scale
        self.lif_in = owner.make_leaky()
        self.q, self.k, self.v = TimeLinear(dim, dim), TimeLinear(dim, dim), TimeLinear(dim, dim)
        self.norm_q, self.norm_k, self.norm_v = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.lif_q, self.lif_k, self.lif_v = owner.make_leaky(), owner.make_leaky(), owner.make_leaky()
        # the two attention products, in the cheaper order (see forward)
        self.first_matmul = SpikeMatmul()  # Q K^T, or K^T V
        self.second_matmul = SpikeMatmul()  # (Q K^T) V, or Q (K^T V)
        self.norm_attn = nn.LayerNorm(dim)
        self.lif_attn = owner.make_leaky()
        self.proj = TimeLinear(dim, dim)
        self.norm_proj = nn.LayerNorm(dim)
        self.lif_mid = owner.make_leaky()
        self.fc1 = TimeLinear(dim, dim * mlp_ratio)
        self.norm_fc1 = nn.LayerNorm(dim * mlp_ratio)
        self.lif_hidden = owner.make_leaky()
        self.fc2 = TimeLinear(dim * mlp_ratio, dim)
        self.norm_fc2 = nn.LayerNorm(dim)

    def _heads(self, x: Tensor) -> Tensor:  # [T, B, N, D] -> [T, B, h, N, D/h]
        t, b, n, d = x.shape
        return x.reshape(t, b, n, self.heads, d // self.heads).transpose(2, 3)

    def forward(self, u: Tensor) -> Tensor:
        """Residual stream ``[T, B, N, D]`` (currents) -> updated stream."""
        s, _ = run_leaky(self.lif_in, u)
        q = self._heads(run_leaky(self.lif_q, self.norm_q(self.q(s)))[0])
        k = self._heads(run_leaky(self.lif_k, self.norm_k(self.k(s)))[0])
        v = self._heads(run_leaky(self.lif_v, self.norm_v(self.v(s)))[0])
        tokens, width = q.shape[-2:]
        if tokens <= width:  # (Q K^T) V: 2 N^2 d_h operations
            scores = self.first_matmul(q, k.transpose(-2, -1))  # [T, B, h, N, N]
            # S V as (V^T S^T)^T, so the spikes are the left operand that measure reads
            att = self.second_matmul(v.transpose(-2, -1), scores.transpose(-2, -1)).transpose(-2, -1)
        else:  # Q (K^T V): 2 N d_h^2 operations, no N x N score tensor
            att = self.second_matmul(q, self.first_matmul(k.transpose(-2, -1), v))
        att = att * self.scale  # [T, B, h, N, D/h]
        a, _ = run_leaky(self.lif_attn, self.norm_attn(att.transpose(2, 3).flatten(3)))
        u = u + self.norm_proj(self.proj(a))
        s, _ = run_leaky(self.lif_mid, u)
        h, _ = run_leaky(self.lif_hidden, self.norm_fc1(self.fc1(s)))
        return u + self.norm_fc2(self.fc2(h))


class SpikingTransformer(SpikingModel):
    """Spikformer-style network; see the module docstring."""

    family = "baseline"
    arch_name = "transformer"
    config_cls = TransformerConfig
    description = (
        "Spikformer-style spiking self-attention on a residual stream of currents\n"
        "(Spike-driven Transformer): patch convolution + position current, blocks of\n"
        "spiking Q/K/V attention Q (K^T V) without softmax and a spiking MLP, every\n"
        "Linear reading spikes; LayerNorm instead of BatchNorm; Linear -> LIF readout\n"
        "of all token spikes."
    )
    #: the positional embedding is added to the token currents: element-wise, no synaptic operations.
    elementwise_parameters = ("pos",)

    def __init__(self, input_spec, num_classes, config: TransformerConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        d = config.dim
        p = config.patch[input_spec.kind]
        in_ch, *spatial = self.encoder.out_shape
        if any(s < p for s in spatial):
            raise InvalidInputError(
                f"transformer: patch size {p} is larger than the {input_spec.kind} input "
                f"(per-step shape {self.encoder.out_shape}); set patch={{'{input_spec.kind}': "
                f"{min(spatial)}}} or smaller"
            )
        conv = TimeConv2d if self.encoder.spatial_dims == 2 else TimeConv1d
        # zero-pad each axis (symmetrically, rounded up) so no position is dropped
        pads = tuple(((p - s % p) % p + 1) // 2 for s in spatial)
        self.patch_embed = conv(in_ch, d, p, stride=p, padding=pads)
        num_tokens = 1
        for s, pad in zip(spatial, pads):
            num_tokens *= (s + 2 * pad - p) // p + 1
        self.num_tokens = num_tokens
        self.pos = nn.Parameter(torch.zeros(num_tokens, d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.norm_embed = nn.LayerNorm(d)
        self.blocks = nn.ModuleList(
            SpikingAttentionBlock(self, d, config.heads, config.mlp_ratio, config.attn_scale)
            for _ in range(config.depth)
        )
        self.lif_out = self.make_leaky()
        self.build_readout(d * num_tokens if config.readout == "flatten" else d)

    def network(self, seq: Tensor) -> Tensor:
        z = self.patch_embed(seq)  # [T, B, D, *S']
        z = z.flatten(3).transpose(2, 3)  # [T, B, N, D]
        u = self.norm_embed(z + self.pos)  # residual stream: currents, not spikes
        for block in self.blocks:
            u = block(u)
        s, _ = run_leaky(self.lif_out, u)
        return self.readout_membrane(s.flatten(2) if self.config.readout == "flatten" else s.mean(dim=2))
