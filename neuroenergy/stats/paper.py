"""The paper's three findings, the thresholds this package tests them with, and the verdict rules.

Frasch 2026, "minAction.net: Energy-First Neural Architecture Design"
(arXiv 2604.24805). Only the abstract's numbers are available; where a claim is
qualitative ("about three orders of magnitude"), the threshold chosen here is
named and explained so a reader can disagree with it.

Each finding is one frozen dataclass instance (:data:`ANOVA`, :data:`SWEEP`,
:data:`EFFICIENCY`): what the paper says, the threshold, and a method that
turns measured numbers into the verdict the report prints. The statistics
(:mod:`~neuroenergy.stats.sweep`, :mod:`~neuroenergy.stats.efficiency`), the
figures and the report read these objects when they run, so a threshold changed
here changes every flag, figure and verdict at once.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

__all__ = [
    "PAPER",
    "Bound",
    "AnovaClaim",
    "SweepClaim",
    "EfficiencyClaim",
    "ANOVA",
    "SWEEP",
    "EFFICIENCY",
    "POSTHOC_ALPHA",
    "normalise_dataset_name",
]

PAPER = ('Frasch 2026, "minAction.net: Energy-First Neural Architecture Design" '
         "(arXiv 2604.24805)")

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Bound:
    """A one-sided threshold: a measured ``value`` passes when ``value <op> limit``.

    ``holds`` works element-wise on numpy arrays and pandas Series as well.
    """

    op: str
    limit: float

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"Bound.op must be one of {sorted(_OPERATORS)}, not {self.op!r}")

    def holds(self, value: Any) -> Any:
        return _OPERATORS[self.op](value, self.limit)

    def describe(self, spec: str = "g") -> str:
        """The rule as text, e.g. ``"< 0.01"``."""
        return f"{self.op} {format(self.limit, spec)}"


@dataclass(frozen=True)
class AnovaClaim:
    """Finding 1: on accuracy (ANOVA over architecture x dataset) the architecture main effect is
    small and the interaction large, so no architecture is best everywhere."""

    #: Partial eta^2 of the architecture main effect on accuracy, as the paper states it.
    paper_main_effect: float = 0.001
    #: Partial eta^2 of the architecture x dataset interaction on accuracy, as the paper states it.
    paper_interaction: float = 0.44
    #: Our rule for "small": the main effect's partial eta^2 (Cohen's "small" begins at 0.01).
    main_effect_small: Bound = Bound("<", 0.01)
    #: The interaction's p-value passes this (the paper: p < 0.001).
    interaction_p: Bound = Bound("<", 0.001)
    #: "No universal best" needs at least this many datasets to be testable.
    min_datasets: int = 2

    def main_effect_verdict(self, partial_eta2: float) -> str:
        if self.main_effect_small.holds(partial_eta2):
            return f"small ({self.main_effect_small.describe()})"
        return f"no: larger than {self.main_effect_small.limit:g}"

    def interaction_verdict(self, p: float, partial_eta2: float, main_effect_partial_eta2: float) -> str:
        """Holds when p passes :attr:`interaction_p` and the interaction exceeds the main effect."""
        significant = bool(self.interaction_p.holds(p))
        if significant and partial_eta2 > main_effect_partial_eta2:
            return f"yes: p {self.interaction_p.describe()} and larger than the main effect"
        if not significant:
            return f"no: p >= {self.interaction_p.limit:g}"
        return "no: not larger than the main effect"

    def best_verdict(self, n_distinct_best: int, n_datasets: int) -> str:
        """``n_distinct_best``: how many different architectures rank first (ties included)."""
        if n_datasets < self.min_datasets:
            return f"n/a: needs at least {self.min_datasets} datasets"
        return "yes" if n_distinct_best > 1 else "no: one architecture is best everywhere"


@dataclass(frozen=True)
class SweepClaim:
    """Finding 2: at the strongest lambda, about three orders of magnitude less activation energy
    than at lambda = 0 with an accuracy change under 0.5 pp (MNIST, Fashion-MNIST)."""

    #: The lambda levels of the paper's sweep.
    lambdas: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
    #: The lambda at which the energy claim is stated (the strongest level).
    claim_lam: float = 1e-2
    #: "About three orders of magnitude" lower activation energy than lambda = 0.
    paper_reduction: float = 1000.0
    #: The reduction factor (lambda=0 energy / lambda energy, geometric mean over seeds) from which
    #: we say the energy claim holds: 10**2.5 ~ 316x, the smallest factor whose order of magnitude
    #: rounds to 3 (log10 >= 2.5). 100x is two orders of magnitude, not three, and does not count.
    energy_reduction: Bound = Bound(">=", 10 ** 2.5)
    #: |accuracy change| (percentage points vs lambda = 0) below which the paper calls the energy
    #: term free; also the margin of the equivalence test.
    accuracy_change_pp: Bound = Bound("<", 0.5)
    #: Level of each of the two one-sided t-tests (TOST) that test equivalence to lambda = 0 within
    #: +-accuracy_change_pp: equivalent when both reject at 5%, i.e. when the 90% (1 - 2 alpha) CI of
    #: the paired accuracy change lies inside the margin (Schuirmann 1987).
    tost_alpha: float = 0.05
    #: Datasets on which the paper states the claim (our registry names).
    datasets: tuple[str, ...] = ("mnist", "fashion_mnist")
    #: An E(max lambda)/E(0) ratio above this means the sweep barely moved the energy.
    barely_moved_ratio: float = 0.5

    @property
    def margin_pp(self) -> float:
        """The equivalence margin, percentage points of accuracy."""
        return float(self.accuracy_change_pp.limit)

    def paper_text(self) -> str:
        return (f"~{self.paper_reduction:g}x lower activation energy, |acc change| "
                f"{self.accuracy_change_pp.describe()} pp at λ = {self.claim_lam:g}")

    def verdict(self, n_holding: int, n_architectures: int) -> str:
        """``n_holding`` of ``n_architectures`` pass both the energy and the accuracy rule."""
        word = "yes" if n_holding == n_architectures else "partly" if n_holding else "no"
        return (f"{word}: {n_holding}/{n_architectures} architectures reach "
                f"{self.energy_reduction.describe('.0f')}x with |change| {self.accuracy_change_pp.describe()} pp")


@dataclass(frozen=True)
class EfficiencyClaim:
    """Finding 3: energy-first architectures train 5% to 33% more efficiently than baselines within a
    modality."""

    #: The paper's range of the gain (fractions), inclusive.
    gain_range: tuple[float, float] = (0.05, 0.33)
    #: The metric the verdict reads: unlike energy or time it does not scale with per-sample cost.
    metric: str = "steps_to_target"

    def in_range(self, gain: Any) -> Any:
        """Element-wise: ``low <= gain <= high``."""
        low, high = self.gain_range
        return (gain >= low) & (gain <= high)

    def range_text(self) -> str:
        """The range in percent, e.g. ``"5-33%"``."""
        low, high = self.gain_range
        return f"{low * 100:g}-{high * 100:g}%"

    def paper_text(self) -> str:
        low, high = self.gain_range
        return f"energy-first {low:.0%}-{high:.0%} more efficient than baselines within a modality"

    def verdict(self, gain: float, ci_low: float, ci_high: float) -> str:
        """``gain`` = 1 - cost(energy-first) / cost(baseline), with its CI (fractions)."""
        low, high = self.gain_range
        if self.in_range(gain):
            verdict = "yes: within the paper's range"
        elif gain > high:
            verdict = "gain larger than the paper's range"
        elif gain > 0:
            verdict = f"no: smaller than {low:.0%}"
        else:
            verdict = "no: baselines are as or more efficient"
        return verdict + ("; CI excludes 0" if ci_low > 0 or ci_high < 0 else "; CI includes 0")


ANOVA = AnovaClaim()
SWEEP = SweepClaim()
EFFICIENCY = EfficiencyClaim()

#: Level at which a post-hoc comparison with the best architecture counts as "worse" (else "tied").
POSTHOC_ALPHA = 0.05


def normalise_dataset_name(name: str) -> str:
    """Lower case with ``-`` and spaces as ``_``, so "Fashion-MNIST" matches ``fashion_mnist``."""
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")
