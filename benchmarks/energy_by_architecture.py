"""Inference energy of the seven architectures on MNIST, compute-only and memory-aware,
beside the same layers run once as a conventional ANN.

Each architecture is built with its default config (T = --steps), trained briefly
with fit() (lambda = 0, --train samples, one epoch, seed 0), and measured on the
first --test MNIST test images. Prints per architecture: test accuracy (chance is
0.10), pJ per sample under 45nm-fp32 (compute only) and lemaire-2022 (compute,
addressing and memory), and SNN / ANN under each (below 1: the SNN is cheaper).

Run: .venv/bin/python benchmarks/energy_by_architecture.py [--train N] [--test N] [--steps T]
Needs the MNIST files (NEUROENERGY_DATA).
"""

from __future__ import annotations

import argparse
import time

import torch

from neuroenergy import data, models
from neuroenergy.train import evaluate, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    info = data.info("mnist")
    train = data.load("mnist", "train", limit=args.train)
    test = data.load("mnist", "test", limit=args.test)
    print(f"MNIST, T={args.steps}, trained on {args.train} images for 1 epoch (lambda=0, seed 0), "
          f"measured on {args.test} test images; pJ per sample, summed over time steps")
    print(f"{'architecture':12s} {'accuracy':>8s} {'45nm-fp32 pJ':>13s} {'SNN/ANN':>8s} "
          f"{'lemaire-2022 pJ':>16s} {'SNN/ANN':>8s} {'memory share':>12s} {'train s':>8s}")
    for name in models.list_architectures():
        torch.manual_seed(0)
        model = models.build(name, info.input_spec, info.num_classes, num_steps=args.steps)
        start = time.perf_counter()
        fit(model, train, test, epochs=1, seed=0, num_evals=1, eval_size=100, count_training_ops=False)
        seconds = time.perf_counter() - start
        result = evaluate(model, test, costs="45nm-fp32", compare_ann=True)
        compute = result["report"]
        memory = compute.with_costs("lemaire-2022")
        share = memory.total.memory_pj / memory.total.energy_pj
        print(f"{name:12s} {result['accuracy']:8.3f} {compute.total.energy_pj:13.4g} {compute.ann_ratio:8.2f} "
              f"{memory.total.energy_pj:16.4g} {memory.ann_ratio:8.2f} {share:12.2f} {seconds:8.1f}")


if __name__ == "__main__":
    main()
