"""measure(): loss terms, report formats, side effects and bad input."""

from __future__ import annotations

import math

import pytest
import snntorch as snn
import torch
import xarray as xr
from torch import nn

from neuroenergy.energy import CostTable, EnergyTap, measure, terms
from neuroenergy.errors import (
    InvalidInputError,
    NeuroEnergyError,
    NothingToMeasureError,
    UnknownNameError,
)


class SequenceSNN(nn.Module):
    """Consumes the whole batch-first sequence itself, as neuroenergy models do."""

    consumes_sequence = True
    batch_dim = 0
    num_steps = 5

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.8)
        self.fc = nn.Linear(4 * 6, 3)
        self.lif2 = snn.Leaky(beta=0.8)
        self.tap = EnergyTap(weight=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, 2, 6]
        cur = self.conv(x)  # the input is the same at every step: one call
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        outs, previous = [], None
        for _ in range(self.num_steps):
            spk1, mem1 = self.lif1(cur, mem1)
            spk2, mem2 = self.lif2(self.fc(spk1.flatten(1)), mem2)
            if previous is not None:
                self.tap(spk1 - previous)
            previous = spk1
            outs.append(mem2)
        return torch.stack(outs)


def make_model() -> SequenceSNN:
    torch.manual_seed(0)
    net = SequenceSNN()
    with torch.no_grad():
        net.conv.weight.mul_(4.0)
        net.fc.weight.mul_(4.0)
    return net


def batch() -> torch.Tensor:
    return torch.rand(8, 2, 6, generator=torch.Generator().manual_seed(0)) * 2


@pytest.mark.parametrize("term,field", [
    ("activation", "activation_energy"),
    ("spikes", "spikes"),
    ("synops", "effective_acs"),
])
def test_terms_equal_measure_on_the_same_batch(term, field):
    net, x = make_model(), batch()
    report = measure(net, x)
    assert getattr(report.total, field) > 0
    with terms.record(net, term) as energy:
        net(x)
    assert energy.value.item() == pytest.approx(getattr(report.total, field), rel=1e-5)


def test_terms_are_differentiable_through_surrogates():
    net, x = make_model(), batch()
    with terms.record(net, "activation") as energy:
        out = net(x)
    (out.mean() + energy.value).backward()
    assert net.conv.weight.grad is not None and net.conv.weight.grad.abs().sum() > 0
    assert set(terms.list_terms()) == {"activation", "spikes", "synops"}


def test_tap_counts_in_activation_energy_not_spikes():
    report = measure(make_model(), batch())
    tap = report["tap"]
    assert tap.kind == "tap" and tap.activation_energy > 0 and tap.spikes == 0
    spikes = report["lif1"].spikes + report["lif2"].spikes
    assert report.total.spikes == spikes
    assert report.total.activation_energy == pytest.approx(spikes + tap.activation_energy)


def test_sequence_model_is_called_once_with_batch_first_input():
    report = measure(make_model(), (batch(), torch.zeros(8)))
    assert report.batch_size == 8 and report.time_steps == 5
    assert report["conv"].effective_macs > 0  # analog input, one call
    assert report["fc"].effective_acs > 0  # spikes


def test_measure_leaves_mode_hooks_and_state_alone():
    net = nn.Sequential(nn.Linear(3, 4), snn.Leaky(beta=0.9, init_hidden=True))
    net.train()
    net(torch.ones(2, 3) * 5)
    mem_before = net[1].mem.clone()
    measure(net, torch.ones(4, 2, 3))
    assert net.training
    assert torch.equal(net[1].mem, mem_before)
    assert not net[0]._forward_pre_hooks and not net[1]._forward_hooks and not net[1]._forward_pre_hooks
    assert torch.is_grad_enabled()


def test_report_formats_carry_units_and_cost_table():
    report = measure(make_model(), batch(), costs="45nm-fp16")
    data = report.to_dict()
    assert data["costs"]["name"] == "45nm-fp16" and data["per"].startswith("sample")
    assert "compute-only" in data["note"] and data["units"]["energy_pj"] == "pJ per sample"
    frame = report.to_dataframe()
    assert frame.loc["total", "energy_pj"] == pytest.approx(report.total.energy_pj)
    assert list(frame.index[:-1]) == [r.name for r in report.layers]
    ds = report.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds.attrs["costs"] == "45nm-fp16"
    assert ds["energy_pj"].attrs["units"] == "pJ per sample"
    assert float(ds["total_effective_acs"]) == pytest.approx(report.total.effective_acs)
    text = str(report)
    assert "pJ" in text and "45nm-fp16" in text and "per sample" in text and "total" in text
    with pytest.raises(Exception):
        report.batch_size = 3  # immutable


