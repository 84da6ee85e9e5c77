"""The memory-aware ``lemaire-2022`` model and the ANN-equivalent figure.

Golden counts are worked by hand on a two-layer network whose spikes are fixed
by its weights; the cross-check runs SpikingJelly 2.0.0's
``estimate_lemaire_energy`` on the same networks (IF neurons, soft reset:
snnTorch ``Leaky(beta=1, reset_mechanism="subtract")`` produces the same
spikes as SpikingJelly's ``IFNode(v_reset=None)``) at batch size 1, where our
per-sample buffer sizes and SpikingJelly's per-call ones coincide.
"""

from __future__ import annotations

import copy

import pytest
import snntorch as snn
import torch
from torch import nn

from neuroenergy.energy import LEMAIRE_2022, list_cost_tables, measure

SRAM = 2.5 / 8192  # pJ per byte per byte of buffer, below 8 KB (10 pJ per 32-bit word at 8 KB)


def fifo_pj_per_byte() -> float:
    return SRAM * 4000  # a FIFO of 1000 words


def two_layer_net() -> nn.Module:
    fc1 = nn.Linear(4, 3, bias=False)
    fc2 = nn.Linear(3, 2)
    with torch.no_grad():
        fc1.weight.fill_(1.0)
        fc2.weight.fill_(0.1)
        fc2.bias.zero_()
    return nn.Sequential(fc1, snn.Leaky(beta=1.0, init_hidden=True, reset_mechanism="subtract"),
                         fc2, snn.Leaky(beta=0.5, init_hidden=True))


def spikes_in() -> torch.Tensor:
    return torch.tensor([[[1.0, 1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0, 0.0]]])  # [T=2, B=1, 4]


def test_lemaire_is_selectable_by_name():
    assert "lemaire-2022" in list_cost_tables()
    assert {"loihi-2018", "truenorth-2014"} <= set(list_cost_tables())


def test_lemaire_golden_counts_of_a_two_layer_net():
    # fc1 all-ones weights: the hidden IF layer gets 2 then 1 and fires all 3 neurons on both
    # steps (6 spikes); fc2's 0.1 weights keep the output below threshold (0 spikes).
    report = measure(two_layer_net(), spikes_in(), costs="lemaire-2022")
    fc1, lif1, fc2, lif2 = report.layers
    assert (fc1.spike_inputs, lif1.spikes, fc2.spike_inputs, lif2.spikes) == (3, 6, 6, 0)
    # fc1: 3 input spikes x 3 outputs; 36 weight bytes from a 48-byte buffer; potentials 12 bytes
    assert (fc1.op_acs, fc1.addr_acs, fc1.read_in_bytes, fc1.read_params_bytes) == (9, 9, 12, 36)
    assert fc1.read_potential_bytes == fc1.write_potential_bytes == 36
    assert fc1.compute_pj == pytest.approx(0.9)
    assert fc1.addressing_pj == pytest.approx(0.9)
    assert fc1.memory_pj == pytest.approx(12 * fifo_pj_per_byte() + 36 * 48 * SRAM + 72 * 12 * SRAM)
    # IF neurons: one AC per spike, no leak MAC; 6 updates read + written; 6 spikes to the FIFO
    assert (lif1.op_acs, lif1.op_macs, lif1.write_out_bytes) == (6, 0, 24)
    assert lif1.compute_pj == pytest.approx(0.6)
    assert lif1.memory_pj == pytest.approx(48 * 12 * SRAM + 24 * fifo_pj_per_byte())
    # fc2: 6 spikes x 2 outputs + 4 bias additions; params buffer (6 + 2) x 4 bytes
    assert (fc2.op_acs, fc2.addr_acs, fc2.read_params_bytes) == (16, 12, 64)
    assert fc2.compute_pj == pytest.approx(1.6)
    assert fc2.memory_pj == pytest.approx(24 * fifo_pj_per_byte() + 64 * 32 * SRAM + 96 * 8 * SRAM)
    # leaky output: one MAC (3.2 pJ) per update for the decay, 4 updates
    assert (lif2.op_macs, lif2.op_acs) == (4, 0)
    assert lif2.compute_pj == pytest.approx(4 * 3.2)
    assert lif2.memory_pj == pytest.approx(32 * 8 * SRAM)
    total = report.total
    assert total.energy_pj == pytest.approx(total.compute_pj + total.addressing_pj + total.memory_pj)
    assert total.compute_pj == pytest.approx(0.9 + 0.6 + 1.6 + 12.8)


def test_compare_ann_on_a_two_layer_net():
    net, x = two_layer_net(), spikes_in()
    report = measure(net, x, compare_ann=True)
    fc1, lif1, fc2, lif2 = report.layers
    # ANN: one pass of dense MACs, 4 x 3 and 3 x 2; neurons become free ReLUs
    assert fc1.energy_pj_ann == pytest.approx(12 * 4.6)
    assert fc2.energy_pj_ann == pytest.approx(6 * 4.6)
    assert lif1.energy_pj_ann == lif2.energy_pj_ann == 0
    # SNN: 3 x 3 and 6 x 2 ACs at 0.9 pJ
    assert fc1.energy_pj == pytest.approx(9 * 0.9)
    assert report.energy_pj_ann == pytest.approx(18 * 4.6)
    assert report.ann_ratio == pytest.approx(21 * 0.9 / (18 * 4.6))
    assert fc2.ann_ratio == pytest.approx(12 * 0.9 / (6 * 4.6))
    assert measure(net, x).ann_ratio != measure(net, x).ann_ratio  # NaN unless asked for
    # memory-aware ANN: analog input, outputs written (no neurons), bias read per output
    lem = report.with_costs("lemaire-2022")
    ann_fc2 = 6 * 3.2 + 2 * 0.1 + (3 + 2) * 0.1 + (3 * 4) * 12 * SRAM + (6 * 4 + 2 * 4) * 32 * SRAM \
        + (2 * 4) * 8 * SRAM
    assert lem["2"].energy_pj_ann == pytest.approx(ann_fc2)


