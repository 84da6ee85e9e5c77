"""FLOP account of training every architecture at its default sizes, against
this machine's measured fp32 GEMM peak.

Per architecture and dataset (a real batch of that dataset, the model's
default encoder):
  samples/s      training samples per second (forward + backward + Adam step
                 of one batch, median of interleaved repeats)
  MFLOP/sample   training FLOPs per sample, counted from the layers: every
                 Linear / Conv / spike-matmul contributes 2 x its forward MACs
                 (summed over all T steps; once for an input the same at every
                 step, which the time-batched layers compute once), times 3 for
                 forward + the two backward products (input and weight gradients). Element-wise
                 work (LIF, LayerNorm, pooling) is not counted: it is what
                 keeps a network below the GEMM roof.
  GFLOP/s        MFLOP/sample x samples/s / 1000
  of peak        GFLOP/s / the fp32 GEMM peak measured at the start of the
                 run (torch.mm of two 1024 x 1024 matrices, same threads)
  x mlp          per-sample training time relative to mlp on the same dataset
                 (median of the per-repeat ratios: the two run back to back)
  products       share of a training step's time spent in the counted products
                 (mm/addmm/bmm/convolution and their backward kernels: their
                 torch.profiler self times over the unprofiled step time); the
                 rest is element-wise work (LIF, LayerNorm, pooling),
                 reductions, copies, the optimiser and the framework
  bound          the highest fraction of peak this architecture could reach
                 if its products ran at peak and the rest took what it takes:
                 (FLOPs / peak) / (FLOPs / peak + (1 - products) x time per sample).
                 Below 0.6 the target is out of reach without removing
                 non-product work, and the products column says how much.

Run: NEUROENERGY_DATA=../shared/data .venv/bin/python benchmarks/bench_roofline.py
     [--repeats N] [--threads N] [--batch B] [--steps T] [--datasets a,b] [--archs a,b]
     [--profile ARCH:DATASET]  (torch.profiler table of one training step)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from repeats import paired_ratio

from neuroenergy import data, models
from neuroenergy.models.layers import SpikeMatmul


def gemm_peak(threads: int, n: int = 1024, repeats: int = 7) -> float:
    """Median fp32 GFLOP/s of torch.mm on n x n matrices."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        rates.append(5 * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def forward_macs_per_sample(model: nn.Module, x: torch.Tensor) -> float:
    """Multiply-accumulates of one forward pass per sample, over all time steps."""
    total = 0
    batch = x.shape[0]

    def hook(module, inputs, output):
        nonlocal total
        # a time-batched layer computes an input expanded along time (stride 0: the direct
        # encoder's) once for all T steps (models.layers.TimeLinear): count what it executes
        x0 = inputs[0] if inputs else None
        once = (x0.shape[0] if isinstance(x0, torch.Tensor) and x0.dim() >= 3 and x0.shape[0] > 1
                and x0.stride(0) == 0 else 1)
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features // once
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            k = 1
            for s in module.kernel_size:
                k *= s
            total += output.numel() * (module.in_channels // module.groups) * k // once
        elif isinstance(module, SpikeMatmul):
            a, b = inputs[0], inputs[1]
            total += output.numel() * a.shape[-1]

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, SpikeMatmul))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total / batch


#: Kernels that compute the counted products (forward and backward), by torch.profiler name.
PRODUCT_KERNELS = frozenset({
    "aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::mv", "aten::addmv",
    "aten::dot", "aten::vdot", "aten::convolution", "aten::_convolution", "aten::mkldnn_convolution",
    "aten::convolution_backward", "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward",
    "aten::thnn_conv2d", "aten::_nnpack_spatial_convolution", "aten::conv1d", "aten::conv2d",
})


def product_seconds(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                    repeats: int = 3) -> float:
    """Seconds of one training step spent in product kernels (torch.profiler self times, median
    of ``repeats`` profiled steps). Only these long kernels are read from the profile: the
    profiler's own cost per call inflates the many short element-wise ones, so the rest of a
    step is taken as the unprofiled step time minus this."""
    from torch.profiler import ProfilerActivity, profile

    seconds = []
    for _ in range(repeats):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train_step(model, opt, x, y)
        seconds.append(sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in PRODUCT_KERNELS) / 1e6)
    return statistics.median(seconds)


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    out = model(x)
    loss = F.cross_entropy(out.mean(0), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--iters", type=int, default=3, help="training steps timed per repeat")
    parser.add_argument("--datasets", default="mnist,fashion_mnist,nmnist,fsdd,mitbih,sst2")
    parser.add_argument("--archs", default=",".join(models.list_architectures()))
    parser.add_argument("--profile", default=None, help="ARCH:DATASET: print a torch.profiler table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    archs = args.archs.split(",")
    if "mlp" not in archs:
        archs = ["mlp", *archs]
    peak = gemm_peak(args.threads)
    print(f"fp32 GEMM peak (torch.mm 1024^2, {args.threads} threads): {peak:.0f} GFLOP/s")
    print(f"B={args.batch}, T={args.steps} (event inputs: min(T, bins)), {args.iters} training steps "
          f"per repeat, median of {args.repeats} interleaved repeats")

    for name in args.datasets.split(","):
        info = data.info(name)
        ds = data.load(name, "test", limit=args.batch, seed=0)
        x, y = next(iter(ds.batches(args.batch)))
        nets, opts, flops = {}, {}, {}
        for arch in archs:
            torch.manual_seed(0)
            net = models.build(arch, info.input_spec, info.num_classes, num_steps=args.steps)
            nets[arch] = net
            opts[arch] = torch.optim.Adam(net.parameters(), lr=2e-3)
            flops[arch] = 6 * forward_macs_per_sample(net, x)
            train_step(net, opts[arch], x, y)  # warm-up
        product_s = {arch: product_seconds(nets[arch], opts[arch], x, y) / len(y) for arch in archs}
        if args.profile and args.profile.split(":")[1] == name:
            arch = args.profile.split(":")[0]
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                train_step(nets[arch], opts[arch], x, y)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        rates: dict[str, list[float]] = {a: [] for a in archs}
        for _ in range(args.repeats):
            for arch in archs:
                start = time.perf_counter()
                for _ in range(args.iters):
                    train_step(nets[arch], opts[arch], x, y)
                rates[arch].append(args.iters * len(y) / (time.perf_counter() - start))
        print(f"\n{name} ({info.input_spec.kind}, per-step input {tuple(nets['mlp'].encoder.out_shape)})")
        print(f"  {'architecture':12s} {'params':>8s} {'samples/s':>10s} {'MFLOP/sample':>13s} "
              f"{'GFLOP/s':>8s} {'of peak':>8s} {'x mlp (time/sample)':>22s} {'products':>9s} {'bound':>6s}")
        for arch in archs:
            rate = statistics.median(rates[arch])
            gflops = flops[arch] * rate / 1e9
            ratio, low, high = paired_ratio(rates["mlp"], rates[arch])
            at_peak = flops[arch] / (peak * 1e9)  # s per sample if the products ran at peak
            share = min(1.0, product_s[arch] * rate)
            rest = (1.0 - share) / rate  # s per sample of everything else, as measured
            bound = at_peak / (at_peak + rest)
            print(f"  {arch:12s} {models.count_parameters(nets[arch]):8d} {rate:10.0f} {flops[arch] / 1e6:13.2f} "
                  f"{gflops:8.1f} {gflops / peak:8.2f} {ratio:10.1f} ({low:.1f}-{high:.1f})"
                  f"{share:>9.0%} {bound:6.2f}")


if __name__ == "__main__":
    main()
