"""Cross-check measure() against NeuroBench's Benchmark on the same models and batches."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch
from torch import nn

from neuroenergy.energy import measure

neurobench = pytest.importorskip("neurobench", reason="neurobench is part of the dev extra")
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations  # noqa: E402
from neurobench.models import SNNTorchModel, TorchModel  # noqa: E402


class FeedForwardSNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(20, 30)
        self.lif1 = snn.Leaky(beta=0.9, init_hidden=True)
        self.fc2 = nn.Linear(30, 5)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


class ConvSNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.8, init_hidden=True)
        self.conv2 = nn.Conv2d(4, 4, 3, stride=2)
        self.lif2 = snn.Leaky(beta=0.8, init_hidden=True)
        self.fc = nn.Linear(4 * 3 * 3, 3)
        self.lif3 = snn.Leaky(beta=0.8, init_hidden=True, output=True)

    def forward(self, x):
        x = self.lif2(self.conv2(self.lif1(self.conv1(x))))
        return self.lif3(self.fc(x.flatten(1)))


class _Loader(list):
    """The minimal DataLoader surface Benchmark.run uses: iteration, len, .dataset."""

    def __init__(self, inputs: torch.Tensor) -> None:
        super().__init__([(inputs, torch.zeros(inputs.shape[0]))])
        self.dataset = range(inputs.shape[0])


def neurobench_counts(net: nn.Module, inputs_batch_first: torch.Tensor, spiking: bool) -> dict:
    model = SNNTorchModel(net) if spiking else TorchModel(net)
    metrics = [[], [SynapticOperations, ActivationSparsity, MembraneUpdates]]
    return Benchmark(model, _Loader(inputs_batch_first), [], [], metrics).run(quiet=True)


def sparsify_weights(net: nn.Module, seed: int) -> nn.Module:
    """Zero about 20% of the weights and scale the rest so that neurons fire."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p[torch.rand(p.shape, generator=generator) < 0.2] = 0.0
            p.mul_(3.0)
    return net


def assert_same(ours, theirs) -> None:
    synops = theirs["SynapticOperations"]
    assert ours.total.effective_macs == pytest.approx(synops["Effective_MACs"], rel=1e-12)
    assert ours.total.effective_acs == pytest.approx(synops["Effective_ACs"], rel=1e-12)
    assert ours.total.dense_synops == pytest.approx(synops["Dense"], rel=1e-12)
    assert ours.activation_sparsity == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)
    assert ours.total.membrane_updates == pytest.approx(theirs["MembraneUpdates"], rel=1e-12)


@pytest.mark.parametrize("analog", [False, True], ids=["spike-input", "analog-input"])
def test_feed_forward_snn_equals_neurobench(analog):
    torch.manual_seed(1)
    net = sparsify_weights(FeedForwardSNN(), seed=1)
    x = torch.rand(6, 4, 20) * 2 if analog else (torch.rand(6, 4, 20) > 0.6).float()  # [T, B, F]
    ours = measure(net, x)
    theirs = neurobench_counts(net, x.transpose(0, 1), spiking=True)
    assert ours.total.synops > 0 and ours.total.membrane_updates > 0
    assert (ours.total.effective_macs > 0) == analog
    assert_same(ours, theirs)


def test_conv_snn_equals_neurobench():
    torch.manual_seed(2)
    net = sparsify_weights(ConvSNN(), seed=2)
    x = (torch.rand(5, 3, 2, 8, 8) > 0.7).float()  # [T, B, C, H, W]
    ours = measure(net, x)
    theirs = neurobench_counts(net, x.transpose(0, 1), spiking=True)
    assert ours.total.effective_acs > 0
    assert_same(ours, theirs)


def test_ann_equals_neurobench():
    torch.manual_seed(3)
    net = sparsify_weights(nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 4), nn.Sigmoid()), 3)
    x = torch.relu(torch.randn(8, 10))
    ours = measure(net, x.unsqueeze(0))  # one time step
    theirs = neurobench_counts(net, x, spiking=False)
    assert ours.total.effective_macs > 0
    assert_same(ours, theirs)