# --- SpikingJelly cross-check ---------------------------------------------------------------

sj = pytest.importorskip("spikingjelly.activation_based.op_counter")
from spikingjelly.activation_based import functional as sj_functional  # noqa: E402
from spikingjelly.activation_based import neuron as sj_neuron  # noqa: E402


class Stack(nn.Module):
    """``layers`` applied in order, flattening before a Linear; ``neuron`` builds each spiking layer."""

    def __init__(self, synapses: list[nn.Module], neuron) -> None:
        super().__init__()
        self.synapses = nn.ModuleList(synapses)
        self.neurons = nn.ModuleList(neuron() for _ in synapses)

    def forward(self, x):
        for synapse, neuron in zip(self.synapses, self.neurons):
            if isinstance(synapse, nn.Linear):
                x = x.flatten(1)
            x = neuron(synapse(x))
        return x


class OverTime(nn.Module):
    """SpikingJelly side: the single-step network run over ``x [T, B, ...]``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.stack([self.net(step) for step in x])


def _pair(synapses: list[nn.Module]) -> tuple[nn.Module, nn.Module]:
    with torch.no_grad():
        for layer in synapses:
            layer.weight.mul_(3.0)  # enough drive for every layer to spike
    ours = Stack(synapses, lambda: snn.Leaky(beta=1.0, threshold=1.0, reset_mechanism="subtract",
                                             init_hidden=True))
    theirs = Stack(copy.deepcopy(synapses), lambda: sj_neuron.IFNode(v_threshold=1.0, v_reset=None))
    return ours, theirs


def _networks():
    torch.manual_seed(0)
    ff = _pair([nn.Linear(64, 32), nn.Linear(32, 10)])
    ff_x = (torch.rand(8, 1, 64) < 0.3).float()
    conv = _pair([nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 8, 3, stride=2), nn.Linear(8 * 6 * 6, 10)])
    conv_x = (torch.rand(8, 1, 1, 14, 14) < 0.3).float()
    analog = _pair([nn.Conv2d(1, 4, 3), nn.Linear(4 * 12 * 12, 10)])
    analog_x = torch.rand(1, 1, 14, 14).expand(8, 1, 1, 14, 14) * 1.5  # direct coding
    return {"feed-forward": (*ff, ff_x), "conv": (*conv, conv_x), "analog-input": (*analog, analog_x)}


@pytest.mark.parametrize("name", ["feed-forward", "conv", "analog-input"])
def test_lemaire_equals_spikingjelly(name):
    ours, theirs, x = _networks()[name]
    report = measure(ours, x, costs=LEMAIRE_2022)
    sj_functional.reset_net(theirs)
    ref = sj.estimate_lemaire_energy(OverTime(theirs), x.contiguous())
    assert report.total.spikes > 0
    parts = {"compute": (report.total.compute_pj, ref.breakdown_pj["ops_pj"]),
             "addressing": (report.total.addressing_pj, ref.breakdown_pj["addressing_pj"]),
             "memory": (report.total.memory_pj, ref.breakdown_pj["memory_pj"]),
             "total": (report.total.energy_pj, ref.total_pj)}
    for part, (mine, reference) in parts.items():
        assert mine == pytest.approx(reference, rel=1e-6), part
    assert report.total.op_acs == ref.counts["ac"] and report.total.op_macs == ref.counts["mac"]


def test_backward_estimate_is_twice_the_forward_ops_of_trained_layers():
    from neuroenergy.energy import OperationCounter
    from neuroenergy.energy.modules import reset_neuron_state

    net = two_layer_net()
    net[0].weight.requires_grad_(False)  # a frozen layer has no backward weight pass counted
    with OperationCounter(net) as counter, torch.no_grad():
        reset_neuron_state(net)
        for step in spikes_in():
            net(step)
    # fc2 is the only trained synaptic layer: 6 input spikes x 2 outputs forward
    assert counter.backward_energy_pj_total == pytest.approx(2 * 12 * 4.6)
    assert counter.energy_pj_total == pytest.approx(21 * 0.9)


def test_lemaire_training_energy_counts_neurons():
    from neuroenergy.energy import OperationCounter
    from neuroenergy.energy.modules import reset_neuron_state

    net = two_layer_net()
    with OperationCounter(net, costs="lemaire-2022", synapses_only=True) as counter, torch.no_grad():
        reset_neuron_state(net)
        for step in spikes_in():
            net(step)
    assert counter.energy_pj_total == pytest.approx(measure(net, spikes_in(), costs="lemaire-2022").total.energy_pj)