def test_uncounted_layers_are_listed():
    class WithAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.attn = nn.MultiheadAttention(4, 2)

        def forward(self, x):
            x = torch.relu(self.fc(x))[None]
            return self.attn(x, x, x)[0]

    net = WithAttention()
    report = measure(net, torch.ones(1, 2, 4))
    assert report.uncounted == ("attn",)
    assert "attn" in str(report)
    assert all(not r.name.startswith("attn") for r in report.layers)


@pytest.mark.parametrize("model,batch_,error,words", [
    ("not a model", torch.ones(2, 2, 3), InvalidInputError, "nn.Module"),
    (nn.Sequential(nn.Linear(3, 2), nn.ReLU()), torch.ones(2, 2, 5), InvalidInputError, "does not fit"),
    (nn.Sequential(nn.Flatten(), nn.Dropout()), torch.ones(2, 2, 3), NothingToMeasureError, "no countable"),
    (nn.Sequential(nn.Linear(3, 2)), torch.tensor([[[1.0, math.nan, 0.0]]]), InvalidInputError, "NaN"),
    (nn.Sequential(nn.Linear(3, 2)), torch.tensor([[[1.0, 0.0, 0.0]], [[0.0, -math.inf, 1.0]]]),
     InvalidInputError, "infinite"),
    (nn.Sequential(nn.Linear(3, 2)), torch.ones(3), InvalidInputError, "[T, B, ...]"),
    (nn.Sequential(nn.Linear(3, 2)), "tensor", InvalidInputError, "pair"),
    (nn.Sequential(nn.Linear(3, 2)), torch.ones(2, 0, 3), InvalidInputError, "empty"),
])
def test_bad_input_gives_one_clear_error(model, batch_, error, words):
    with pytest.raises(error) as caught:
        measure(model, batch_)
    assert isinstance(caught.value, NeuroEnergyError)
    assert words in str(caught.value)


def test_unknown_cost_table_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as caught:
        measure(nn.Sequential(nn.Linear(3, 2)), torch.ones(1, 1, 3), costs="7nm-magic")
    assert "45nm-fp32" in str(caught.value) and "7nm-magic" in str(caught.value)


def test_invalid_cost_table_values_are_rejected():
    with pytest.raises(InvalidInputError):
        CostTable("bad", e_mac_pj=-1.0, e_ac_pj=0.1)
    with pytest.raises(InvalidInputError):
        CostTable("bad", e_mac_pj=float("nan"), e_ac_pj=0.1)


def test_time_constant_input_is_counted_once_and_scaled():
    """An input expanded along time (stride 0, the direct encoder's) counts the
    same as the materialised copy: 3 steps x the one-step count."""
    from neuroenergy.energy.counting import SynapseCounter

    torch.manual_seed(0)
    lin, conv = torch.nn.Linear(4, 3), torch.nn.Conv2d(2, 3, 3)
    with torch.no_grad():
        lin.weight[0, 0] = 0.0  # one zero weight: input 0 fans out to 2 outputs
    step = torch.tensor([[0.5, 0.0, 2.0, 1.0]])  # [B=1, 4]: 3 nonzero inputs
    expanded = step.expand(3, 1, 4)
    ops = SynapseCounter(lin)((expanded,))
    assert ops == SynapseCounter(lin)((expanded.contiguous(),))
    assert ops.effective == 3 * (2 + 3 + 3) and ops.dense == 3 * 12 and not ops.binary
    image = (torch.rand(1, 2, 5, 5) > 0.5).float()
    expanded = image.expand(4, 1, 2, 5, 5)
    assert SynapseCounter(conv)((expanded,)) == SynapseCounter(conv)((expanded.contiguous(),))


