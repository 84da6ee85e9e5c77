"""``rnn``: recurrent LIF network (``snn.RLeaky`` with all-to-all recurrence).

Per step, with the encoded input flattened to ``x_t [B, F]``::

    I_t = W_in x_t + b_in                         (TimeLinear: all T at once)
    U_t = beta U_{t-1} + I_t + V S_{t-1} + c - S_{t-1} theta   (RLeaky; V: nn.Linear(H, H))
    S_t = H(U_t - theta)
    out_t = U^out_t = LIF_out(W_o S_t + b_o)

The recurrent product ``V S_{t-1}`` depends on the previous step, so it runs
inside the loop (snnTorch's own ``recurrent`` Linear, called on spikes).
"auto": hidden width H meeting ``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import snntorch as snn
import torch
from torch import Tensor

from .base import SpikingModel
from .config import ModelConfig, config_field, size_or_auto
from .layers import TimeLinear, flat_features, make_surrogate, register_neuron, release_state

__all__ = ["RNNConfig", "RNN"]


@dataclass
class RNNConfig(ModelConfig):
    hidden: int | str = config_field(
        "auto", section="sizes", check=size_or_auto, doc="recurrent layer width H, or \"auto\""
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("hidden",)

    def with_width(self, width: int) -> "RNNConfig":
        return replace(self, hidden=width)


class RNN(SpikingModel):
    """Recurrent spiking network; see the module docstring."""

    family = "baseline"
    arch_name = "rnn"
    config_cls = RNNConfig
    description = (
        "Recurrent LIF network: Linear input projection, then snn.RLeaky with\n"
        "all-to-all recurrent weights, Linear -> LIF readout."
    )

    def __init__(self, input_spec, num_classes, config: RNNConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        h = config.hidden
        self.fc_in = TimeLinear(flat_features(self.encoder.out_shape), h)
        self.rlif = register_neuron(
            snn.RLeaky(
                beta=config.beta,
                threshold=config.threshold,
                spike_grad=make_surrogate(config.surrogate, config.slope),
                reset_mechanism=config.reset,
                all_to_all=True,
                linear_features=h,
                init_hidden=False,
            )
        )
        self.build_readout(h)

    def network(self, seq: Tensor) -> Tensor:
        cur = self.fc_in(seq.flatten(2))  # [T, B, H]
        spk = torch.zeros_like(cur[0])
        mem = torch.zeros_like(cur[0])
        spikes = []
        for c in cur.unbind(0):
            spk, mem = self.rlif(c, spk, mem)
            spikes.append(spk)
        release_state(self.rlif)
        return self.readout_membrane(torch.stack(spikes))
