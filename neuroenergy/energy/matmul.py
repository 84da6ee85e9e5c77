"""``SynapticMatmul``: a product of two activity tensors that ``measure`` counts.

Spiking self-attention multiplies spikes by spikes (``Q @ (K^T V)``); there
are no weights, but every (nonzero, nonzero) pair is an operation a chip has
to perform. Written as a module, such a product is seen by the hooks of
``measure`` and the ``synops`` loss term:

* effective operations: pairs ``a[..., i, k] != 0`` and ``b[..., k, j] != 0``,
  i.e. ``sum_k nnz(a[..., :, k]) * nnz(b[..., k, :])`` per leading index;
* dense operations: ``m * k * n`` per leading index;
* ACs when ``a`` is binary (values in {-1, 0, 1}: selecting and adding rows
  of ``b``), MACs otherwise, as for a layer's input.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SynapticMatmul"]


class SynapticMatmul(nn.Module):
    """``a @ b`` (``[..., m, k] @ [..., k, n]``) as a countable module."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b