def test_synapse_counts_of_signed_analog_nan_and_half_inputs_by_hand():
    """The one-sign-copy counting path (counting._input_activity) on the inputs it must
    not get wrong: spikes of both signs, analog values, a NaN (nonzero, as in
    torch.count_nonzero) and float16 spikes; and a zero and a NaN weight."""
    from neuroenergy.energy.counting import SynapseCounter

    lin = torch.nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [3.0, 4.0, 0.0]]))  # nonzero per input: 2, 1, 1
    counter = SynapseCounter(lin)
    signed = torch.tensor([[1.0, -1.0, 0.0], [0.0, -1.0, -1.0]])  # input 0 once, 1 twice, 2 once
    assert counter((signed,)) == (2 + 2 + 1, 12, True, 4)
    analog = torch.tensor([[0.5, 0.0, -3.0], [0.0, 0.0, 0.25]])  # input 0 once, 2 twice
    assert counter((analog,)) == (2 + 2, 12, False, 3)
    with_nan = torch.tensor([[float("nan"), 0.0, 1.0]])  # NaN is a nonzero input
    assert counter((with_nan,)) == (2 + 1, 6, False, 2)
    spikes = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])  # input 0 twice, 1 once, 2 once
    assert counter((spikes,)) == (2 + 2 + 1 + 1, 12, True, 4)
    # a known spike count (a neuron's output) takes the per-row product instead: same counts
    assert counter((spikes,), spikes=4) == (6, 12, True, 4)
    # a dense weight gives every input fan-out 2: the spikes times 2, in float32 and float16;
    # once a weight is zeroed (and the counter told), input 1 reaches one weight only
    for dtype in (torch.float32, torch.float16):
        dense = nn.Linear(3, 2).to(dtype)
        with torch.no_grad():
            dense.weight.fill_(0.5)
        dense_counter = SynapseCounter(dense)
        assert dense_counter((spikes.to(dtype),), spikes=4) == (4 * 2, 12, True, 4)
        with torch.no_grad():
            dense.weight[0, 1] = 0.0
        dense_counter.weights_changed()
        assert dense_counter((spikes.to(dtype),), spikes=4) == (2 * 2 + 1 + 2, 12, True, 4)
    half = signed.to(torch.float16)
    assert SynapseCounter(lin.half())((half,)) == (5, 12, True, 4)
    with torch.no_grad():
        lin.weight[1, 1] = float("nan")  # a NaN weight still counts as nonzero
    assert SynapseCounter(lin.float())((signed,)) == (5, 12, True, 4)


def test_nonzero_and_changed_counts_with_and_without_a_scratch_buffer_by_hand():
    from neuroenergy.energy.counting import Scratch, count_changed, count_nonzero

    nan = float("nan")
    x = torch.tensor([[0.0, 1.0, -2.0], [nan, 0.0, 0.5]])  # 4 nonzero, NaN included
    before = torch.tensor([[0.0, 1.0, 2.0], [nan, 3.0, 0.0]])  # differs at (0,2), (1,0) NaN, (1,1), (1,2)
    scratch = Scratch()
    for _ in range(2):  # the second call reuses the buffers
        assert count_nonzero(x, scratch) == count_nonzero(x) == 4
        assert count_changed(before, x, scratch) == count_changed(before, x) == 4
    assert count_nonzero(x.half(), scratch) == 4 and count_nonzero(torch.zeros(5)) == 0


def test_a_layer_after_a_neuron_counts_acs_only_for_the_neurons_own_untouched_spikes():
    """measure() remembers that a neuron's output holds only 0/1 and lets the next layer skip
    its test, but only for that very tensor, unchanged: a transformed copy or an in-place edit
    of the spikes is tested again (MACs). fc0 sees analog 10s (2 x 3 = 6 MACs); the neuron
    spikes on all 3 outputs; fc1 then does 3 x 2 = 6 operations."""
    import snntorch as snn

    class Net(torch.nn.Module):
        def __init__(self, between):
            super().__init__()
            self.fc0, self.lif, self.fc1 = torch.nn.Linear(2, 3), snn.Leaky(beta=0.5, init_hidden=True), \
                torch.nn.Linear(3, 2)
            with torch.no_grad():
                self.fc0.weight.fill_(1.0), self.fc0.bias.zero_(), self.fc1.weight.fill_(1.0)
            self.between = between

        def forward(self, x):
            return self.fc1(self.between(self.lif(self.fc0(x))))

    x = torch.full((1, 1, 2), 10.0)  # [T=1, B=1, 2]
    for between, macs, acs in ((lambda s: s, 6, 6), (lambda s: s * 2 + 1, 12, 0), (lambda s: s.mul_(0.5), 12, 0)):
        total = measure(Net(between), x).total
        assert (total.effective_macs, total.effective_acs) == (macs, acs)


def test_scratch_keeps_small_work_buffers_and_never_large_ones():
    from neuroenergy.energy.counting import Scratch

    scratch = Scratch()
    small = torch.zeros(3, 4)
    assert scratch.like(small, "a") is scratch.like(small, "a")  # reused: no allocation per call
    assert scratch.like(small, "a") is not scratch.like(small, "b")
    large = torch.empty(Scratch.keep_limit + 1, dtype=torch.uint8)
    assert scratch.like(large) is not scratch.like(large) and len(scratch._buffers) == 2


