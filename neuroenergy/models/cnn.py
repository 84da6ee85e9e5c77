"""``cnn``: convolutional SNN (the snnTorch tutorial 6 network, generalised).

Blocks of ``Conv -> MaxPool(2) -> LIF`` — Conv2d over ``[C, H, W]`` for images
and event frames, Conv1d over ``[C, L]`` for signals, audio features and token
embeddings — then an adaptive max-pool of the last spikes to a fixed size
(max of spikes is still a spike, so the readout keeps binary input), flatten,
and the shared readout::

    I^k = MaxPool(Conv_k(S^{k-1}))      (TimeConv: all T steps batched)
    S^k_t, U^k_t = LIF(I^k_t, U^k_{t-1})
    out_t = U^out_t = LIF_out(W_o flatten(AdaptiveMaxPool(S^n_t)) + b_o)

On CPU the conv+pool work runs in blocks of whole time steps (see
:func:`~neuroenergy.models.layers.blockwise`): same values, faster than one
huge tensor. With ``channels=[12, 64]`` and ``encoder="direct"`` (kernel 5
and valid padding are the defaults) it is exactly the tutorial's network
(tested).
"auto": ``channels = [w, 2w]`` with w meeting ``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from torch import Tensor, nn

from neuroenergy.errors import ConfigError, InvalidInputError

from .base import SpikingModel
from .config import ModelConfig, choice, config_field, positive_int, sizes_or_auto
from .layers import TimeConv1d, TimeConv2d, blockwise, flat_features, run_leaky, time_apply

__all__ = ["CNNConfig", "CNN"]


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

    def __init__(self, input_spec, num_classes, config: CNNConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        dims = self.encoder.spatial_dims
        conv = TimeConv2d if dims == 2 else TimeConv1d
        pool = nn.MaxPool2d if dims == 2 else nn.MaxPool1d
        k = config.kernel_size
        pad = k // 2 if config.padding == "same" else 0
        in_ch, *spatial = self.encoder.out_shape
        size = list(spatial)
        for i, _ in enumerate(config.channels):
            size = [((s + 2 * pad - k + 1) // 2) for s in size]
            if min(size) < 1:
                raise InvalidInputError(
                    f"cnn: a {input_spec.kind} input of per-step shape {self.encoder.out_shape} is "
                    f"too small for {len(config.channels)} blocks of kernel {k} + pool 2 "
                    f"(padding={config.padding!r}) — it vanishes at block {i + 1}; use fewer "
                    f"channels entries, padding='same' or a smaller kernel_size"
                )
        chans = [in_ch, *config.channels]
        self.convs = nn.ModuleList(conv(a, b, k, padding=pad) for a, b in zip(chans[:-1], chans[1:]))
        # per-sample size of each conv's output (before pooling), for blockwise()
        self._conv_out_numel: list[int] = []
        s = list(spatial)
        for c in config.channels:
            s = [v + 2 * pad - k + 1 for v in s]
            self._conv_out_numel.append(c * flat_features(s))
            s = [v // 2 for v in s]
        self.pool = pool(2)
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
