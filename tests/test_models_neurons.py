"""SequenceLeaky / leaky_membrane against snnTorch's own Leaky run step by step."""

from __future__ import annotations

import pytest
import snntorch as snn
import torch

from neuroenergy.energy import measure
from neuroenergy.models.layers import make_surrogate, register_neuron
from neuroenergy.models.neurons import SequenceLeaky, leaky_membrane


def _pair(reset: str, surrogate: str = "fast_sigmoid", beta=0.8, threshold: float = 1.0, **kw):
    args = dict(beta=beta, threshold=threshold, spike_grad=make_surrogate(surrogate, 5.0),
                reset_mechanism=reset, **kw)
    return register_neuron(SequenceLeaky(**args)), register_neuron(snn.Leaky(**args))


def _per_step(neuron: snn.Leaky, cur: torch.Tensor):
    mem = torch.zeros_like(cur[0])
    spikes, mems = [], []
    for c in cur.unbind(0):
        spk, mem = neuron(c, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "atan", "sigmoid"])
def test_sequence_leaky_is_bit_identical_to_snntorch_with_equal_gradients(reset, surrogate):
    g = torch.Generator().manual_seed(0)
    cur = (torch.rand(12, 4, 7, generator=g) * 1.6).requires_grad_()
    ours, ref = _pair(reset, surrogate)
    spk_a, mem_a = ours(cur)
    spk_b, mem_b = _per_step(ref, cur)
    assert torch.equal(mem_a, mem_b) and torch.equal(spk_a, spk_b)
    assert 0 < int(spk_a.sum()) < spk_a.numel()  # spikes and silences both occur

    weights = torch.rand(12, 4, 7, generator=g)
    (grad_a,) = torch.autograd.grad((spk_a * weights).sum() + mem_a.square().sum(), cur)
    (grad_b,) = torch.autograd.grad((spk_b * weights).sum() + mem_b.square().sum(), cur)
    torch.testing.assert_close(grad_a, grad_b, rtol=1e-5, atol=1e-6)


def test_leaky_membrane_hand_computed():
    # beta 0.5, threshold 1, subtract reset: U = 0.8, 1.4 (fires), 0.7+0.9-1 = 0.6, 0.3
    cur = torch.tensor([[0.8], [1.0], [0.9], [0.0]])
    mem = leaky_membrane(cur, 0.5, 1.0, "subtract")
    torch.testing.assert_close(mem, torch.tensor([[0.8], [1.4], [0.6], [0.3]]))
    # reset to zero: the step after a spike starts from 0 -> 0.9, then 0.45
    mem = leaky_membrane(cur, 0.5, 1.0, "zero")
    torch.testing.assert_close(mem, torch.tensor([[0.8], [1.4], [0.9], [0.45]]))
    # backward with the reset detached: dU_3/dI_0 = beta^3 (subtract), 0 across the zero reset
    cur.requires_grad_()
    (g,) = torch.autograd.grad(leaky_membrane(cur, 0.5, 1.0, "subtract")[3].sum(), cur)
    torch.testing.assert_close(g, torch.tensor([[0.125], [0.25], [0.5], [1.0]]))
    (g,) = torch.autograd.grad(leaky_membrane(cur, 0.5, 1.0, "zero")[3].sum(), cur)
    torch.testing.assert_close(g, torch.tensor([[0.0], [0.0], [0.5], [1.0]]))


def test_per_neuron_beta_and_options_outside_the_fused_path_agree():
    g = torch.Generator().manual_seed(1)
    cur = torch.rand(9, 3, 5, generator=g) * 1.5
    ours, ref = _pair("subtract", beta=torch.linspace(0.1, 0.9, 5))
    assert torch.equal(ours(cur)[1], _per_step(ref, cur)[1])
    for options in (dict(learn_beta=True), dict(learn_threshold=True), dict(reset_delay=False)):
        ours, ref = _pair("subtract", **options)
        assert not ours._fusable()
        spk_a, mem_a = ours(cur)
        spk_b, mem_b = _per_step(ref, cur)
        assert torch.equal(mem_a, mem_b) and torch.equal(spk_a, spk_b), options


