"""Golden tests of measure(): tiny hand-built networks, counts computed by hand."""

from __future__ import annotations

import math

import pytest
import snntorch as snn
import torch
from torch import nn

from neuroenergy.energy import CostTable, measure


class TwoLayerLIF(nn.Module):
    """3 -> 2 -> 2 LIF MLP, beta 0.5, threshold 1, reset by subtraction, no bias."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 2, bias=False)
        self.lif1 = snn.Leaky(beta=0.5, init_hidden=True)
        self.fc2 = nn.Linear(2, 2, bias=False)
        self.lif2 = snn.Leaky(beta=0.5, init_hidden=True)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.5, 0.0, 2.0], [0.5, 0.5, 0.0]]))
            self.fc2.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 3.0]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def two_sample_spikes() -> torch.Tensor:
    """[T=2, B=2, 3]: both samples see spikes [1,1,0] then [1,0,1]."""
    sample = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    return torch.stack([sample, sample], dim=1)


def test_two_layer_lif_counts_by_hand():
    # fc1 fan-out per input: (2, 1, 1). Step 0 inputs {0,1}: 2+1; step 1 {0,2}: 2+1 -> 6 ACs.
    # lif1: currents [1.5, 1.0] -> mem [1.5, 1.0] -> spikes [1, 0];
    #       currents [3.5, 0.5] -> mem 0.5*[1.5, 1] + [3.5, 0.5] - [1, 0] = [3.25, 1.0] -> [1, 0].
    # fc2 fan-out (1, 1): one input spike per step -> 2 ACs.
    # lif2: currents [1, 0] -> mem [1, 0], no spike; then mem 0.5 + 1 = 1.5 -> spike [1, 0].
    report = measure(TwoLayerLIF(), two_sample_spikes())
    assert report.batch_size == 2 and report.time_steps == 2
    fc1, lif1, fc2, lif2 = (report[n] for n in ("fc1", "lif1", "fc2", "lif2"))
    assert (fc1.effective_acs, fc1.effective_macs, fc1.dense_synops) == (6, 0, 12)
    assert (fc2.effective_acs, fc2.effective_macs, fc2.dense_synops) == (2, 0, 8)
    assert (lif1.spikes, lif2.spikes) == (2, 1)
    # Membrane updates: all 2 neurons on step 0, then the one whose potential changed.
    assert (lif1.membrane_updates, lif2.membrane_updates) == (3, 3)
    total = report.total
    assert total.spikes == 3 and total.synops == 8 and total.dense_synops == 20
    assert total.activation_energy == 3  # binary spikes: squared sum = count
    assert report.firing_rate == pytest.approx(3 / 8)
    assert report.activation_sparsity == pytest.approx(5 / 8)
    assert lif1.firing_rate == pytest.approx(2 / 4)
    assert total.energy_pj == pytest.approx(8 * 0.9)  # 45nm-fp32 AC
    assert math.isnan(fc1.firing_rate)


def test_conv_border_pixels_by_hand():
    # 3x3 kernel of ones but for its top-left tap, padding 1 on a 3x3 image.
    # Centre pixel reaches all 9 taps (8 nonzero); the top-left corner pixel reaches
    # 4 taps, one of them the zero tap -> 3. Dense: 4 corners x 4 + 4 edges x 6 + 9 = 49.
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=True)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.weight[0, 0, 0, 0] = 0.0
        conv.bias.fill_(5.0)  # biases are not synaptic operations
    net = nn.Sequential(conv, snn.Leaky(beta=0.9, init_hidden=True))
    image = torch.zeros(1, 1, 1, 3, 3)
    image[0, 0, 0, 0, 0] = 1.0
    image[0, 0, 0, 1, 1] = 1.0
    report = measure(net, image)
    row = report["0"]
    assert (row.effective_acs, row.effective_macs, row.dense_synops) == (11, 0, 49)


def test_strided_conv_dense_counts_only_visited_taps():
    # Conv1d, kernel 3, stride 2, no padding, length 7: outputs at 0, 2, 4 -> 3 x 3 taps x 2 in x 4 out.
    conv = nn.Conv1d(2, 4, 3, stride=2)
    report = measure(nn.Sequential(conv, nn.ReLU()), torch.ones(1, 5, 2, 7))
    assert report["0"].dense_synops == 3 * 3 * 2 * 4
    assert report["0"].effective_acs == 3 * 3 * 2 * 4  # all-ones input is binary, weights nonzero


def test_analog_input_counts_macs_and_skips_zero_weights():
    # x = [0.5, 0, -2]: inputs 0 and 2 are nonzero; their nonzero fan-outs are 1 and 2 -> 3 MACs.
    layer = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]))
    net = nn.Sequential(layer, nn.ReLU())
    report = measure(net, torch.tensor([[[0.5, 0.0, -2.0]]]))
    assert (report["0"].effective_macs, report["0"].effective_acs, report["0"].dense_synops) == (3, 0, 6)
    # Outputs [0.5 - 4, 2] -> ReLU [0, 2]: one of two active, activation energy 4.
    assert report["1"].nonzero_outputs == 1 and report["1"].activation_energy == 4
    assert report.activation_sparsity == pytest.approx(0.5)
    assert report.total.energy_pj == pytest.approx(3 * 4.6)
    assert report.total.spikes == 0  # ReLU outputs are not spikes


def test_all_zero_weights_give_no_effective_operations():
    layer = nn.Linear(4, 3)
    nn.init.zeros_(layer.weight)
    report = measure(nn.Sequential(layer, snn.Leaky(beta=0.9, init_hidden=True)), torch.ones(2, 1, 4))
    assert report["0"].synops == 0 and report["0"].dense_synops == 2 * 4 * 3


def test_cost_tables_price_the_same_counts():
    net, batch = TwoLayerLIF(), two_sample_spikes()
    assert measure(net, batch, costs="45nm-fp16").total.energy_pj == pytest.approx(8 * 0.4)
    assert measure(net, batch, costs="45nm-int8").total.energy_pj == pytest.approx(8 * 0.03)
    table = CostTable("my-chip", e_mac_pj=2.0, e_ac_pj=0.5, e_neuron_update_pj=0.1)
    report = measure(net, batch, costs=table)
    assert report.total.energy_pj == pytest.approx(8 * 0.5 + 6 * 0.1)
    assert report.costs is table
    assert report.with_costs(CostTable("x", 1.0, 1.0)).total.energy_pj == pytest.approx(8)
    # per-event chip tables: 8 synaptic events and 6 membrane updates (active ones) per sample
    assert measure(net, batch, costs="loihi-2018").total.energy_pj == pytest.approx(8 * 23.6 + 6 * 81.0)
    assert measure(net, batch, costs="truenorth-2014").total.energy_pj == pytest.approx(8 * 26.0)


def test_recurrent_rleaky_counts_its_recurrent_weights():
    # RLeaky (all-to-all) feeds its spikes back through an nn.Linear: counted as a synapse.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), snn.RLeaky(beta=0.9, linear_features=3, init_hidden=True))
    report = measure(net, torch.ones(3, 2, 4) * 2.0)
    names = [r.name for r in report.layers]
    assert "1.recurrent" in names
    recurrent = report["1.recurrent"]
    assert recurrent.dense_synops == 3 * 3 * 3  # 3 steps x 3 x 3
    assert recurrent.effective_macs == 0  # spikes are binary


def test_synaptic_matmul_counts_nonzero_pairs():
    # a [2x2] spikes, b [2x3]: k=0 pairs 2 rows x 2 nonzero columns = 4, k=1: 1 x 1 = 1 -> 5 ACs.
    from neuroenergy.energy import SynapticMatmul

    class Attention(nn.Module):
        consumes_sequence = True
        batch_dim = 0

        def __init__(self) -> None:
            super().__init__()
            self.product = SynapticMatmul()
            self.lif = snn.Leaky(beta=0.5)

        def forward(self, pair):
            a, b = pair[:, :, :2], pair[:, :, 2:]
            return self.lif(self.product(a, b[:, :2, :3]))[0]

    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]])
    pair = torch.cat([a, b], dim=1)[None]  # [1, 2, 5]
    report = measure(Attention(), pair)
    row = report["product"]
    assert (row.effective_acs, row.effective_macs, row.dense_synops) == (5, 0, 12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_signed_and_low_precision_spikes_are_counted_exactly(dtype):
    # Inputs in {-1, 0, 1}: both signs are spikes; fan-outs (2, 1, 1) as in the MLP above.
    layer = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.5, 0.0, 2.0], [0.5, 0.5, 0.0]]))
    layer = layer.to(dtype)
    x = torch.tensor([[[1.0, -1.0, 0.0]], [[-1.0, 0.0, 1.0]]], dtype=dtype)  # [T=2, B=1, 3]
    report = measure(nn.Sequential(layer), x)
    assert (report["0"].effective_acs, report["0"].effective_macs) == (6, 0)


def test_count_nonzero_and_is_binary_on_every_path():
    from neuroenergy.energy.counting import count_nonzero, is_binary

    x = torch.tensor([0.0, -0.0, 2.5, -1.0, 1e-40, 0.0])
    assert count_nonzero(x) == 3  # 2.5, -1 and the subnormal; -0.0 is zero
    assert count_nonzero(torch.tensor([float("nan"), 0.0, 1.0])) == 2  # NaN is nonzero, as in torch
    assert count_nonzero(torch.tensor([float("inf"), -float("inf"), 0.0])) == 2
    assert count_nonzero(torch.ones(3000, dtype=torch.float16)) == 3000  # summed in float32, exact
    assert count_nonzero(torch.tensor([0, 3, 0, -2])) == 2  # integer tensors take torch's path
    # above 2**20 elements the check runs in pieces: a single bad value in the last piece is found
    big = torch.zeros(1100, 1000)
    big[::7] = 1.0
    assert is_binary(big)
    big[-1, -1] = 0.5
    assert not is_binary(big)
    assert not is_binary(torch.tensor([0.0, 1.0, float("nan")]))
