"""What a training run returns: learning curve, final test figures, efficiency."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from neuroenergy.energy.report import EnergyReport
from neuroenergy.train.config import DEFAULT_ENERGY_NORM
from neuroenergy.train.metrics import balanced_accuracy, macro_f1, per_class_recall

__all__ = ["CurvePoint", "Efficiency", "TrainResult"]


@dataclass(frozen=True)
class CurvePoint:
    """One evaluation on the fixed held-out subset during training.

    Attributes:
        step: optimiser steps done so far.
        samples: training samples seen so far.
        epoch: fractional epochs done.
        ce: cross-entropy on the held-out subset (nats per sample).
        energy: the training energy term E on the held-out subset (per sample).
        accuracy: held-out accuracy (fraction in [0, 1]).
        train_synops: effective synaptic operations (MACs + ACs) of all training
            forward passes so far (total, not per sample).
        train_energy_pj: their cumulative energy in pJ under the run's cost table
            (forward passes only; see ``TrainResult.train_backward_energy_pj``).
        train_time_s: wall time spent training so far (evaluations excluded).
        wall_time_s: wall time since the run started (evaluations included).
    """

    step: int
    samples: int
    epoch: float
    ce: float
    energy: float
    accuracy: float
    train_synops: float
    train_energy_pj: float
    train_time_s: float
    wall_time_s: float


@dataclass(frozen=True)
class Efficiency:
    """Cost of reaching a target held-out accuracy for the first time."""

    target: float
    step: int
    samples: int
    train_synops: float
    train_energy_pj: float
    train_time_s: float


@dataclass(frozen=True)
class TrainResult:
    """Result of :func:`neuroenergy.train.fit`.

    ``status`` is ``ok`` or ``diverged`` (the loss became NaN or infinite at
    ``diverged_at_step``; the run stopped there and test figures are NaN).
    Test figures are on the whole test split; ``test_report`` is the
    ``measure`` report over it (per sample, summed over time).
    """

    status: str
    lam: float
    energy_term: str
    seed: int
    device: str
    steps: int
    samples: int
    epochs: float
    curve: tuple[CurvePoint, ...]
    test_accuracy: float
    test_ce: float
    test_energy: float
    test_report: EnergyReport | None
    train_synops: float
    train_energy_pj: float
    train_time_s: float
    wall_time_s: float
    num_parameters: int
    readout: str
    diverged_at_step: int | None = None
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    energy_norm: str = DEFAULT_ENERGY_NORM
    energy_scale: float = 1.0
    test_confusion: list[list[int]] | None = None

    #: Estimated backward-pass energy of all training steps (pJ, total): 2 x the forward
    #: synaptic operations of each trained layer, priced as MACs
    #: (``OperationCounter.backward_energy_pj_total``). ``train_energy_pj`` and the
    #: curves count forward passes only; forward + this is the whole training step.
    train_backward_energy_pj: float = math.nan

    @property
    def test_balanced_accuracy(self) -> float:
        """Mean per-class recall on the test split (chance 1/K); NaN when the run did not finish."""
        return math.nan if self.test_confusion is None else balanced_accuracy(np.asarray(self.test_confusion))

    @property
    def test_macro_f1(self) -> float:
        """Unweighted mean of per-class F1 on the test split; NaN when the run did not finish."""
        return math.nan if self.test_confusion is None else macro_f1(np.asarray(self.test_confusion))

    @property
    def test_per_class_recall(self) -> list[float]:
        """Recall of each class on the test split (NaN for a class with no test sample)."""
        return [] if self.test_confusion is None else per_class_recall(np.asarray(self.test_confusion)).tolist()

    def efficiency(self, target: float) -> Efficiency | None:
        """Steps, samples, training energy and time until the held-out accuracy
        first reached ``target`` (a fraction); None when it never did."""
        for point in self.curve:
            if point.accuracy >= target:
                return Efficiency(target, point.step, point.samples, point.train_synops,
                                  point.train_energy_pj, point.train_time_s)
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (the test report as its own ``to_dict()``)."""
        data = asdict(self)
        data["test_report"] = self.test_report.to_dict() if self.test_report is not None else None
        data["curve"] = [asdict(p) for p in self.curve]
        return data

    def __str__(self) -> str:
        if self.status != "ok":
            return f"TrainResult: {self.status} at step {self.diverged_at_step} ({self.message})"
        energy = self.test_report.total.energy_pj if self.test_report else math.nan
        return (f"TrainResult: test accuracy {self.test_accuracy:.4f} "
                f"(balanced {self.test_balanced_accuracy:.4f}, macro-F1 {self.test_macro_f1:.4f}), CE {self.test_ce:.4f} nats/sample, "
                f"E[{self.energy_term}] {self.test_energy:.4g}/sample, inference {energy:.4g} pJ/sample "
                f"({self.test_report.costs.name if self.test_report else '-'}); {self.steps} steps, "
                f"training {self.train_energy_pj:.4g} pJ in total, {self.train_time_s:.1f} s")
