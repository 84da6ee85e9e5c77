"""fit(): real-data accuracy, the energy term's effect, curves, determinism, divergence."""

from __future__ import annotations

import math

import pytest
import torch

from neuroenergy import data, models
from neuroenergy.energy import measure
from neuroenergy.errors import InvalidInputError
from neuroenergy.train import evaluate, fit, resolve_device

# The lambda > 0 that the energy test uses: 1e-2 is the strongest level of the paper's sweep.
LAMBDA = 1e-2
SETTINGS = dict(epochs=2, batch_size=64, lr=2e-3, seed=0, device="cpu", eval_size=300, num_evals=10)


@pytest.fixture(scope="module")
def mnist_subset():
    return data.load("mnist", "train", limit=5000), data.load("mnist", "test", limit=1000)


def build_mlp(num_steps: int = 8, seed: int = 0):
    info = data.info("mnist")
    torch.manual_seed(seed)
    return models.build("mlp", info.input_spec, info.num_classes, num_steps=num_steps)


@pytest.fixture(scope="module")
def sweep_pair(mnist_subset):
    train, test = mnist_subset
    return {lam: fit(build_mlp(), train, test, lam=lam, **SETTINGS) for lam in (0.0, LAMBDA)}


@pytest.mark.slow
def test_mlp_reaches_90_percent_on_an_mnist_subset(sweep_pair):
    result = sweep_pair[0.0]
    assert result.status == "ok"
    assert result.test_accuracy >= 0.90
    assert result.test_report is not None and result.test_report.batch_size == 1000


@pytest.mark.slow
def test_energy_term_lowers_activation_energy_at_little_accuracy_cost(sweep_pair):
    base, lowered = sweep_pair[0.0], sweep_pair[LAMBDA]
    assert lowered.test_energy <= 0.5 * base.test_energy
    assert abs(lowered.test_accuracy - base.test_accuracy) <= 0.02
    # The term recorded in training is the activation energy that measure() reports.
    assert lowered.test_energy == pytest.approx(lowered.test_report.total.activation_energy, rel=1e-4)


@pytest.mark.slow
def test_learning_curve_and_efficiency(sweep_pair):
    result = sweep_pair[0.0]
    curve = result.curve
    assert len(curve) == 11 and curve[0].step == 0 and curve[-1].step == result.steps
    assert [p.step for p in curve] == sorted({p.step for p in curve})
    energies = [p.train_energy_pj for p in curve]
    assert energies[0] == 0 and all(b > a for a, b in zip(energies, energies[1:]))
    assert curve[-1].train_energy_pj == pytest.approx(result.train_energy_pj)
    assert all(0 <= p.accuracy <= 1 and p.ce > 0 for p in curve)
    reached = result.efficiency(0.5)
    assert reached is not None and 0 < reached.step <= result.steps
    first = next(p for p in curve if p.accuracy >= 0.5)
    assert (reached.step, reached.train_energy_pj) == (first.step, first.train_energy_pj)
    assert result.efficiency(1.01) is None


def test_same_seed_gives_bitwise_identical_results():
    train = data.load("mnist", "train", limit=300)
    test = data.load("mnist", "test", limit=100)
    settings = dict(epochs=1, batch_size=50, lr=2e-3, seed=3, device="cpu", eval_size=50, num_evals=10)
    first = fit(build_mlp(4, seed=3), train, test, lam=1e-3, **settings)
    second = fit(build_mlp(4, seed=3), train, test, lam=1e-3, **settings)
    assert first.status == second.status == "ok"
    keys = ("step", "samples", "ce", "energy", "accuracy", "train_synops", "train_energy_pj")
    assert [[getattr(p, k) for k in keys] for p in first.curve] == [[getattr(p, k) for k in keys] for p in second.curve]
    assert (first.test_accuracy, first.test_ce, first.test_energy, first.train_energy_pj) == \
           (second.test_accuracy, second.test_ce, second.test_energy, second.train_energy_pj)
    third = fit(build_mlp(4, seed=4), train, test, lam=1e-3, **{**settings, "seed": 4})
    assert third.test_ce != first.test_ce  # the seed matters


def test_nan_loss_stops_cleanly_as_diverged():
    train = data.load("mnist", "train", limit=200)
    test = data.load("mnist", "test", limit=50)
    # An absurd learning rate: SGD's first update makes the weights overflow, the next loss is inf.
    result = fit(build_mlp(4), train, test, lam=0.0, epochs=1, batch_size=50, optimizer="sgd", lr=1e38,
                 device="cpu", eval_size=20)
    assert result.status == "diverged"
    assert result.diverged_at_step == 2 and result.steps == 1
    assert math.isnan(result.test_accuracy) and result.test_report is None
    assert "loss became inf at step 2" in result.message
    # Adam's update overflows inside the optimizer: still a clean 'diverged', no exception.
    result = fit(build_mlp(4), train, test, epochs=1, batch_size=50, optimizer="adam", lr=1e38,
                 device="cpu", eval_size=20)
    assert result.status == "diverged" and "failed numerically" in result.message


def test_evaluate_report_equals_measure_on_one_batch():
    test = data.load("mnist", "test", limit=64)
    model = build_mlp(4)
    torch.manual_seed(7)
    stats = evaluate(model, test, batch_size=64, costs="45nm-fp32", device="cpu")
    torch.manual_seed(7)  # the rate encoder draws the same spikes
    x, y = next(test.batches(64))
    report = measure(model, (x, y))
    assert stats["report"].total.effective_acs == pytest.approx(report.total.effective_acs)
    assert stats["report"].total.energy_pj == pytest.approx(report.total.energy_pj)
    assert stats["energy"] == pytest.approx(report.total.activation_energy, rel=1e-5)


def test_device_resolution():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA"):
            resolve_device("cuda")


@pytest.mark.parametrize("kwargs,words", [
    ({"lam": -1.0}, "lam must be"),
    ({"energy_term": "heat"}, "unknown energy_term"),
    ({"optimizer": "lbfgs"}, "unknown optimizer"),
    ({"batch_size": 0}, "batch_size"),
    ({"epochs": 0}, "epochs"),
])
def test_bad_arguments_raise_clear_errors(kwargs, words):
    pair = (torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long))
    with pytest.raises(InvalidInputError, match=words):
        fit(build_mlp(2), pair, pair, **kwargs)
