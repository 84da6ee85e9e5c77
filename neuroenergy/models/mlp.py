"""``mlp``: feed-forward LIF network (the snnTorch tutorial 5 network).

Per step t, with the encoded input flattened to ``x_t [B, F]``::

    I^1_t = W_1 x_t + b_1          (TimeLinear: all T steps in one call)
    S^1_t, U^1_t = LIF(I^1_t, U^1_{t-1})
    ...                             (``hidden`` layers)
    out_t = U^out_t = LIF_out(W_o S^n_t + b_o)

With ``hidden=[1000]``, ``encoder="direct"`` and the tutorial's beta it is
exactly the tutorial's ``fc1 -> lif1 -> fc2 -> lif2`` network (tested).
"auto" width: ``hidden_layers`` layers of equal width solved for
``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from torch import Tensor, nn

from .base import SpikingModel
from .config import ModelConfig, config_field, positive_int, sizes_or_auto
from .layers import TimeLinear, flat_features, run_leaky

__all__ = ["MLPConfig", "MLP"]


@dataclass
class MLPConfig(ModelConfig):
    hidden: list[int] | str = config_field(
        "auto", section="sizes", check=sizes_or_auto,
        doc="hidden layer widths, or \"auto\" (hidden_layers equal widths meeting target_params)",
    )
    hidden_layers: int = config_field(
        1, section="sizes", check=positive_int(), doc="number of hidden layers when hidden = \"auto\""
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("hidden",)

    def with_width(self, width: int) -> "MLPConfig":
        return replace(self, hidden=[width] * self.hidden_layers)


class MLP(SpikingModel):
    """Feed-forward spiking MLP; see the module docstring."""

    family = "baseline"
    arch_name = "mlp"
    config_cls = MLPConfig
    description = (
        "Feed-forward LIF network: Linear -> LIF per hidden layer, then a Linear ->\n"
        "LIF readout whose membrane is the output (snnTorch tutorial 5)."
    )

    def __init__(self, input_spec, num_classes, config: MLPConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        sizes = [flat_features(self.encoder.out_shape), *config.hidden]
        self.fcs = nn.ModuleList(TimeLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.lifs = nn.ModuleList(self.make_leaky() for _ in config.hidden)
        self.build_readout(sizes[-1])

    def network(self, seq: Tensor) -> Tensor:
        x = seq.flatten(2)  # [T, B, F] (a view; keeps the stride-0 time axis of direct input)
        for fc, lif in zip(self.fcs, self.lifs):
            x, _ = run_leaky(lif, fc(x))
        return self.readout_membrane(x)
