"""``bimodal`` (BimodalTrue): a fast neuronal pathway gated by a slow glial one.

Interpretation (the paper's body is not available; this follows its Figure 1
caption: two pathways after neuron-glia metabolic specialisation). Neurons
spend energy on spikes that carry the task; astrocytes integrate neuronal
activity slowly (Ca2+ waves, seconds vs milliseconds) and regulate synaptic
efficacy. Here, with the encoded input ``x_t`` flattened::

    I_t = W_in x_t + b_in                                fast drive (TimeLinear, all T at once)
    g_t = beta_g g_{t-1} + (1 - beta_g) W_g S_{t-1}      glial state [B, M], slow: beta_g > beta
    a_t = 2 sigmoid(W_a g_t + b_a)                       glial gain in (0, 2), 1 when g = 0
    U_t = beta U_{t-1} + a_t * I_t - theta S_{t-1}        neuronal LIF (snn.Leaky), gain-gated input
    S_t = H(U_t - theta)
    out_t = U^out_t = LIF_out(W_o S_t + b_o)

- Fast pathway: ``W_in`` -> LIF -> readout, time constant 1/(1-beta) ~ 10 steps.
- Slow glial pathway: ``W_g`` (reads the neuronal spikes: accumulate-only)
  -> leaky integrator with ``beta_g`` (default 0.95, ~20 steps) -> ``W_a``
  -> per-neuron gain. M = ``glia_ratio`` x H glial units (few glia, many neurons).
- Why it saves energy: with ``L = L_CE + lambda E`` the glial gate learns to
  turn the gain down on neurons whose spikes do not pay for themselves and
  to keep it up where they do; since it acts on slowly integrated activity,
  the gating is a context (sample-level) decision rather than a per-step one.
  With ``b_a = 0`` at initialisation every gain starts near 1, i.e. the
  network starts as a plain LIF network.
- The gate scales the input gain; gating the threshold instead is the other
  reading of the caption — not implemented (snnTorch neurons take a fixed
  threshold). The glial integrator is not a spiking neuron (astrocytes do
  not spike); its synapses ``W_g``, ``W_a`` are counted by ``measure``.

"auto": neuronal width H meeting ``target_params``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from .base import SpikingModel
from .config import ModelConfig, config_field, float_range, size_or_auto
from .layers import TimeLinear, flat_features, release_state

__all__ = ["BimodalConfig", "BimodalTrue", "BimodalState", "bimodal_step"]


@dataclass
class BimodalConfig(ModelConfig):
    hidden: int | str = config_field(
        "auto", section="sizes", check=size_or_auto, doc="neuronal width H, or \"auto\""
    )
    glia_ratio: float = config_field(
        0.25, section="sizes", check=float_range(0.0, 1.0, lo_open=True),
        doc="glial units M per neuron (M = max(1, round(glia_ratio * H)))",
    )
    glia_beta: float = config_field(
        0.95, section="glia", check=float_range(0.0, 1.0, hi_open=True),
        doc="decay of the glial integrator per step (slower than the neurons' beta)",
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("hidden",)
    SECTION_DOCS: ClassVar[Mapping[str, str]] = {"glia": "slow glial pathway"}

    def with_width(self, width: int) -> "BimodalConfig":
        return replace(self, hidden=width)


class BimodalState(NamedTuple):
    """State between steps: neuronal membrane and spikes ``[B, H]``, glia ``[B, M]``."""

    mem: Tensor
    spk: Tensor
    glia: Tensor


def bimodal_step(
    drive: Tensor,
    state: BimodalState,
    *,
    neuron: nn.Module,
    glia_in: nn.Module,
    glia_out: nn.Module,
    glia_beta: float,
) -> tuple[Tensor, BimodalState, Tensor]:
    """One step of the gated layer (pure given its modules).

    Args:
        drive: fast input current ``I_t [B, H]``.
        state: the previous step's state.
    Returns:
        ``(S_t [B, H], new state, gain a_t [B, H])``.
    """
    glia = glia_beta * state.glia + (1.0 - glia_beta) * glia_in(state.spk)
    gain = 2.0 * torch.sigmoid(glia_out(glia))
    spk, mem = neuron(gain * drive, state.mem)
    return spk, BimodalState(mem, spk, glia), gain


class BimodalTrue(SpikingModel):
    """Neuron-glia two-pathway network; see the module docstring."""

    family = "energy_first"
    arch_name = "bimodal"
    config_cls = BimodalConfig
    description = (
        "BimodalTrue (interpretation): a fast neuronal LIF pathway carries the task;\n"
        "a slow glial pathway integrates its spikes (leaky integrator, beta_g > beta)\n"
        "and sets a per-neuron input gain a = 2 sigmoid(W_a g), so activity is spent\n"
        "only where it pays. See neuroenergy/models/bimodal.py for the equations."
    )

    def __init__(self, input_spec, num_classes, config: BimodalConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        h = config.hidden
        m = max(1, round(config.glia_ratio * h))
        self.glia_units = m
        self.fc_in = TimeLinear(flat_features(self.encoder.out_shape), h)
        self.lif = self.make_leaky(sequence=False)  # its input at t depends on t-1
        self.glia_in = nn.Linear(h, m)
        self.glia_out = nn.Linear(m, h)
        nn.init.zeros_(self.glia_out.bias)  # gain 1 at rest: start as a plain LIF layer
        self.build_readout(h)

    def network(self, seq: Tensor) -> Tensor:
        drive = self.fc_in(seq.flatten(2))  # [T, B, H]
        b, h = drive.shape[1:]
        z = drive.new_zeros(b, h)
        state = BimodalState(z, z, drive.new_zeros(b, self.glia_units))
        spikes = []
        for i_t in drive.unbind(0):
            spk, state, _ = bimodal_step(
                i_t, state, neuron=self.lif, glia_in=self.glia_in, glia_out=self.glia_out,
                glia_beta=self.config.glia_beta,
            )
            spikes.append(spk)
        release_state(self.lif)
        return self.readout_membrane(torch.stack(spikes))
