"""``lagrangian`` (Physics-Lagrangian): the forward pass as a discrete action.

Interpretation (the paper's body is not available; this follows its Figure 1
caption: a kinetic pathway T, a potential pathway V and a constraint pathway
C). The hidden spikes ``s_t`` are the generalised coordinates. Per forward
pass the network carries the discrete action::

    S = sum_t [ T_t + C_t - V_t ]
    T_t = 1/2 ||k_t||^2,   k_t = M (s_{t-1} - s_{t-2})         kinetic: cost of changing state
    C_t = ||c_t||^2,       c_t = relu(r_t - rho),              constraint: an energy budget
                           r_t = alpha r_{t-1} + (1 - alpha) s_{t-1}  (running firing rate)
    V_t = <s_t, I_t>,      I_t = W_in x_t + b_in               potential: the task drive

and each step moves the neurons along the generalised force ``-dS/ds``::

    U_t = beta U_{t-1} + I_t - F k_t - softplus(mu) * c_t - theta s_{t-1}   (snn.Leaky)
    s_t = H(U_t - theta)
    out_t = U^out_t = LIF_out(W_o s_t + b_o)                  readout of the V pathway

- The exact kinetic force would be ``-M^T k_t``; ``F`` (``nn.Linear``) is a
  learned, untied feedback, and ``mu`` a learned per-neuron constraint
  stiffness — the action gives the structure, training the coefficients.
- ``k_t`` and ``c_t`` pass through :class:`~neuroenergy.energy.tap.EnergyTap`
  modules (weights 1/2 and 1), so ``T_t`` and ``C_t`` are part of the model's
  activation energy E(theta, x): with ``L = L_CE + lambda E`` the loss is the
  action with the readout's cross-entropy in the role of ``-V`` (task reward).
- ``M s`` is computed on spikes (binary input, accumulate-only) each step and
  differenced, ``k_t = M s_{t-1} - M s_{t-2}``; ``M`` has no bias (it would
  cancel). ``rho`` (spikes per step) is a fixed budget, not learned — a
  learned budget would simply grow.

"auto": hidden width H meeting ``target_params``; kinetic width
K = max(1, round(kinetic_ratio * H)).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroenergy.energy.tap import EnergyTap

from .base import SpikingModel
from .config import ModelConfig, config_field, float_range, size_or_auto
from .layers import TimeLinear, flat_features, release_state

__all__ = ["LagrangianConfig", "PhysicsLagrangian", "LagrangianState", "lagrangian_step"]


@dataclass
class LagrangianConfig(ModelConfig):
    hidden: int | str = config_field(
        "auto", section="sizes", check=size_or_auto, doc="hidden width H, or \"auto\""
    )
    kinetic_ratio: float = config_field(
        0.25, section="sizes", check=float_range(0.0, 1.0, lo_open=True),
        doc="kinetic pathway width K per hidden neuron",
    )
    rate_budget: float = config_field(
        0.1, section="action", check=float_range(0.0, 1.0),
        doc="constraint: firing rate (spikes per step) above which C grows",
    )
    rate_decay: float = config_field(
        0.9, section="action", check=float_range(0.0, 1.0, hi_open=True),
        doc="alpha of the running firing-rate estimate r_t",
    )
    kinetic_weight: float = config_field(
        0.5, section="action", check=float_range(0.0, math.inf),
        doc="weight of ||k_t||^2 in E (1/2: kinetic energy)",
    )
    constraint_weight: float = config_field(
        1.0, section="action", check=float_range(0.0, math.inf), doc="weight of ||c_t||^2 in E"
    )

    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ("hidden",)
    SECTION_DOCS: ClassVar[Mapping[str, str]] = {
        "action": "kinetic (T) and constraint (C) pathways of the discrete action"}

    def with_width(self, width: int) -> "LagrangianConfig":
        return replace(self, hidden=width)


class LagrangianState(NamedTuple):
    """State between steps: membrane, spikes ``[B, H]``, last ``M s`` ``[B, K]``, rate ``[B, H]``."""

    mem: Tensor
    spk: Tensor
    mass_prev: Tensor
    rate: Tensor


def lagrangian_step(
    drive: Tensor,
    state: LagrangianState,
    *,
    neuron: nn.Module,
    mass: nn.Module,
    force: nn.Module,
    tap_kinetic: nn.Module,
    tap_constraint: nn.Module,
    stiffness: Tensor,
    rate_decay: float,
    rate_budget: float,
) -> tuple[Tensor, LagrangianState, Tensor, Tensor]:
    """One step of the action-driven layer (pure given its modules).

    Args:
        drive: potential force ``I_t [B, H]``; stiffness: ``softplus(mu) [H]``.
    Returns:
        ``(s_t, new state, k_t [B, K], c_t [B, H])``.
    """
    m = mass(state.spk)  # M s_{t-1}
    k = tap_kinetic(m - state.mass_prev)  # M (s_{t-1} - s_{t-2})
    rate = rate_decay * state.rate + (1.0 - rate_decay) * state.spk
    c = tap_constraint(F.relu(rate - rate_budget))
    spk, mem = neuron(drive - force(k) - stiffness * c, state.mem)
    return spk, LagrangianState(mem, spk, m, rate), k, c


class PhysicsLagrangian(SpikingModel):
    """Kinetic / potential / constraint network; see the module docstring."""

    family = "energy_first"
    arch_name = "lagrangian"
    config_cls = LagrangianConfig
    description = (
        "Physics-Lagrangian (interpretation): the forward pass carries a discrete\n"
        "action S = sum_t (T_t + C_t - V_t) with kinetic T_t = 1/2 ||M (s_{t-1} -\n"
        "s_{t-2})||^2, constraint C_t = ||relu(r_t - rho)||^2 (firing-rate budget)\n"
        "and potential V_t = <s_t, W_in x_t>; the LIF input is the generalised force\n"
        "I_t - F k_t - softplus(mu) c_t. T and C pass through EnergyTaps, so they are\n"
        "part of E(theta, x). See neuroenergy/models/lagrangian.py."
    )
    #: softplus(mu) scales each neuron's constraint rate: element-wise, no synaptic operations.
    elementwise_parameters = ("mu",)

    def __init__(self, input_spec, num_classes, config: LagrangianConfig) -> None:
        super().__init__(input_spec, num_classes, config)
        h = config.hidden
        kdim = max(1, round(config.kinetic_ratio * h))
        self.kinetic_units = kdim
        self.fc_in = TimeLinear(flat_features(self.encoder.out_shape), h)  # V pathway drive
        self.lif = self.make_leaky(sequence=False)  # its input at t depends on t-1
        self.mass = nn.Linear(h, kdim, bias=False)  # T pathway
        self.force = nn.Linear(kdim, h, bias=False)
        self.tap_kinetic = EnergyTap(config.kinetic_weight)
        self.tap_constraint = EnergyTap(config.constraint_weight)  # C pathway
        # softplus(mu) = 1 at initialisation
        self.mu = nn.Parameter(torch.full((h,), math.log(math.e - 1.0)))
        self.build_readout(h)

    def network(self, seq: Tensor) -> Tensor:
        drive = self.fc_in(seq.flatten(2))  # [T, B, H]
        b, h = drive.shape[1:]
        z = drive.new_zeros(b, h)
        state = LagrangianState(z, z, drive.new_zeros(b, self.kinetic_units), z)
        stiffness = F.softplus(self.mu)
        spikes = []
        for i_t in drive.unbind(0):
            spk, state, _, _ = lagrangian_step(
                i_t, state, neuron=self.lif, mass=self.mass, force=self.force,
                tap_kinetic=self.tap_kinetic, tap_constraint=self.tap_constraint,
                stiffness=stiffness, rate_decay=self.config.rate_decay,
                rate_budget=self.config.rate_budget,
            )
            spikes.append(spk)
        release_state(self.lif)
        return self.readout_membrane(torch.stack(spikes))
