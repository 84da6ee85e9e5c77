"""Speed of neuroenergy.data: cache build, cached load, batch throughput.

For every dataset and split, into a fresh (temporary) cache directory:
  first load   verification (sha256 of every source file) + parsing +
               preprocessing + writing the array cache
  cached load  checksum memo + reading the cached arrays (median of 3)
  batches      samples/s of ``batches(256)`` over the whole split, in file
               order and shuffled, with the conversion to float32 / int64
Then MNIST train's second load against the 1 s target, in this process and
in a fresh process (interpreter start and imports excluded).

Run: .venv/bin/python benchmarks/bench_data.py [--root DIR] [--batch-size N] [--cache DIR]
The data root defaults to $NEUROENERGY_DATA, else ../shared/data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def throughput(dataset, batch_size: int, shuffle: bool) -> float:
    start = time.perf_counter()
    n = 0
    for x, _ in dataset.batches(batch_size, shuffle=shuffle, seed=0):
        n += x.shape[0]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("NEUROENERGY_DATA", str(REPO / ".." / "shared" / "data")))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--cache", help="cache directory (default: a fresh temporary one)")
    args = parser.parse_args()

    if args.cache:
        run(args, args.cache)
    else:
        with tempfile.TemporaryDirectory(prefix="neuroenergy-bench-cache-") as cache:
            run(args, cache)


def run(args: argparse.Namespace, cache: str) -> None:
    os.environ["NEUROENERGY_CACHE"] = cache
    os.environ["NEUROENERGY_OFFLINE"] = "1"  # a benchmark must never wait on the network
    root = str(Path(args.root).resolve())

    import torch

    import neuroenergy.data as data

    print(f"data root {root}\ncache     {cache}\ntorch threads {torch.get_num_threads()}, batch size {args.batch_size}\n")
    header = f"{'dataset':<14}{'split':<6}{'n':>7}  {'first load':>10}  {'cached':>8}  {'batches/s seq':>14}  {'shuffled':>10}"
    print(header + "\n" + "-" * len(header))
    for name in data.list_datasets():
        for split in data.SPLITS:
            start = time.perf_counter()
            d = data.load(name, split, root=root)
            first = time.perf_counter() - start
            cached = []
            for _ in range(3):
                start = time.perf_counter()
                d = data.load(name, split, root=root)
                cached.append(time.perf_counter() - start)
            seq = throughput(d, args.batch_size, shuffle=False)
            shuf = throughput(d, args.batch_size, shuffle=True)
            print(
                f"{name:<14}{split:<6}{len(d):>7}  {first:>9.2f}s  {statistics.median(cached):>7.3f}s  "
                f"{seq:>12,.0f}/s  {shuf:>8,.0f}/s"
            )

    second = []
    for _ in range(5):
        start = time.perf_counter()
        data.load("mnist", "train", root=root)
        second.append(time.perf_counter() - start)
    code = (
        "import time, neuroenergy.data as d; t = time.perf_counter(); "
        f"d.load('mnist', 'train', root={root!r}); print(time.perf_counter() - t)"
    )
    fresh = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    verdict = "OK" if max(statistics.median(second), fresh) < 1.0 else "TOO SLOW"
    print(
        f"\nMNIST train second load: {statistics.median(second):.3f} s (median of 5, same process), "
        f"{fresh:.3f} s (fresh process, imports excluded); target < 1 s: {verdict}"
    )


if __name__ == "__main__":
    main()
