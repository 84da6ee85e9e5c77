"""Shared by the benchmark scripts: ratios of timings measured side by side.

This machine's speed drifts within minutes, so a ratio is taken within each
repeat (the two sides run back to back) and summarised over repeats, rather
than dividing two medians taken at different moments.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> tuple[float, float, float]:
    """Median, lowest and highest of the per-repeat ratios ``ours[i] / theirs[i]``."""
    ratios = sorted(a / b for a, b in zip(ours, theirs, strict=True))
    return statistics.median(ratios), ratios[0], ratios[-1]
