"""neuroenergy.models encoders: what the first layer sees, per input kind."""

from __future__ import annotations

import pytest
import torch

from neuroenergy.errors import InvalidInputError
from neuroenergy.models import build
from neuroenergy.models.config import ENCODERS_BY_KIND, ModelConfig
from neuroenergy.models.encoders import (
    Encoder,
    delta_encode,
    direct_encode,
    events_encode,
    latency_encode,
    minmax_unit,
    rate_encode,
)
from neuroenergy.models.layers import TimeLinear
from neuroenergy.vocabulary import InputSpec

IMAGE = InputSpec("image", (1, 6, 6))
SIGNAL = InputSpec("signal", (2, 40))
AUDIO = InputSpec("audio", (5, 12))
EVENTS = InputSpec("events", (10, 2, 4, 4))
TOKENS = InputSpec("tokens", (7,), vocab_size=20)


def encoder(spec: InputSpec, name: str, **cfg) -> Encoder:
    config = ModelConfig(**cfg).with_values({"encoder": {spec.kind: name}})
    return Encoder(spec, config)


def test_rate_is_binary_with_the_right_rate():
    torch.manual_seed(0)
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    s = rate_encode(x, 4000)
    assert s.shape == (4000, 1, 4) and set(s.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(s.mean(0), x, atol=0.03, rtol=0)
    assert s[:, 0, 0].sum() == 0 and s[:, 0, 3].sum() == 4000


def test_rate_code_every_16_bit_part_of_a_draw_is_uniform():
    # [T, 1, 4] flattened: feature j always takes the j-th 16-bit part of a 64-bit draw
    torch.manual_seed(1)
    s = rate_encode(torch.full((1, 4), 0.5), 20000)
    torch.testing.assert_close(s.mean(0), torch.full((1, 4), 0.5), atol=0.015, rtol=0)
    # the probability is ceil(p * 2**15) / 2**15: a p just above 0 still spikes, rarely
    tiny = rate_encode(torch.full((1, 1000), 1e-6), 2000)  # 2e6 draws, expected 61 spikes
    assert 20 < tiny.sum() < 120


def test_latency_one_spike_brighter_first():
    x = torch.tensor([[0.0, 0.3, 0.6, 1.0]])
    s = latency_encode(x, 10, threshold=0.01)
    assert s.shape == (10, 1, 4)
    assert s[:, 0, 0].sum() == 0  # below threshold: never fires
    assert s[:, 0, 1:].sum(0).tolist() == [1.0, 1.0, 1.0]
    first = s[:, 0, 1:].argmax(0)
    assert first[2] == 0 and first[0] > first[1] > first[2]
    assert latency_encode(x, 1).shape == (1, 1, 4)


def test_delta_on_off_channels_each_event_once():
    length, steps = 40, 8
    x = torch.zeros(1, 1, length)
    x[0, 0, 10:20] = 1.0  # one rise at 10, one fall at 20
    s = delta_encode(x, steps, threshold=0.1)
    assert s.shape == (steps, 1, 2, length)
    on, off = s[:, 0, 0], s[:, 0, 1]
    assert on.sum() == 1 and off.sum() == 1
    assert on.sum(0).nonzero().item() == 10 and off.sum(0).nonzero().item() == 20
    # position l appears at step floor(l * T / L)
    assert on[:, 10].nonzero().item() == 10 * steps // length
    assert off[:, 20].nonzero().item() == 20 * steps // length
    # each position belongs to exactly one step
    full = delta_encode(torch.randn(3, 2, length).cumsum(-1), steps, threshold=0.0)
    assert ((full.sum(0) <= 1) & (full >= 0).all(0)).all()
    assert delta_encode(torch.ones(2, 1, length), steps).sum() == 0  # constant: no events


def test_delta_threshold_is_in_standard_deviations():
    x = torch.linspace(0, 1, 40).reshape(1, 1, 40)
    a = delta_encode(x, 4, threshold=0.1)
    b = delta_encode(1000 * x, 4, threshold=0.1)
    assert torch.equal(a, b)


def test_direct_is_a_stride0_view():
    x = torch.rand(3, 1, 6, 6)
    s = direct_encode(x, 5)
    assert s.shape == (5, 3, 1, 6, 6) and s.stride(0) == 0
    assert all(torch.equal(s[t], x) for t in range(5))


def test_events_rebinning_and_binarising():
    x = torch.zeros(2, 10, 2, 4, 4)
    x[0, 3, 1, 2, 2] = 3.0
    x[1, 9, 0, 0, 0] = 1.0
    s = events_encode(x, 25, binarize=True)  # T = min(25, 10)
    assert s.shape == (10, 2, 2, 4, 4) and s[3, 0, 1, 2, 2] == 1.0 and s.sum() == 2
    g = events_encode(x, 4, binarize=False)  # 10 bins -> 4 groups of 3, 3, 2, 2
    assert g.shape == (4, 2, 2, 4, 4)
    assert g[1, 0, 1, 2, 2] == 3.0 and g[3, 1, 0, 0, 0] == 1.0 and g.sum() == 4.0


def test_encoder_module_shapes_per_kind():
    b, t = 3, 5
    cases = [
        (IMAGE, "rate", torch.rand(b, 1, 6, 6), (1, 6, 6)),
        (IMAGE, "latency", torch.rand(b, 1, 6, 6), (1, 6, 6)),
        (IMAGE, "direct", torch.rand(b, 1, 6, 6), (1, 6, 6)),
        (SIGNAL, "delta", torch.randn(b, 2, 40), (4, 40)),
        (SIGNAL, "rate", torch.randn(b, 2, 40), (2, 40)),
        (SIGNAL, "latency", torch.randn(b, 2, 40), (2, 40)),
        (SIGNAL, "direct", torch.randn(b, 2, 40), (2, 40)),
        (AUDIO, "rate", torch.rand(b, 5, 12), (5, 12)),
        (AUDIO, "delta", torch.rand(b, 5, 12), (10, 12)),
        (TOKENS, "direct", torch.randint(0, 20, (b, 7)), (32, 7)),
        (TOKENS, "rate", torch.randint(0, 20, (b, 7)), (32, 7)),
    ]
    for spec, name, x, out_shape in cases:
        enc = encoder(spec, name, num_steps=t)
        assert enc.out_shape == out_shape
        y = enc(x)
        assert y.shape == (t, b, *out_shape), (spec.kind, name)
        if name in ("rate", "latency", "delta"):
            assert set(y.unique().tolist()) <= {0.0, 1.0}, (spec.kind, name)
    enc = encoder(EVENTS, "events", num_steps=25)
    assert enc.num_steps == 10 and enc(torch.ones(b, 10, 2, 4, 4)).shape == (10, b, 2, 4, 4)
    assert encoder(EVENTS, "events", num_steps=3).num_steps == 3


def test_signal_rate_scales_each_sample_to_unit_range():
    x = torch.tensor([[[-5.0, 0.0, 5.0]], [[100.0, 100.0, 100.0]]])
    u = minmax_unit(x)
    assert torch.equal(u[0, 0], torch.tensor([0.0, 0.5, 1.0])) and u[1].abs().sum() == 0


def test_tokens_padding_and_gradients():
    enc = encoder(TOKENS, "direct", num_steps=2)
    x = torch.tensor([[3, 4, 0, 0, 0, 0, 0]])
    y = enc(x)
    assert y[:, 0, :, 2:].abs().sum() == 0  # padding id 0 -> zero vector
    y.sum().backward()
    assert enc.embedding.weight.grad is not None
    rate = encoder(TOKENS, "rate", num_steps=3)
    s = rate(x)
    assert set(s.detach().unique().tolist()) <= {0.0, 1.0}
    s.sum().backward()  # straight-through: the embedding still learns
    assert rate.embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "spec, name, x, pattern",
    [
        (IMAGE, "rate", torch.rand(2, 1, 6, 5), "shaped"),
        (IMAGE, "rate", torch.rand(1, 6, 6), "shaped"),
        (IMAGE, "rate", 2 * torch.ones(2, 1, 6, 6), r"in \[0, 1\]"),
        (IMAGE, "direct", torch.full((2, 1, 6, 6), float("nan")), "NaN"),
        (IMAGE, "direct", torch.ones(2, 1, 6, 6, dtype=torch.int64), "floating point"),
        (TOKENS, "direct", torch.rand(2, 7), "integer ids"),
        (TOKENS, "direct", torch.full((2, 7), 20), r"\[0, 19\]"),
        (TOKENS, "direct", torch.full((2, 7), -1), r"\[0, 19\]"),
        (EVENTS, "events", -torch.ones(2, 10, 2, 4, 4), ">= 0"),
        (SIGNAL, "delta", [[0.0] * 40] * 2, "torch.Tensor"),
    ],
)
def test_bad_inputs(spec, name, x, pattern):
    with pytest.raises(InvalidInputError, match=pattern):
        encoder(spec, name, num_steps=2)(x)


