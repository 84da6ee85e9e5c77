"""neuroenergy.models architectures on synthetic inputs of every kind: the
model convention, gradients, purity, matched sizes, and the two energy-first
designs' equations."""

from __future__ import annotations

import copy
import io

import pytest
import torch
import torch.nn.functional as F

from neuroenergy.energy import measure
from neuroenergy.energy.terms import record
from neuroenergy.models import build, list_architectures
from neuroenergy.models.bimodal import BimodalState, bimodal_step
from neuroenergy.vocabulary import InputSpec

# every registered architecture (the registry's content is checked in test_models_registry.py)
ARCHS = list_architectures()
# shapes as neuroenergy.data yields them (mnist, nmnist, mitbih, fsdd, sst2)
SPECS = {
    "image": InputSpec("image", (1, 28, 28)),
    "events": InputSpec("events", (10, 2, 34, 34)),
    "signal": InputSpec("signal", (1, 256)),
    "audio": InputSpec("audio", (40, 64)),
    "tokens": InputSpec("tokens", (48,), vocab_size=14818),
}
B = 3


def sample(spec: InputSpec, b: int = B, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if spec.kind == "tokens":
        x = torch.randint(1, spec.vocab_size, (b, *spec.shape), generator=g)
        x[:, -5:] = 0  # padding
        return x
    if spec.kind == "events":
        return (torch.rand(b, *spec.shape, generator=g) < 0.05).float() * 2
    if spec.kind == "signal":
        return torch.randn(b, *spec.shape, generator=g).cumsum(-1) / 8
    return torch.rand(b, *spec.shape, generator=g)


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("arch", ARCHS)
def test_forward_backward_every_kind(arch, kind):
    spec = SPECS[kind]
    torch.manual_seed(0)
    model = build(arch, spec, 5, num_steps=3, target_params=20_000)
    x = sample(spec)
    out = model(x)
    assert out.shape == (3, B, 5) and torch.isfinite(out).all()
    F.cross_entropy(out.mean(0), torch.arange(B) % 5).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("kind", list(SPECS))
def test_parameter_counts_are_matched(kind):
    counts = {a: build(a, SPECS[kind], 10).num_parameters() for a in ARCHS}
    assert max(counts.values()) / min(counts.values()) <= 1.5, counts


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_is_pure_and_samples_independent(arch):
    """No state survives a forward; a sample's output does not depend on its batch."""
    spec = SPECS["image"]
    model = build(arch, spec, 4, num_steps=4, target_params=10_000, encoder="direct")
    x = sample(spec, 4)
    a = model(x)
    b = model(x)
    assert torch.equal(a, b)
    alone = model(x[1:2])
    torch.testing.assert_close(alone[:, 0], a[:, 1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_copy_and_reload_after_forward(arch):
    spec = SPECS["signal"]
    model = build(arch, spec, 4, num_steps=2, target_params=5_000)
    model(sample(spec)).sum().backward()
    clone = copy.deepcopy(model)  # snnTorch's cached state is released after a forward
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = build(arch, spec, 4, num_steps=2, target_params=5_000)
    fresh.load_state_dict(torch.load(buf))
    x = sample(spec, seed=3)
    torch.manual_seed(0)
    o1 = clone(x)
    torch.manual_seed(0)
    o2 = fresh(x)
    torch.testing.assert_close(o1, o2)


def test_events_use_the_dataset_bins():
    spec = SPECS["events"]
    assert build("mlp", spec, 10).num_steps == 10  # num_steps 25 > 10 bins
    model = build("mlp", spec, 10, num_steps=4)
    assert model.num_steps == 4 and model(sample(spec)).shape == (4, B, 10)


def test_measure_sees_accumulates_for_spike_inputs_and_macs_for_direct():
    spec = SPECS["image"]
    x = sample(spec)
    rate = measure(build("mlp", spec, 10, num_steps=3, hidden=[16]), (x, torch.zeros(B, dtype=torch.long)))
    direct = measure(build("mlp", spec, 10, num_steps=3, hidden=[16], encoder="direct"),
                     (x, torch.zeros(B, dtype=torch.long)))
    first = [r for r in rate.layers if r.name == "fcs.0"][0]
    assert first.effective_acs > 0 and first.effective_macs == 0
    first = [r for r in direct.layers if r.name == "fcs.0"][0]
    assert first.effective_macs > 0 and first.effective_acs == 0
    # per step, per sample: the dense count is T x 784 x 16
    assert first.dense_synops == 3 * 784 * 16


# --------------------------------------------------------------------------- bimodal


def test_bimodal_with_closed_gate_is_a_plain_lif_network():
    """glia_out = 0 -> gain a_t = 2 sigmoid(0) = 1 -> the same network as an mlp."""
    spec = SPECS["image"]
    torch.manual_seed(0)
    bim = build("bimodal", spec, 10, hidden=32, num_steps=5, encoder="direct")
    mlp = build("mlp", spec, 10, hidden=[32], num_steps=5, encoder="direct")
    with torch.no_grad():
        bim.glia_out.weight.zero_()
        bim.glia_out.bias.zero_()
        mlp.fcs[0].load_state_dict(bim.fc_in.state_dict())
        mlp.readout.load_state_dict(bim.readout.state_dict())
    x = sample(spec)
    torch.testing.assert_close(bim(x), mlp(x))


def test_bimodal_glia_integrate_slowly_and_gate_the_gain():
    torch.manual_seed(0)
    lin_in, lin_out = torch.nn.Linear(4, 2), torch.nn.Linear(2, 4)
    from neuroenergy.models.layers import make_leaky

    lif = make_leaky(beta=0.9, threshold=1.0, surrogate="fast_sigmoid", slope=25.0, reset="subtract",
                     sequence=False)
    spk_prev = torch.tensor([[1.0, 0.0, 1.0, 1.0]])
    state = BimodalState(torch.zeros(1, 4), spk_prev, torch.zeros(1, 2))
    drive = torch.full((1, 4), 0.5)
    spk, new, gain = bimodal_step(drive, state, neuron=lif, glia_in=lin_in, glia_out=lin_out, glia_beta=0.95)
    g = 0.05 * lin_in(spk_prev)
    torch.testing.assert_close(new.glia, g)
    torch.testing.assert_close(gain, 2 * torch.sigmoid(lin_out(g)))
    torch.testing.assert_close(new.mem, gain * drive)  # U_1 = beta * 0 + a * I


# --------------------------------------------------------------------------- lagrangian


def test_lagrangian_without_forces_is_a_plain_lif_network():
    spec = SPECS["image"]
    torch.manual_seed(0)
    lag = build("lagrangian", spec, 10, hidden=32, num_steps=5, encoder="direct")
    mlp = build("mlp", spec, 10, hidden=[32], num_steps=5, encoder="direct")
    with torch.no_grad():
        lag.force.weight.zero_()
        lag.mu.fill_(-1e4)  # softplus(mu) = 0: no constraint force
        mlp.fcs[0].load_state_dict(lag.fc_in.state_dict())
        mlp.readout.load_state_dict(lag.readout.state_dict())
    x = sample(spec)
    torch.testing.assert_close(lag(x), mlp(x))


def test_lagrangian_kinetic_and_constraint_terms_are_energy():
    """T_t = 1/2 ||k_t||^2 and C_t = ||c_t||^2 enter E(theta, x) through the taps,
    both in measure() and in the differentiable loss term."""
    spec = SPECS["image"]
    torch.manual_seed(0)
    model = build("lagrangian", spec, 10, hidden=64, num_steps=6, encoder="direct", rate_budget=0.0)
    x = sample(spec)
    seen = {"k": [], "c": []}
    h1 = model.tap_kinetic.register_forward_hook(lambda m, a, out: seen["k"].append(out.detach()))
    h2 = model.tap_constraint.register_forward_hook(lambda m, a, out: seen["c"].append(out.detach()))
    report = measure(model, (x, torch.zeros(B, dtype=torch.long)))
    h1.remove()
    h2.remove()
    kinetic = 0.5 * sum(k.square().sum() for k in seen["k"]).item() / B
    constraint = sum(c.square().sum() for c in seen["c"]).item() / B
    assert kinetic > 0 and constraint > 0
    rows = {r.name: r for r in report.layers}
    assert rows["tap_kinetic"].activation_energy == pytest.approx(kinetic, rel=1e-5)
    assert rows["tap_constraint"].activation_energy == pytest.approx(constraint, rel=1e-5)
    spikes = sum(r.activation_energy for n, r in rows.items() if n in ("lif", "out_lif"))
    assert report.total.activation_energy == pytest.approx(spikes + kinetic + constraint, rel=1e-5)
    with record(model, "activation") as energy:
        model(x)
    assert energy.value.item() == pytest.approx(report.total.activation_energy, rel=1e-4)
    energy.value.backward()
    assert model.mass.weight.grad.abs().sum() > 0  # the action's T term trains the mass matrix


def test_first_step_of_an_expansion_is_the_expanded_tensor():
    from neuroenergy.models.layers import first_step

    once = torch.rand(3, 4, requires_grad=True)
    x = once.unsqueeze(0).expand(5, 3, 4)
    assert first_step(x) is once
    other = torch.rand(5, 3, 4)
    assert torch.equal(first_step(other), other[0])
    # the gradient through it is that of x[0]
    (grad,) = torch.autograd.grad((first_step(x) * torch.arange(4.0)).sum(), once)
    torch.testing.assert_close(grad, torch.arange(4.0).expand(3, 4))


def test_blockwise_keeps_channels_last_layout_and_values(monkeypatch):
    """Blocks of steps are split and joined in the input's memory layout, in the
    forward and in the backward, with the same values and gradients as one call."""
    import neuroenergy.models.layers as layers

    pool = torch.nn.MaxPool2d(2)
    # a [T, B, C, H, W] sequence stored channels-last, as the neurons leave it
    base = torch.rand(6, 4, 3, 8, 5).permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    leaf = base.clone().requires_grad_()
    x = leaf * 1.0  # not a leaf: a leaf's .grad is re-strided to match it anyway
    seen = []
    x.register_hook(lambda g: seen.append(g.stride()))
    monkeypatch.setattr(layers, "CPU_BLOCK_ELEMENTS", 4 * 3 * 8 * 5 * 2)  # two steps per block
    blocks = layers._split_steps(x, 2)
    assert [b.shape[0] for b in blocks] == [2, 2, 2]
    assert all(b.stride() == x.stride() for b in blocks)
    y = layers.blockwise(lambda z: layers.time_apply(pool, z), x, 3 * 8 * 5)
    assert y.stride(2) == 1  # channels innermost, like the input
    weights = torch.rand(y.shape)
    (y * weights).sum().backward()
    assert seen == [x.stride()]  # the gradient reaching the sequence kept its layout

    ref_x = base.contiguous().requires_grad_()
    ref = layers.time_apply(pool, ref_x)
    (ref * weights).sum().backward()
    assert torch.equal(y, ref)
    assert torch.equal(leaf.grad, ref_x.grad)


def test_single_channel_image_runs_channels_last_on_cpu():
    """A grey image's conv input is viewed with channels-last strides, so the
    conv's output (and the pooling after it) is channels-last too; same values."""
    from neuroenergy.models.layers import TimeConv2d

    conv = TimeConv2d(1, 4, 3)
    x = torch.rand(2, 3, 1, 9, 9)
    y = conv(x)
    assert y.shape == (2, 3, 4, 7, 7)
    assert y[0].is_contiguous(memory_format=torch.channels_last) and y.stride(2) == 1
    ref = F.conv2d(x.flatten(0, 1), conv.weight, conv.bias).reshape(2, 3, 4, 7, 7)
    torch.testing.assert_close(y, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["image", "tokens"])
@pytest.mark.parametrize("arch", ARCHS)
def test_measure_reaches_every_parameter_of_every_architecture(arch, kind):
    """No built-in architecture hides synaptic operations from measure(): every
    parameter reaches a counted layer, or is declared element-wise (lagrangian's
    mu, the transformer's positional embedding)."""
    import warnings

    from neuroenergy.energy.measure import UnusedParameterWarning

    spec = SPECS[kind]
    model = build(arch, spec, 5, num_steps=3, target_params=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnusedParameterWarning)
        report = measure(model, (sample(spec), torch.zeros(B, dtype=torch.long)))
    assert report.unused_parameters == ()
    assert {"lagrangian": ("mu",), "transformer": ("pos",)}.get(arch, ()) == \
        getattr(type(model), "elementwise_parameters", ())


@pytest.mark.parametrize("dim", [96, 8])  # 4 tokens over head widths 24 (scores first) and 2 (K^T V first)
def test_attention_products_in_either_order_are_equal(dim):
    """A block computes whichever of (Q K^T) V and Q (K^T V) is cheaper; for spikes
    both are exact integer sums, so the block's output equals the other order's."""
    from neuroenergy.models.layers import run_leaky

    torch.manual_seed(0)
    model = build("transformer", SPECS["image"], 5, num_steps=3, dim=dim, heads=4)
    block = model.blocks[0]
    u = torch.randn(3, B, model.num_tokens, dim)
    with torch.no_grad():
        out = block(u)
        s, _ = run_leaky(block.lif_in, u)
        q, k, v = (block._heads(run_leaky(lif, norm(lin(s)))[0]) for lif, norm, lin in (
            (block.lif_q, block.norm_q, block.q), (block.lif_k, block.norm_k, block.k),
            (block.lif_v, block.norm_v, block.v)))
        scores_first = (q @ k.transpose(-2, -1)) @ v
        kv_first = q @ (k.transpose(-2, -1) @ v)
        assert torch.equal(scores_first, kv_first)
        a, _ = run_leaky(block.lif_attn, block.norm_attn((kv_first * block.scale).transpose(2, 3).flatten(3)))
        ref = u + block.norm_proj(block.proj(a))
        s, _ = run_leaky(block.lif_mid, ref)
        h, _ = run_leaky(block.lif_hidden, block.norm_fc1(block.fc1(s)))
        ref = ref + block.norm_fc2(block.fc2(h))
    assert torch.equal(out, ref)
    # measure counts both products, as accumulates (their left operands are spikes)
    report = measure(model, (sample(SPECS["image"]), torch.zeros(B, dtype=torch.long)))
    products = [row for row in report.layers if "matmul" in row.name]
    assert len(products) == 2 and all(row.effective_macs == 0 and row.dense_synops > 0 for row in products)