def test_lstm_cell_equals_neurobench():
    # snnTorch's SLSTM calls an nn.LSTMCell with its (mem, syn) state each step.
    torch.manual_seed(4)

    class SpikingLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 5)
            self.lstm = snn.SLSTM(5, 4, init_hidden=True, output=True)

        def forward(self, x):
            spk, _syn, mem = self.lstm(self.fc(x))
            return spk, mem

    net = sparsify_weights(SpikingLSTM(), seed=4)
    x = (torch.rand(4, 3, 6) > 0.5).float()
    ours = measure(net, x)
    theirs = neurobench_counts(net, x.transpose(0, 1), spiking=True)
    assert ours["lstm.lstm_cell"].synops > 0
    assert_same(ours, theirs)


def _neuron_ops(net: nn.Module, inputs_batch_first: torch.Tensor) -> dict:
    from neurobench.metrics.workload import NeuronOperations

    metrics = [[], [NeuronOperations]]
    return Benchmark(SNNTorchModel(net), _Loader(inputs_batch_first), [], [], metrics).run(quiet=True)


class SynapticZeroReset(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.syn1 = snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True, reset_mechanism="zero")
        self.fc2 = nn.Linear(16, 4)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)

    def forward(self, x):
        return self.lif2(self.fc2(self.syn1(self.fc1(x))))


@pytest.mark.parametrize("which", ["feed-forward", "conv", "synaptic-zero-reset"])
def test_neuron_operations_equal_neurobench(which):
    torch.manual_seed(5)
    if which == "conv":
        net, x = sparsify_weights(ConvSNN(), seed=5), (torch.rand(5, 3, 2, 8, 8) > 0.7).float()
    elif which == "feed-forward":
        net, x = sparsify_weights(FeedForwardSNN(), seed=5), (torch.rand(6, 4, 20) > 0.6).float()
    else:
        net, x = sparsify_weights(SynapticZeroReset(), seed=5), (torch.rand(6, 4, 12) > 0.5).float()
    ours = measure(net, x)
    theirs = _neuron_ops(net, x.transpose(0, 1))["NeuronOperations"]
    assert ours.total.neuron_ops_effective > 0
    assert ours.total.neuron_ops_effective == pytest.approx(theirs["Effective Neuron Ops"], rel=1e-12)
    assert ours.total.neuron_ops_dense == pytest.approx(theirs["Neuron Dense Ops"], rel=1e-12)


@pytest.mark.parametrize("cell", [nn.RNNCell, nn.GRUCell])
def test_recurrent_cell_dense_counts_every_hidden_weight(cell):
    # The state starts at zero (none passed on the first step): Dense still counts W_hh in full.
    torch.manual_seed(6)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cell = cell(3, 5, bias=False)

        def forward(self, x):
            return self.cell(x)  # no state passed: every step from zeros

    net, x = Net(), (torch.rand(4, 2, 3) > 0.5).float()
    report = measure(net, x)
    gates = 1 if cell is nn.RNNCell else 3
    weights = gates * 5 * (3 + 5)
    extra = 0 if cell is nn.RNNCell else 5 * 3  # GRU: reset product and the two interpolation products
    assert report.total.dense_synops == 4 * (weights + extra)  # per sample, 4 steps


def test_parameters_no_counted_layer_used_are_warned_once():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.proj = nn.Parameter(torch.ones(3, 2))
            self.lif = snn.Leaky(beta=0.9, init_hidden=True)

        def forward(self, x):
            return self.lif(self.fc(x) @ self.proj)

    net, x = Functional(), torch.ones(2, 1, 4)
    with pytest.warns(UserWarning, match="Functional.*holds parameters that no counted layer used"):
        report = measure(net, x)
    assert report.unused_parameters == ("Functional",)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        measure(net, x)  # once per module