def test_measure_under_inference_mode_counts_as_without_it():
    # inference tensors keep no version counter; the spike memo must not need one
    import snntorch as snn

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(beta=0.5, init_hidden=True),
                              torch.nn.Linear(3, 2), snn.Leaky(beta=0.5, init_hidden=True))
    x = (torch.rand(5, 2, 4) < 0.5).float()
    def counts(total):
        return (total.effective_acs, total.effective_macs, total.dense_synops, total.spikes,
                total.membrane_updates, total.energy_pj)

    plain = counts(measure(net, x).total)
    with torch.inference_mode():
        inside = counts(measure(net, x).total)
        x_inference = x.clone()
    assert plain[0] > 0 and inside == plain and counts(measure(net, x_inference).total) == plain


def test_step_activity_by_hand():
    """counting.step_activity: per step of [T=3, B=2, 2], whether it holds only 0/1 and
    how many rows are nonzero at each position."""
    from neuroenergy.energy.counting import step_activity

    steps = torch.tensor([[[1.0, 0.0], [1.0, 1.0]],
                          [[0.5, 0.0], [1.0, 0.0]],   # 0.5: not a spike step
                          [[0.0, 0.0], [0.0, 1.0]]])
    activity = step_activity(steps)
    assert activity.rows == 2 and activity.zero_one == (True, False, True)
    assert activity.counts[0].tolist() == [2.0, 1.0] and activity.counts[2].tolist() == [0.0, 1.0]
    assert activity.counts.dtype == torch.float64
    assert step_activity(torch.ones(3)) is None and step_activity(steps.long()) is None
    # its sums prove every value finite; an infinity, a NaN or a square that overflows
    # float32 (1e20, itself finite) leave no proof
    assert activity.finite
    for value in (math.inf, math.nan, 1e20):
        steps[1, 0, 1] = value
        assert not step_activity(steps).finite
    net = nn.Sequential(nn.Linear(2, 3), snn.Leaky(beta=0.5, init_hidden=True))
    assert measure(net, steps).total.effective_macs > 0  # 1e20 is a valid (analog) input


class _Readers(nn.Module):
    """A Linear and a Conv2d reading the step itself (reshaped), then a Linear reading the
    neuron's spikes: the three ways a synaptic layer meets its input in measure()."""

    def __init__(self, edit_in_place: bool = False) -> None:
        super().__init__()
        self.edit_in_place = edit_in_place
        self.fc = nn.Linear(2 * 4 * 4, 6)
        self.conv = nn.Conv2d(2, 3, 3)
        self.lif = snn.Leaky(beta=0.9, init_hidden=True)
        self.out = nn.Linear(6, 4)
        with torch.no_grad():
            self.fc.weight[:, :5] = 0.0  # zero weights must stay uncounted on every path
            self.out.weight[0] = 0.0

    def forward(self, x):
        if self.edit_in_place:
            x.mul_(2.0)  # the step is no longer what was summarised
        spikes = self.lif(self.fc(x.flatten(1)) + self.conv(x).mean((1, 2, 3))[:, None])
        return self.out(spikes)


@pytest.mark.parametrize("edit_in_place", [False, True])
def test_measure_counts_steps_summarised_up_front_as_each_call_alone(edit_in_place):
    """measure() summarises the per-step batch once (OperationCounter.expect_steps) and takes
    the operations of a layer reading a step from one product over all steps; the counts
    equal those of counting each call alone, for 0/1, analog and mixed steps, and after an
    in-place edit of the batch (then the summary is not used)."""
    from neuroenergy.energy.measure import OperationCounter
    from neuroenergy.energy.modules import reset_neuron_state

    torch.manual_seed(0)
    net = _Readers(edit_in_place).eval()
    g = torch.Generator().manual_seed(1)
    spikes = (torch.rand(5, 3, 2, 4, 4, generator=g) < 0.3).float()
    mixed = spikes.clone()
    mixed[2, 1, 0, 0, 0] = 0.25  # one analog step among spike steps
    for x in (spikes, mixed, torch.rand(5, 3, 2, 4, 4, generator=g)):
        report = measure(net, x.clone())
        reset_neuron_state(net)
        with OperationCounter(net) as counter, torch.no_grad():  # no expect_steps: each call alone
            for step in x.clone():
                net(step)
        alone = counter.report(3, 5)
        for mine, theirs in zip(report.layers, alone.layers):
            assert (mine.effective_acs, mine.effective_macs, mine.dense_synops, mine.spike_inputs) == \
                (theirs.effective_acs, theirs.effective_macs, theirs.dense_synops, theirs.spike_inputs), mine.name
    # on the spike batch, fc and conv take the summary, unless the model edits its input
    # (then the steps are 2s: MACs, which the equality above shows were counted call by call)
    reset_neuron_state(net)
    with OperationCounter(net) as counter, torch.no_grad():
        counter.expect_steps(spikes.clone())
        steps = counter._steps.steps
        for step in steps:
            net(step)
        used = {key[0] for key in counter._steps._ops}
    assert used == (set() if edit_in_place else {"fc", "conv"})
    assert counter.tallies["fc"].dense_synops == 5 * 3 * 6 * 32
    assert (counter.tallies["fc"].effective_acs == 0) == edit_in_place


