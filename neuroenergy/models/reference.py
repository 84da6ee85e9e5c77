"""Reference networks written the way the snnTorch tutorials write them: one
Python loop over time steps, each step calling Linear/Conv then the Leaky
neuron (tutorial 5: fully connected; tutorial 6: convolutional).

They exist to check our ``mlp`` and ``cnn`` against (same weights -> same
output membrane, see ``tests/test_models_tutorial.py``) and as the baseline
of ``benchmarks/bench_models.py``. Not registered as architectures.
"""

from __future__ import annotations

import snntorch as snn
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import make_surrogate, register_neuron

__all__ = ["TutorialMLP", "TutorialCNN", "copy_mlp_weights", "copy_cnn_weights"]


def _leaky(beta: float, slope: float) -> snn.Leaky:
    return register_neuron(snn.Leaky(beta=beta, spike_grad=make_surrogate("fast_sigmoid", slope)))


class TutorialMLP(nn.Module):
    """``fc1 -> lif1 -> fc2 -> lif2``, looped over steps (snnTorch tutorial 5).

    ``forward(x [T, B, F])`` -> output membrane ``[T, B, K]``.
    """

    def __init__(
        self, num_inputs: int, num_hidden: int, num_outputs: int, beta: float, slope: float = 25.0
    ):
        super().__init__()
        self.fc1 = nn.Linear(num_inputs, num_hidden)
        self.lif1 = _leaky(beta, slope)
        self.fc2 = nn.Linear(num_hidden, num_outputs)
        self.lif2 = _leaky(beta, slope)

    def forward(self, x: Tensor) -> Tensor:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        mem2_rec = []
        for step in range(x.shape[0]):
            cur1 = self.fc1(x[step])
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            mem2_rec.append(mem2)
        return torch.stack(mem2_rec, dim=0)


class TutorialCNN(nn.Module):
    """``conv1 -> pool -> lif1 -> conv2 -> pool -> lif2 -> fc -> lif3`` per step
    (snnTorch tutorial 6: 12 and 64 channels, 5x5 kernels, 28x28 input).

    ``forward(x [T, B, 1, 28, 28])`` -> output membrane ``[T, B, K]``.
    """

    def __init__(
        self, num_outputs: int, beta: float, slope: float = 25.0, channels=(12, 64), in_channels: int = 1
    ):
        super().__init__()
        c1, c2 = channels
        self.conv1 = nn.Conv2d(in_channels, c1, 5)
        self.lif1 = _leaky(beta, slope)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.lif2 = _leaky(beta, slope)
        self.fc1 = nn.Linear(c2 * 4 * 4, num_outputs)
        self.lif3 = _leaky(beta, slope)

    def forward(self, x: Tensor) -> Tensor:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        mem3 = self.lif3.init_leaky()
        mem3_rec = []
        for step in range(x.shape[0]):
            cur1 = F.max_pool2d(self.conv1(x[step]), 2)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = F.max_pool2d(self.conv2(spk1), 2)
            spk2, mem2 = self.lif2(cur2, mem2)
            cur3 = self.fc1(spk2.view(spk2.shape[0], -1))
            spk3, mem3 = self.lif3(cur3, mem3)
            mem3_rec.append(mem3)
        return torch.stack(mem3_rec, dim=0)


@torch.no_grad()
def copy_mlp_weights(model: nn.Module, ref: TutorialMLP) -> None:
    """Copy a one-hidden-layer neuroenergy ``mlp``'s weights into ``ref``."""
    ref.fc1.load_state_dict(model.fcs[0].state_dict())
    ref.fc2.load_state_dict(model.readout.state_dict())


@torch.no_grad()
def copy_cnn_weights(model: nn.Module, ref: TutorialCNN) -> None:
    """Copy a two-block neuroenergy ``cnn``'s weights into ``ref``."""
    ref.conv1.load_state_dict(model.convs[0].state_dict())
    ref.conv2.load_state_dict(model.convs[1].state_dict())
    ref.fc1.load_state_dict(model.readout.state_dict())
