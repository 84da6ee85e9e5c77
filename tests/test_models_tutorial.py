"""Our ``mlp`` and ``cnn`` equal the snnTorch tutorial networks (per-step loop)
with the same weights: same output membrane, same gradients."""

from __future__ import annotations

import pytest
import torch

from neuroenergy.models import build
from neuroenergy.models.reference import TutorialCNN, TutorialMLP, copy_cnn_weights, copy_mlp_weights
from neuroenergy.vocabulary import InputSpec
from neuroenergy.models.encoders import rate_encode

MNIST = InputSpec("image", (1, 28, 28))
T, B = 8, 6
TUTORIAL_SURROGATE = {"surrogate": "fast_sigmoid", "slope": 25.0}  # as in the tutorials


def _images(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, 1, 28, 28, generator=g)


def _check(ours, ref, x, ref_input, params):
    out = ours(x)
    expected = ref(ref_input)
    assert out.shape == expected.shape == (T, B, 10)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    out.mean(0).square().sum().backward()
    expected.mean(0).square().sum().backward()
    for mine, theirs in params:
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_mlp_equals_tutorial_network(encoding):
    torch.manual_seed(1)
    ours = build("mlp", MNIST, 10, hidden=[100], beta=0.95, num_steps=T, encoder=encoding,
                 **TUTORIAL_SURROGATE)
    ref = TutorialMLP(784, 100, 10, beta=0.95)
    copy_mlp_weights(ours, ref)
    x = _images()
    torch.manual_seed(7)
    if encoding == "direct":
        ref_in = x.flatten(1).repeat(T, 1, 1)
    else:
        ref_in = rate_encode(x, T).flatten(2)
    torch.manual_seed(7)  # our rate encoder draws the same spikes
    _check(ours, ref, x, ref_in,
           [(ours.fcs[0].weight, ref.fc1.weight), (ours.readout.weight, ref.fc2.weight),
            (ours.fcs[0].bias, ref.fc1.bias)])


@pytest.mark.parametrize("encoding", ["direct", "rate"])
def test_cnn_equals_tutorial_network(encoding):
    torch.manual_seed(2)
    ours = build("cnn", MNIST, 10, channels=[12, 64], kernel_size=5, padding="valid",
                 stride={"image": 1}, pool={"image": 2},  # the tutorial's stride-1 + pool-2 blocks
                 beta=0.5,
                 num_steps=T, encoder=encoding, **TUTORIAL_SURROGATE)
    ref = TutorialCNN(10, beta=0.5)
    copy_cnn_weights(ours, ref)
    x = _images(1)
    torch.manual_seed(7)
    ref_in = x.repeat(T, 1, 1, 1, 1) if encoding == "direct" else rate_encode(x, T)
    torch.manual_seed(7)
    _check(ours, ref, x, ref_in,
           [(ours.convs[0].weight, ref.conv1.weight), (ours.convs[1].weight, ref.conv2.weight),
            (ours.readout.weight, ref.fc1.weight)])


def test_tutorial_networks_spike():
    """The comparison is not vacuous: hidden layers do fire."""
    torch.manual_seed(1)
    ours = build("mlp", MNIST, 10, hidden=[100], beta=0.95, num_steps=T, encoder="direct")
    spikes = []
    ours.lifs[0].register_forward_hook(lambda m, a, out: spikes.append(out[0].sum().item()))
    ours(_images())
    assert sum(spikes) > 0


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_measure_counts_equal_the_per_step_tutorial_network(arch):
    """Whole-sequence neurons (one call per layer) are counted exactly as the
    tutorial's per-step snn.Leaky calls: spikes, membrane updates, synops."""
    from neuroenergy.energy import measure

    torch.manual_seed(3)
    if arch == "mlp":
        ours = build("mlp", MNIST, 10, hidden=[100], beta=0.95, num_steps=T, encoder="rate", **TUTORIAL_SURROGATE)
        ref = TutorialMLP(784, 100, 10, beta=0.95)
        copy_mlp_weights(ours, ref)
    else:
        ours = build("cnn", MNIST, 10, channels=[12, 64], kernel_size=5, padding="valid",
                 stride={"image": 1}, pool={"image": 2},  # the tutorial's stride-1 + pool-2 blocks
                 beta=0.5,
                     num_steps=T, encoder="rate", **TUTORIAL_SURROGATE)
        ref = TutorialCNN(10, beta=0.5)
        copy_cnn_weights(ours, ref)
    x = _images(2)
    torch.manual_seed(9)
    spikes = ours.encoder(x)

    class Network(torch.nn.Module):  # our model on fixed spikes, counted as one sequence call
        consumes_sequence, batch_dim = True, 1

        def __init__(self):
            super().__init__()
            self.model = ours

        def forward(self, s):
            return self.model.network(s)

    mine = measure(Network(), spikes)
    # the tutorial network loops over steps itself, calling snn.Leaky once per step
    theirs = measure(ref, spikes.flatten(2) if arch == "mlp" else spikes, per_step=False, batch_dim=1)
    total_a, total_b = mine.total, theirs.total
    assert total_a.spikes == total_b.spikes
    first_neurons = next(r for r in mine.layers if r.kind == "neuron")
    assert first_neurons.spikes > 0  # the first hidden layer fires: the comparison is not vacuous
    assert total_a.membrane_updates == total_b.membrane_updates
    assert total_a.effective_acs == total_b.effective_acs > 0
    assert total_a.dense_synops == total_b.dense_synops
