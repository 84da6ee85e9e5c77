"""The paper's three findings and the thresholds this package tests them with.

Frasch 2026, "minAction.net: Energy-First Neural Architecture Design"
(arXiv 2604.24805). Only the abstract's numbers are available; where a claim is
qualitative ("about three orders of magnitude"), the threshold chosen here is
named and explained so a reader can disagree with it.
"""

from __future__ import annotations

__all__ = [
    "PAPER",
    "ARCH_MAIN_EFFECT_PARTIAL_ETA2",
    "INTERACTION_PARTIAL_ETA2",
    "INTERACTION_P_BELOW",
    "PAPER_LAMBDAS",
    "CLAIM_LAMBDA",
    "PAPER_ENERGY_REDUCTION",
    "ENERGY_CLAIM_MIN_REDUCTION",
    "ACCURACY_CLAIM_MAX_PP",
    "TOST_ALPHA",
    "SWEEP_DATASETS",
    "EFFICIENCY_GAIN_RANGE",
    "normalise_dataset_name",
]

PAPER = ('Frasch 2026, "minAction.net: Energy-First Neural Architecture Design" '
         "(arXiv 2604.24805)")

# Finding 1: accuracy ANOVA (architecture x dataset).
#: Partial eta^2 of the architecture main effect on accuracy.
ARCH_MAIN_EFFECT_PARTIAL_ETA2 = 0.001
#: Partial eta^2 of the architecture x dataset interaction on accuracy.
INTERACTION_PARTIAL_ETA2 = 0.44
#: The interaction's p-value is below this.
INTERACTION_P_BELOW = 0.001

# Finding 2: lambda sweep.
#: The lambda levels of the paper's sweep.
PAPER_LAMBDAS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
#: The lambda at which the energy claim is stated (the strongest level).
CLAIM_LAMBDA = 1e-2
#: "About three orders of magnitude" lower activation energy than lambda = 0.
PAPER_ENERGY_REDUCTION = 1000.0
#: The reduction factor (lambda=0 energy / lambda energy, geometric mean over
#: seeds) from which we say the claim holds: 10**2.5 ~ 316x, the smallest factor
#: whose order of magnitude rounds to 3 (log10 >= 2.5). A factor of 100x is two
#: orders of magnitude, not three, and does not count.
ENERGY_CLAIM_MIN_REDUCTION = 10 ** 2.5
#: Accuracy change (percentage points, vs lambda = 0) below which the paper
#: calls the energy term free.
ACCURACY_CLAIM_MAX_PP = 0.5
#: Level of each of the two one-sided t-tests (TOST) with which the lambda sweep
#: tests equivalence to lambda = 0 within +-ACCURACY_CLAIM_MAX_PP: equivalent when
#: both reject at 5%, i.e. when the 90% (1 - 2 alpha) CI of the paired accuracy
#: change lies inside the margin (Schuirmann 1987, the usual equivalence test).
TOST_ALPHA = 0.05
#: Datasets on which the paper states the sweep claim (our registry names).
SWEEP_DATASETS = ("mnist", "fashion_mnist")

# Finding 3: training efficiency.
#: Energy-first architectures train this much more efficiently than baselines
#: within a modality (fractions: 5% to 33%).
EFFICIENCY_GAIN_RANGE = (0.05, 0.33)


def normalise_dataset_name(name: str) -> str:
    """Lower case with ``-`` and spaces as ``_``, so "Fashion-MNIST" matches ``fashion_mnist``."""
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")
