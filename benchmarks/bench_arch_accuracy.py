"""Balanced accuracy of ``cnn`` and ``transformer`` at their defaults against
the earlier defaults, at one small equal training budget, on every dataset.

"before": the defaults up to issue 13 (cnn: stride-1 convs + max-pool 2;
transformer: patches 7/7/8/4/1 -> 16-48 tokens, 2 blocks), given as
overrides of today's config, so the widths are solved for the same
parameter budget. "after": today's defaults. Each run trains with
``neuroenergy.train.fit`` on the first ``--train-limit`` training samples
and reports balanced accuracy (mean per-class recall, computed here from
the predictions on ``--test-limit`` test samples) and the training time per
sample (fit's train_time_s / samples, milliseconds).

Run: NEUROENERGY_DATA=../shared/data .venv/bin/python benchmarks/bench_arch_accuracy.py
     [--datasets a,b] [--seeds N] [--epochs E] [--steps T]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from neuroenergy import data, models
from neuroenergy.train import fit

BEFORE = {
    "cnn": {"stride": {k: 1 for k in ("image", "events", "signal", "audio", "tokens")},
            "pool": {k: 2 for k in ("image", "events", "signal", "audio", "tokens")}},
    "transformer": {"patch": {"image": 7, "events": 7, "signal": 8, "audio": 4, "tokens": 1}, "depth": 2},
}


def balanced_accuracy(model: torch.nn.Module, test, num_classes: int, batch: int = 256) -> float:
    """Mean over the classes present in ``test`` of the fraction predicted right."""
    hit = torch.zeros(num_classes)
    count = torch.zeros(num_classes)
    model.eval()
    with torch.no_grad():
        for x, y in test.batches(batch):
            pred = model(x).mean(0).argmax(-1)
            count += torch.bincount(y, minlength=num_classes).float()
            hit += torch.bincount(y[pred == y], minlength=num_classes).float()
    present = count > 0
    return float((hit[present] / count[present]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fashion_mnist,nmnist,fsdd,mitbih,sst2")
    parser.add_argument("--archs", default="cnn,transformer")
    parser.add_argument("--train-limit", type=int, default=3000)
    parser.add_argument("--test-limit", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"train_limit {args.train_limit}, {args.epochs} epochs, T={args.steps}, B={args.batch}, "
          f"lr {args.lr}, {args.seeds} seed(s); balanced accuracy on {args.test_limit} test samples")
    print(f"{'dataset':14s} {'arch':12s} {'bal.acc before':>14s} {'bal.acc after':>14s} "
          f"{'ms/sample before':>17s} {'ms/sample after':>16s}")
    for name in args.datasets.split(","):
        info = data.info(name)
        train = data.load(name, "train", limit=args.train_limit, seed=0)
        test = data.load(name, "test", limit=args.test_limit, seed=0)
        for arch in args.archs.split(","):
            acc: dict[str, list[float]] = {"before": [], "after": []}
            cost: dict[str, list[float]] = {"before": [], "after": []}
            for seed in range(args.seeds):
                for label, overrides in (("before", BEFORE[arch]), ("after", {})):
                    torch.manual_seed(seed)
                    model = models.build(arch, info.input_spec, info.num_classes, num_steps=args.steps,
                                         **overrides)
                    result = fit(model, train, test, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
                                 seed=seed, device="cpu", num_evals=1, eval_size=200,
                                 count_training_ops=False)
                    acc[label].append(balanced_accuracy(model, test, info.num_classes))
                    cost[label].append(1e3 * result.train_time_s / result.samples)
            m = {k: statistics.mean(v) for k, v in acc.items()}
            c = {k: statistics.median(v) for k, v in cost.items()}
            print(f"{name:14s} {arch:12s} {m['before']:14.3f} {m['after']:14.3f} "
                  f"{c['before']:17.2f} {c['after']:16.2f}", flush=True)


if __name__ == "__main__":
    main()
