"""neuroenergy.stats.paper: the claims' thresholds and verdict rules, on hand-picked numbers."""

from __future__ import annotations

import numpy as np
import pytest

from neuroenergy.stats import paper


def test_bound_compares_scalars_and_arrays():
    rule = paper.Bound(">=", 10 ** 2.5)
    assert rule.holds(316.3) and not rule.holds(316.2)
    assert rule.holds(np.array([100.0, 1000.0])).tolist() == [False, True]
    assert rule.describe(".0f") == ">= 316"
    with pytest.raises(ValueError, match="Bound.op"):
        paper.Bound("==", 1.0)


def test_anova_verdicts():
    claim = paper.ANOVA
    assert claim.main_effect_verdict(0.009) == "small (< 0.01)"
    assert claim.main_effect_verdict(0.01) == "no: larger than 0.01"
    assert claim.interaction_verdict(1e-5, 0.4, 0.001) == "yes: p < 0.001 and larger than the main effect"
    assert claim.interaction_verdict(0.001, 0.4, 0.001) == "no: p >= 0.001"
    assert claim.interaction_verdict(1e-5, 0.001, 0.4) == "no: not larger than the main effect"
    assert claim.best_verdict(2, 3) == "yes"
    assert claim.best_verdict(1, 3) == "no: one architecture is best everywhere"
    assert claim.best_verdict(1, 1) == "n/a: needs at least 2 datasets"


def test_sweep_and_efficiency_verdicts():
    assert paper.SWEEP.verdict(1, 2) == "partly: 1/2 architectures reach >= 316x with |change| < 0.5 pp"
    assert paper.SWEEP.margin_pp == 0.5
    claim = paper.EFFICIENCY
    assert claim.range_text() == "5-33%"
    assert claim.verdict(0.05, 0.01, 0.1) == "yes: within the paper's range; CI excludes 0"
    assert claim.verdict(0.4, -0.1, 0.9) == "gain larger than the paper's range; CI includes 0"
    assert claim.verdict(0.02, -0.01, 0.05) == "no: smaller than 5%; CI includes 0"
    assert claim.verdict(-0.2, -0.3, -0.1) == "no: baselines are as or more efficient; CI excludes 0"