def _zero_one_neurons():
    """Neurons whose spikes are 0/1 by construction (modules.emits_zero_one), one per class
    and spike function: snnTorch's firing classes and surrogates, its surrogate bypass, and
    neuroenergy's SequenceLeaky with its Surrogate."""
    from snntorch import surrogate as sg

    from neuroenergy.models.neurons import SequenceLeaky, Surrogate

    functions = [sg.atan(), sg.fast_sigmoid(), sg.sigmoid(), sg.heaviside(), sg.straight_through_estimator(),
                 sg.triangular(), sg.spike_rate_escape(), sg.SSO(), sg.SFS(), sg.custom_surrogate(lambda *a: a[-1])]
    neurons = [snn.Leaky(beta=0.5, spike_grad=fn) for fn in functions]
    neurons += [snn.Leaky(beta=0.5, surrogate_disable=True), snn.Leaky(beta=0.5, inhibition=True),
                snn.Synaptic(alpha=0.5, beta=0.5), snn.Lapicque(beta=0.5), snn.Alpha(alpha=0.6, beta=0.5),
                snn.RLeaky(beta=0.5, linear_features=5), snn.RSynaptic(alpha=0.5, beta=0.5, linear_features=5),
                SequenceLeaky(beta=0.5, spike_grad=Surrogate("atan", 2.0))]
    return neurons


@pytest.mark.filterwarnings("ignore:Inhibition is an unstable feature")
def test_neurons_known_to_emit_zero_one_do_so_and_others_are_not_trusted(monkeypatch):
    """emits_zero_one holds for snnTorch's firing neurons with its own spike functions (and
    neuroenergy's SequenceLeaky): run on wild input (large, tiny, infinite, NaN) they emit
    only 0 and 1 on the installed snnTorch. A subclass, another spike function, a graded
    factor, an earlier forward hook or another snnTorch release are not trusted."""
    from neuroenergy.energy.modules import emits_zero_one

    g = torch.Generator().manual_seed(0)
    cur = torch.randn(4, 3, 5, generator=g) * 3  # [T, B, 5]
    cur[0, 0, :3] = torch.tensor([math.inf, math.nan, 1e30])
    cur[1, 1, :2] = torch.tensor([1e-30, -math.inf])
    with torch.no_grad():
        for neuron in _zero_one_neurons():
            assert emits_zero_one(neuron), neuron
            if getattr(neuron, "consumes_sequence", False):
                outputs = [neuron(cur)[0]]
            else:
                state = [None] * {snn.Synaptic: 2, snn.RSynaptic: 3, snn.Alpha: 3, snn.RLeaky: 2}.get(type(neuron), 1)
                outputs = []
                for step in cur:
                    result = neuron(step, *state) if state[0] is not None else neuron(step)
                    outputs.append(result[0])
                    state = list(result[-len(state):]) if type(neuron) in (snn.RLeaky, snn.RSynaptic) \
                        else list(result[1:])
            for spikes in outputs:
                assert bool(((spikes == 0) | (spikes == 1)).all()), type(neuron).__name__

    class MyLeaky(snn.Leaky):
        pass

    hooked = snn.Leaky(beta=0.5)
    hooked.register_forward_hook(lambda mod, args, out: out)
    for neuron in (MyLeaky(beta=0.5), snn.Leaky(beta=0.5, spike_grad=torch.sigmoid),
                   snn.Leaky(beta=0.5, graded_spikes_factor=0.5), hooked, nn.ReLU()):
        assert not emits_zero_one(neuron), neuron
    assert emits_zero_one(snn.Leaky(beta=0.5))
    monkeypatch.setattr(snn, "__version__", "1.1.0")
    assert not emits_zero_one(snn.Leaky(beta=0.5))


