"""``cnn``: convolutional SNN (the snnTorch tutorial 6 network, generalised).

Blocks of ``Conv(stride s) -> MaxPool(p) -> LIF`` — Conv2d over ``[C, H, W]``
for images and event frames, Conv1d over ``[C, L]`` for signals, audio
features and token embeddings — then an adaptive max-pool of the last spikes
to a fixed size (max of spikes is still a spike, so the readout keeps binary
input), flatten, and the shared readout::

    I^k = MaxPool_p(Conv_k,s(S^{k-1}))  (TimeConv: all T steps batched)
    S^k_t, U^k_t = LIF(I^k_t, U^k_{t-1})
    out_t = U^out_t = LIF_out(W_o flatten(AdaptiveMaxPool(S^n_t)) + b_o)

Cost and the defaults: a conv's work is its parameters times its output
positions, so at a fixed parameter budget the tutorial's stride-1 conv +
pool-2 blocks cost 20-140x an mlp's training time per sample
(``benchmarks/bench_roofline.py``). Striding the convs instead (``stride``
4-5 per input kind, ``pool`` 1) cuts that 5-10x, and is the default where it
did not cost accuracy at an equal training budget
(``benchmarks/bench_arch_accuracy.py``, 3,000 samples x 2 epochs, T = 8):
audio (FSDD balanced accuracy 0.71 -> 0.75) and tokens (SST-2 0.50 -> 0.53).
Images, event frames and signals keep the tutorial's stride 1 + pool 2,
because striding lost accuracy there (MNIST 0.958 -> 0.883, N-MNIST 0.616 ->
0.583, MIT-BIH 0.358 -> 0.335); pass ``stride``/``pool`` to trade.
On CPU the conv+pool work runs in blocks of whole time steps
(see :func:`~neuroenergy.models.layers.blockwise`): same values, faster than
one huge tensor. With ``channels=[12, 64]``, ``stride=1``, ``pool=2`` for the
kind and ``encoder="direct"`` (kernel 5 and valid padding are the defaults)
it is exactly the tutorial's network (tested).
"auto": ``channels = [w, 2w]`` with w meeting ``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from torch import Tensor, nn

from neuroenergy.errors import ConfigError, InvalidInputError

from .base import SpikingModel
from .config import ModelConfig, choice, config_field, per_kind_int, positive_int, sizes_or_auto
from .layers import TimeConv1d, TimeConv2d, blockwise, flat_features, run_leaky, time_apply

__all__ = ["CNNConfig", "CNN"]


def _default_stride() -> dict[str, int]:
    return {"image": 1, "events": 1, "signal": 1, "audio": 5, "tokens": 4}


def _default_pool() -> dict[str, int]:
    return {"image": 2, "events": 2, "signal": 2, "audio": 1, "tokens": 1}


@dataclass
class CNNConfig(ModelConfig):
    channels: list[int] | str = config_field(
        "auto", section="sizes", check=sizes_or_auto,
        doc="output channels of each conv block, or \"auto\" ([w, 2w] meeting target_params)",
    )
    kernel_size: int = config_field(5, section="sizes", check=positive_int(), doc="conv kernel size")
    padding: str = config_field(
        "valid", section="sizes", check=choice("same", "valid"),
        doc="conv padding: valid (none, as in the snnTorch tutorial: fewer positions, less work) or same",
    )
    stride: dict[str, int] = config_field(
        section="@table", check=per_kind_int, factory=_default_stride,
        doc="conv stride per input kind (1 with pool 2: the snnTorch tutorial's blocks)",
        entry_docs={"audio": "strided where it cost no accuracy (FSDD, measured), 5-10x cheaper"},
    )
    pool: dict[str, int] = config_field(
        section="@table", check=per_kind_int, factory=_default_pool,
        doc="max-pool size after each conv per input kind (1: no pooling)",
    )
    pooled_2d: int = config_field(
        4, section="sizes", check=positive_int(), doc="side of the final adaptive max-pool for 2-D inputs"
    )
    pooled_1d: int = config_field(
        8, section="sizes", check=positive_int(), doc="length of the final adaptive max-pool for 1-D inputs"
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("channels",)

    def _validate_extra(self) -> None:
        if self.padding == "same" and self.kernel_size % 2 == 0:
            raise ConfigError(f"'kernel_size' must be odd with padding='same', got {self.kernel_size}")

    def with_width(self, width: int) -> "CNNConfig":
        return replace(self, channels=[width, 2 * width])


class CNN(SpikingModel):
    """Convolutional spiking network; see the module docstring."""

    family = "baseline"
    arch_name = "cnn"
    config_cls = CNNConfig
    description = (
        "Convolutional SNN: [Conv (strided) -> MaxPool -> LIF] blocks (Conv2d for images and\n"
        "event frames, Conv1d over L for signals, audio features and token\n"
        "embeddings), adaptive max-pool, Linear -> LIF readout (snnTorch tutorial 6)."
    )

    def __init__(self, input_spec, num_classes, config: CNNConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        dims = self.encoder.spatial_dims
        conv = TimeConv2d if dims == 2 else TimeConv1d
        pool = nn.MaxPool2d if dims == 2 else nn.MaxPool1d
        k = config.kernel_size
        stride = config.stride[input_spec.kind]
        pool_size = config.pool[input_spec.kind]
        pad = k // 2 if config.padding == "same" else 0
        in_ch, *spatial = self.encoder.out_shape
        size = list(spatial)
        for i, _ in enumerate(config.channels):
            size = [((s + 2 * pad - k) // stride + 1) // pool_size for s in size]
            if min(size) < 1:
                raise InvalidInputError(
                    f"cnn: a {input_spec.kind} input of per-step shape {self.encoder.out_shape} is "
                    f"too small for {len(config.channels)} blocks of kernel {k}, stride {stride}, "
                    f"pool {pool_size} (padding={config.padding!r}) — it vanishes at block {i + 1}; "
                    f"use fewer channels entries, padding='same', a smaller kernel_size, stride or pool"
                )
        chans = [in_ch, *config.channels]
        self.convs = nn.ModuleList(conv(a, b, k, stride=stride, padding=pad) for a, b in zip(chans[:-1], chans[1:]))
        # per-sample size of each conv's output (before pooling), for blockwise()
        self._conv_out_numel: list[int] = []
        s = list(spatial)
        for c in config.channels:
            s = [(v + 2 * pad - k) // stride + 1 for v in s]
            self._conv_out_numel.append(c * flat_features(s))
            s = [v // pool_size for v in s]
        # pool 1 is no pooling: skip a pass over every step
        self.pool = pool(pool_size) if pool_size > 1 else nn.Identity()
        self.lifs = nn.ModuleList(self.make_leaky() for _ in config.channels)
        target = config.pooled_2d if dims == 2 else config.pooled_1d
        out_size = tuple(min(target, s) for s in size)
        if out_size == tuple(size):  # already that size: skip a no-op pass over every step
            self.final_pool: nn.Module = nn.Identity()
        else:
            self.final_pool = (nn.AdaptiveMaxPool2d if dims == 2 else nn.AdaptiveMaxPool1d)(out_size)
        self.build_readout(chans[-1] * flat_features(out_size))

    def network(self, seq: Tensor) -> Tensor:
        x = seq
        for conv, lif, numel in zip(self.convs, self.lifs, self._conv_out_numel):
            cur = blockwise(lambda z, conv=conv: time_apply(self.pool, conv(z)), x, numel)
            x, _ = run_leaky(lif, cur)
        x = time_apply(self.final_pool, x)
        return self.readout_membrane(x.flatten(2))
