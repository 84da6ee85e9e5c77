"""``EnergyTap``: mark a tensor inside a model as part of its activation energy.

The activation energy E(theta, x) is the sum of squared outputs of a model's
activation layers (snnTorch neurons, ReLU-like functions). Some architectures
carry extra energy pathways that are not neuron outputs (the Lagrangian
model's kinetic and constraint terms); passing such a tensor through an
``EnergyTap`` adds the sum of its squares to E, both in ``measure`` and in the
differentiable loss terms, without changing the value that flows on.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EnergyTap"]


class EnergyTap(nn.Module):
    """Identity module whose output's squared sum counts as activation energy.

    Args:
        weight: multiplies the tap's contribution (sum of squares x weight).
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if not weight >= 0:
            raise ValueError(f"EnergyTap weight must be >= 0, got {weight}")
        self.weight = float(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
