"""Training throughput of neuroenergy.train.fit against a hand-written snnTorch
tutorial training loop, on the same network (784-H-10 LIF MLP), data and batches.

The tutorial loop (snnTorch tutorial 5 style): per batch, encode, loop over
time steps calling Linear and Leaky per step, cross-entropy on the mean output
membrane, backward, Adam step. fit() does the same training plus what a study
needs: the energy term in the loss, counting of every training forward pass
(training energy in pJ) and learning-curve evaluations.

Prints, as medians over repeats run interleaved in one process, per encoder:
  samples/s of the tutorial loop (training only, and with tutorial 5's no-grad
  test batch after every step, its way of tracking held-out loss), of fit()'s
  training loop (evaluations excluded: train_time_s), of fit() without op
  counting, and of fit() end to end (its learning-curve evaluations and the
  final test-split evaluation included); and the ratios fit / tutorial
  (target >= 2, never below 1): training loop against training loop, end to
  end against the tutorial with its test pass (and, stricter, without);
  each ratio is the median (and range) of the per-repeat ratios.

Run: NEUROENERGY_DATA=../shared/data .venv/bin/python benchmarks/bench_train.py [--repeats N] [--device cuda]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from snntorch import spikegen

from repeats import paired_ratio

from neuroenergy import data, models
from neuroenergy.models.reference import TutorialMLP, copy_mlp_weights
from neuroenergy.train import fit, resolve_device


def tutorial_epoch(net: TutorialMLP, train, test, batch_size: int, steps: int, encoder: str, seed: int,
                   test_pass: bool, device: torch.device) -> int:
    """One epoch of the tutorial loop; returns the number of samples trained on.

    ``test_pass``: after every step, one no-grad forward pass on a test batch
    (tutorial 5 does this to track the test loss while training).
    """
    def encode(x):
        x = x.flatten(1)
        return spikegen.rate(x, num_steps=steps) if encoder == "rate" else x.expand(steps, *x.shape)

    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    test_x, test_y = (t.to(device) for t in next(iter(test.batches(batch_size))))
    seen = 0
    for x, y in train.batches(batch_size, shuffle=True, seed=seed):
        x, y = x.to(device), y.to(device)
        out = net(encode(x))
        loss = F.cross_entropy(out.mean(0), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
        if test_pass:
            with torch.no_grad():
                float(F.cross_entropy(net(encode(test_x)).mean(0), test_y))
    float(loss)  # wait for the last step (asynchronous on a GPU)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    info = data.info("mnist")
    train = data.load("mnist", "train", limit=args.samples)
    test = data.load("mnist", "test", limit=500)
    print(f"MNIST {args.samples} training samples, 1 epoch, B={args.batch}, T={args.steps}, "
          f"device {device}, {args.threads} threads; median of {args.repeats} interleaved repeats")
    for encoder in ("rate", "direct"):
        rates: dict[str, list[float]] = {"tutorial": [], "tutorial + test pass": [], "fit (training loop)": [],
                                         "fit (end to end)": [], "fit (no op counting)": []}
        for repeat in range(args.repeats):
            torch.manual_seed(repeat)
            model = models.build("mlp", info.input_spec, info.num_classes, num_steps=args.steps, encoder=encoder)
            ref = TutorialMLP(784, model.fcs[0].out_features, info.num_classes, beta=0.9)
            copy_mlp_weights(model, ref)
            for name, test_pass in (("tutorial", False), ("tutorial + test pass", True)):
                net = copy.deepcopy(ref).to(device)
                start = time.perf_counter()
                seen = tutorial_epoch(net, train, test, args.batch, args.steps, encoder, repeat, test_pass, device)
                rates[name].append(seen / (time.perf_counter() - start))
            start = time.perf_counter()
            result = fit(model, train, test, lam=1e-3, epochs=1, batch_size=args.batch, lr=2e-3, seed=repeat,
                         device=device, eval_size=200)
            rates["fit (end to end)"].append(result.samples / (time.perf_counter() - start))
            rates["fit (training loop)"].append(result.samples / result.train_time_s)
            torch.manual_seed(repeat)
            model = models.build("mlp", info.input_spec, info.num_classes, num_steps=args.steps, encoder=encoder)
            result = fit(model, train, test, lam=1e-3, epochs=1, batch_size=args.batch, lr=2e-3, seed=repeat,
                         device=device, eval_size=200, count_training_ops=False)
            rates["fit (no op counting)"].append(result.samples / result.train_time_s)
        medians = {name: statistics.median(values) for name, values in rates.items()}
        print(f"encoder {encoder}:")
        for name, value in medians.items():
            print(f"  {name:22s} {value:8.0f} samples/s")
        for ours, theirs in (("fit (training loop)", "tutorial"), ("fit (no op counting)", "tutorial"),
                             ("fit (end to end)", "tutorial + test pass"), ("fit (end to end)", "tutorial")):
            ratio, low, high = paired_ratio(rates[ours], rates[theirs])
            print(f"  ratio {ours} / {theirs}: median {ratio:.2f} "
                  f"(range {low:.2f}-{high:.2f}; target >= 2, never < 1)")


if __name__ == "__main__":
    main()