def test_measure_counts_a_sequence_neuron_like_per_step_calls():
    """Spikes and membrane updates of one whole-sequence call equal NeuroBench's
    per-step rule: all neurons on step 0, then those whose potential changed."""
    # 2 neurons, 4 steps; neuron 1 gets no input after step 0 and beta 1 keeps it constant
    cur = torch.tensor([[[0.5, 0.2]], [[0.7, 0.0]], [[0.0, 0.0]], [[0.9, 0.0]]])
    neuron = register_neuron(SequenceLeaky(beta=1.0, threshold=1.0))

    class Net(torch.nn.Module):
        consumes_sequence = True
        batch_dim = 1

        def __init__(self):
            super().__init__()
            self.lif = neuron

        def forward(self, x):
            return self.lif(x)[0]

    report = measure(Net(), cur)
    # neuron 0: U = 0.5, 1.2 (spike), 0.2, 1.1 (spike); neuron 1: 0.2 at every step
    row = report["lif"]
    assert row.spikes == 2
    # step 0: 2 updates; steps 1..3: neuron 0 changes every step, neuron 1 never
    assert row.membrane_updates == 2 + 3


def test_sequence_leaky_rejects_a_single_step():
    neuron = register_neuron(SequenceLeaky(beta=0.9))
    with pytest.raises(ValueError, match=r"time-first sequence \[T, B, ...\]"):
        neuron(torch.ones(3))


def test_sequence_leaky_refuses_hidden_state_it_would_ignore():
    with pytest.raises(ValueError, match="init_hidden"):
        SequenceLeaky(beta=0.9, init_hidden=True)


@pytest.mark.parametrize("case", ["snntorch_surrogate", "graded", "membrane_only", "spikes_only"])
def test_sequence_leaky_variants_match_snntorch(case):
    """Paths besides the default: a plain snnTorch spike function (recurrence
    fused, snnTorch's fire), graded spikes, and only one output in the loss."""
    from snntorch import surrogate as sg

    g = torch.Generator().manual_seed(3)
    cur = (torch.rand(10, 3, 6, generator=g) * 1.6).requires_grad_()
    kwargs = dict(beta=0.7, reset_mechanism="subtract")
    if case == "snntorch_surrogate":
        kwargs["spike_grad"] = sg.atan(alpha=3.0)
    else:
        kwargs["spike_grad"] = make_surrogate("atan", 3.0)
    if case == "graded":
        kwargs["graded_spikes_factor"] = 0.5
    ours, ref = register_neuron(SequenceLeaky(**kwargs)), register_neuron(snn.Leaky(**kwargs))
    (spk_a, mem_a), (spk_b, mem_b) = ours(cur), _per_step(ref, cur)
    assert torch.equal(spk_a, spk_b) and torch.equal(mem_a, mem_b)

    def loss(spk, mem):
        if case == "membrane_only":
            return mem.square().sum()
        if case == "spikes_only":
            return (spk * torch.arange(6.0)).sum()
        return spk.sum() + mem.square().sum()

    (grad_a,) = torch.autograd.grad(loss(spk_a, mem_a), cur)
    (grad_b,) = torch.autograd.grad(loss(spk_b, mem_b), cur)
    torch.testing.assert_close(grad_a, grad_b, rtol=1e-5, atol=1e-6)
    assert grad_a.abs().sum() > 0


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_backward_in_one_block_equals_step_by_step(reset):
    """The GPU layout of the backward (all steps per pass) gives the CPU's
    (one step per pass) gradients."""
    from neuroenergy.models.neurons import _LeakySpikes

    g = torch.Generator().manual_seed(4)
    cur = (torch.rand(9, 3, 5, generator=g) * 1.5).requires_grad_()
    weights = torch.rand(9, 3, 5, generator=g)
    surrogate = make_surrogate("sigmoid", 4.0)
    grads = []
    for block in (1, 4, 9):
        spk, mem = _LeakySpikes.apply(cur, torch.tensor(0.8), torch.tensor(1.0), None, reset, surrogate, block)
        grads.append(torch.autograd.grad((spk * weights).sum() + mem.sum(), cur)[0])
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grads[2], grads[0], rtol=1e-6, atol=1e-7)


def test_sigmoid_surrogate_stays_finite_far_below_threshold():
    # snnTorch's sigmoid derivative is exp(-kx) / (exp(-kx) + 1)^2: inf / inf = NaN at x = -10, k = 25
    cur = torch.tensor([[-10.0], [0.5], [0.9]], requires_grad=True)
    neuron = register_neuron(SequenceLeaky(beta=0.5, spike_grad=make_surrogate("sigmoid", 25.0)))
    spk, _ = neuron(cur)
    (grad,) = torch.autograd.grad(spk.sum(), cur)
    assert torch.isfinite(grad).all() and grad[0, 0] >= 0