class _Neurons(nn.Module):
    """Per-step layers of several trusted neuron kinds, and one graded neuron whose spikes
    (0.5) must be counted as analog input to the layer after it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(6, 8), snn.Leaky(beta=0.9, init_hidden=True)
        self.fc2, self.syn = nn.Linear(8, 8), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True)
        self.fc3, self.graded = nn.Linear(8, 5), snn.Leaky(beta=0.9, init_hidden=True, graded_spikes_factor=0.5)
        self.fc4, self.rec = nn.Linear(5, 4), snn.RLeaky(beta=0.9, linear_features=4, init_hidden=True)
        with torch.no_grad():
            for fc in (self.fc1, self.fc2, self.fc3, self.fc4):
                fc.weight.mul_(3.0)

    def forward(self, x):
        return self.rec(self.fc4(self.graded(self.fc3(self.syn(self.fc2(self.lif1(self.fc1(x))))))))


def test_counts_of_trusted_neurons_equal_those_of_tested_ones(monkeypatch):
    """A neuron known to emit 0/1 skips the 0/1 test of its spikes; every count is the
    same as when each output is tested (emits_zero_one forced False)."""
    import importlib

    measure_module = importlib.import_module("neuroenergy.energy.measure")  # the module, not the function
    torch.manual_seed(0)
    net = _Neurons().eval()
    x = torch.rand(6, 4, 6, generator=torch.Generator().manual_seed(2)) * 2
    trusted = measure(net, x, costs="lemaire-2022", compare_ann=True)
    monkeypatch.setattr(measure_module, "emits_zero_one", lambda module: False)
    tested = measure(net, x, costs="lemaire-2022", compare_ann=True)
    assert trusted.total.spikes > 0 and trusted["fc4"].effective_macs > 0  # graded 0.5 spikes: MACs
    assert trusted["fc4"].effective_acs == 0 and trusted["fc2"].effective_acs > 0
    for mine, theirs in zip(trusted.layers, tested.layers):
        assert mine == theirs, mine.name


def test_counts_of_announced_steps_reach_the_tallies_whenever_they_are_read():
    """Calls on announced steps are noted by the hook and added on reading: synops_total
    inside the counter equals the report after it, and equals counting without announcing."""
    from neuroenergy.energy.measure import OperationCounter
    from neuroenergy.energy.modules import reset_neuron_state

    torch.manual_seed(0)
    net = _Readers().eval()
    x = (torch.rand(5, 3, 2, 4, 4, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    totals = []
    for announce in (True, False):
        reset_neuron_state(net)
        with OperationCounter(net) as counter, torch.no_grad():
            if announce:
                counter.expect_steps(x)
            for step in x:
                net(step)
            inside = counter.synops_total
        totals.append(inside)
        assert inside == counter.synops_total and inside[1] == counter.report(3, 5).total.effective_acs * 3
    assert totals[0] == totals[1] and totals[0][1] > 0


def test_a_cell_after_a_neuron_counts_its_state_too():
    """A recurrent cell reading a neuron's 0/1 spikes takes the known count of its input,
    and still meets its hidden state: its operations equal rnn_cell_synops on the same call."""
    from neuroenergy.energy.counting import rnn_cell_synops

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.lif = nn.Linear(4, 6), snn.Leaky(beta=0.5, init_hidden=True)
            self.cell = nn.GRUCell(6, 3)
            self.register_buffer("h", torch.tensor([[1.0, 0.0, -2.0]] * 2))  # a state with a zero

        def forward(self, x):
            return self.cell(self.lif(self.fc(x)), self.h)

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():
        net.fc.weight.mul_(4.0)
    x = torch.rand(1, 2, 4, generator=torch.Generator().manual_seed(3))  # [T=1, B=2, 4]
    report = measure(net, x)
    with torch.no_grad():
        spikes = snn.Leaky(beta=0.5)(net.fc(x[0]), torch.zeros(2, 6))[0]
    assert 0 < spikes.sum() < spikes.numel()
    expected = rnn_cell_synops((spikes, net.h), net.cell)
    assert expected.binary and report["cell"].effective_acs * 2 == expected.effective
    assert expected.effective != rnn_cell_synops((spikes,), net.cell).effective  # the state counts
