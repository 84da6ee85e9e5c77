"""Speed of neuroenergy.energy.measure, side by side with a plain forward and NeuroBench.

Models: a 784-1000-10 LIF MLP and a small convolutional SNN (MNIST-shaped
input), both run per step as in the snnTorch tutorials; T = 25, B = 128.

Prints, as medians of the per-repeat ratios (their range in brackets) over repeats
measured interleaved in the same run, each timed call after an untimed plain forward:
  (a) measure() time / plain no-grad forward of the same batch, compute-only
      table 45nm-fp32                                           (target <= 1.2)
  (a') the same with the memory-aware model lemaire-2022 and compare_ann=True
                                                                (target <= 1.5)
  (b) measure() time / NeuroBench Benchmark.run, same metrics    (target <= 0.2)
and checks that the counts are equal to NeuroBench's.

Run: .venv/bin/python benchmarks/bench_measure.py [--repeats N] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import snntorch as snn
import torch
from torch import nn

from repeats import paired_ratio

from neuroenergy.energy import measure
from neuroenergy.energy.modules import reset_neuron_state


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 1000)
        self.lif1 = snn.Leaky(beta=0.95, init_hidden=True)
        self.fc2 = nn.Linear(1000, 10)
        self.lif2 = snn.Leaky(beta=0.95, init_hidden=True, output=True)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x.flatten(1)))))


class ConvSNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 5)
        self.lif1 = snn.Leaky(beta=0.9, init_hidden=True)
        self.conv2 = nn.Conv2d(12, 32, 5)
        self.lif2 = snn.Leaky(beta=0.9, init_hidden=True)
        self.fc = nn.Linear(32 * 4 * 4, 10)
        self.lif3 = snn.Leaky(beta=0.9, init_hidden=True, output=True)

    def forward(self, x):
        x = self.lif1(nn.functional.max_pool2d(self.conv1(x), 2))
        x = self.lif2(nn.functional.max_pool2d(self.conv2(x), 2))
        return self.lif3(self.fc(x.flatten(1)))


def plain_forward(net: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        reset_neuron_state(net)
        for step in x:
            net(step)


def neurobench_run(net: nn.Module, x: torch.Tensor):
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
    from neurobench.models import SNNTorchModel

    class Loader(list):
        dataset = range(x.shape[1])

    loader = Loader([(x.transpose(0, 1), torch.zeros(x.shape[1]))])
    bench = Benchmark(SNNTorchModel(net), loader, [], [],
                      [[], [SynapticOperations, ActivationSparsity, MembraneUpdates]])
    try:
        return bench.run(quiet=True)
    finally:
        bench.workload_metric_manager.cleanup_hooks(bench.model)


def interleaved_times(fns: dict, repeats: int, before=None) -> dict[str, list[float]]:
    """Wall times of each function over ``repeats`` rounds, run interleaved so that machine
    noise hits all alike (ratios are then taken within each round: ``repeats.paired_ratio``).

    ``before`` (untimed) runs before every timed call, so that each call starts from the
    same state of the caches: without it the plain forward timed after NeuroBench's run
    starts cold and is slower (38-40 against 36 ms for the mlp), which lowers every
    ratio to it by about 0.05."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            if before is not None:
                before()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-neurobench", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    steps, batch = 25, 128
    print(f"T={steps}, B={batch}, torch threads={args.threads}, median of {args.repeats} repeats")
    for name, net, shape in (("mlp 784-1000-10", MLP(), (784,)), ("conv snn", ConvSNN(), (1, 28, 28))):
        net.eval()
        x = (torch.rand(steps, batch, *shape) < 0.2).float()  # rate-coded spikes
        report = measure(net, x)  # warm-up
        fns = {"plain": lambda: plain_forward(net, x), "measure": lambda: measure(net, x),
               "lemaire": lambda: measure(net, x, costs="lemaire-2022", compare_ann=True)}
        if not args.skip_neurobench:
            theirs = neurobench_run(net, x)
            fns["neurobench"] = lambda: neurobench_run(net, x)
        rounds = interleaved_times(fns, args.repeats, before=fns["plain"])
        times = {key: statistics.median(values) for key, values in rounds.items()}
        t_plain, t_measure = times["plain"], times["measure"]
        a, a_low, a_high = paired_ratio(rounds["measure"], rounds["plain"])
        b, b_low, b_high = paired_ratio(rounds["lemaire"], rounds["plain"])
        line = (f"{name:16s} plain forward {t_plain * 1e3:8.1f} ms | measure {t_measure * 1e3:8.1f} ms | "
                f"(a) measure/forward = {a:.2f} [{a_low:.2f}-{a_high:.2f}] (target <= 1.2) | "
                f"(a') lemaire-2022 + ANN/forward = {b:.2f} [{b_low:.2f}-{b_high:.2f}] (target <= 1.5)")
        if not args.skip_neurobench:
            t_nb = times["neurobench"]
            c, c_low, c_high = paired_ratio(rounds["measure"], rounds["neurobench"])
            synops = theirs["SynapticOperations"]
            equal = (report.total.effective_acs == synops["Effective_ACs"]
                     and report.total.effective_macs == synops["Effective_MACs"]
                     and report.total.dense_synops == synops["Dense"]
                     and report.total.membrane_updates == theirs["MembraneUpdates"]
                     and abs(report.activation_sparsity - theirs["ActivationSparsity"]) < 1e-12)
            line += (f" | NeuroBench {t_nb * 1e3:8.1f} ms | (b) measure/NeuroBench = "
                     f"{c:.3f} [{c_low:.3f}-{c_high:.3f}] (target <= 0.2), counts equal: {equal}")
        print(line)
        print(f"{'':16s} {report.total.synops:,.0f} effective synops/sample, "
              f"{report.total.energy_pj / 1e3:,.1f} nJ/sample ({report.costs.name})")


if __name__ == "__main__":
    main()