def test_huge_finite_inputs_are_not_mistaken_for_infinite():
    # their sum overflows to inf; the per-value check then clears them
    x = torch.full((2, 1, 6, 6), 3e38)
    x[0, 0, 0, 0] = float("inf")
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        encoder(IMAGE, "direct", num_steps=2)(x)
    x[0, 0, 0, 0] = 3e38
    assert encoder(IMAGE, "direct", num_steps=2)(x).shape == (2, 2, 1, 6, 6)


def test_every_kind_has_its_encoders():
    for kind, names in ENCODERS_BY_KIND.items():
        for name in names:
            assert build("mlp", {"image": IMAGE, "signal": SIGNAL, "audio": AUDIO, "events": EVENTS,
                                 "tokens": TOKENS}[kind], 3, encoder=name, hidden=[4]).encoder.name == name


def test_time_linear_computes_constant_input_once_but_hooks_see_all_steps():
    layer = TimeLinear(6, 4)
    x = torch.rand(3, 6)
    seen = []
    layer.register_forward_hook(lambda m, args, out: seen.append((args[0].shape, out.shape)))
    fast = layer(direct_encode(x, 5))
    batched = layer(direct_encode(x, 5).contiguous())
    assert seen == [((5, 3, 6), (5, 3, 4))] * 2
    per_step = torch.stack([layer(x) for _ in range(5)])  # as a per-step loop computes it
    assert torch.equal(fast, per_step)
    torch.testing.assert_close(fast, batched)
