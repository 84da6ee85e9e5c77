"""``lstm``: spiking LSTM (``snn.SLSTM``).

Per step, with the encoded input flattened to ``x_t [B, F]``::

    S^in_t = LIF(W_in x_t + b_in)                   (TimeLinear + Leaky)
    c_t, U_t = LSTMCell(S^in_t, (U_{t-1}, c_{t-1}))  (SLSTM: gates on spikes)
    S_t = H(U_t - theta_c)                          U_t = o_t tanh(c_t) lies in (-1, 1),
                                                    so theta_c = cell_threshold < 1
    out_t = U^out_t = LIF_out(W_o S_t + b_o)

Why the input projection: snnTorch's SLSTM (1.0.0) re-zeroes its state
whenever ``input_size != hidden_size`` (it compares the state's shape with
the input's), so the LSTM cell gets an H-wide input; making that input
spikes keeps the cell's input side accumulate-only. SLSTM keeps snnTorch's
default ``reset_mechanism="none"`` (the LSTM state is bounded by its tanh).
"auto": hidden width H meeting ``target_params``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import snntorch as snn
import torch
from torch import Tensor

from .base import SpikingModel
from .config import ModelConfig, config_field, float_range, size_or_auto
from .layers import TimeLinear, flat_features, make_surrogate, register_neuron, release_state, run_leaky

__all__ = ["LSTMConfig", "LSTM"]


@dataclass
class LSTMConfig(ModelConfig):
    hidden: int | str = config_field(
        "auto", section="sizes", check=size_or_auto, doc="LSTM width H, or \"auto\""
    )

    cell_threshold: float = config_field(
        0.2, section="sizes", check=float_range(0.0, 1.0, lo_open=True, hi_open=True),
        doc="threshold of the SLSTM output h = o * tanh(c), which lies in (-1, 1)",
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("hidden",)

    def with_width(self, width: int) -> "LSTMConfig":
        return replace(self, hidden=width)


class LSTM(SpikingModel):
    """Spiking LSTM network; see the module docstring."""

    family = "baseline"
    arch_name = "lstm"
    config_cls = LSTMConfig
    description = (
        "Spiking LSTM: Linear -> LIF input spikes, snn.SLSTM (LSTM cell whose output\n"
        "h = o tanh(c), in (-1, 1), is thresholded into spikes at cell_threshold),\n"
        "Linear -> LIF readout."
    )

    def __init__(self, input_spec, num_classes, config: LSTMConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        h = config.hidden
        self.fc_in = TimeLinear(flat_features(self.encoder.out_shape), h)
        self.lif_in = self.make_leaky()
        self.slstm = register_neuron(
            snn.SLSTM(
                h,
                h,
                threshold=config.cell_threshold,
                spike_grad=make_surrogate(config.surrogate, config.slope),
                init_hidden=False,
            )
        )
        self.build_readout(h)

    def network(self, seq: Tensor) -> Tensor:
        s_in, _ = run_leaky(self.lif_in, self.fc_in(seq.flatten(2)))  # [T, B, H]
        syn = torch.zeros_like(s_in[0])
        mem = torch.zeros_like(s_in[0])
        spikes = []
        for s in s_in.unbind(0):
            spk, syn, mem = self.slstm(s, syn, mem)
            spikes.append(spk)
        release_state(self.slstm)
        return self.readout_membrane(torch.stack(spikes))
