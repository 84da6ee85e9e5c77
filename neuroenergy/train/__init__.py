"""Training with L = L_CE + lambda * E(theta, x): learning curves, efficiency, determinism.

``fit(model, train, test, lam=..., energy_term="activation", ...) -> TrainResult``.
The readout is the model output ``[T, B, K]`` averaged over time (for
neuroenergy models the output layer's membrane potential) used as logits; E is
recorded in the same forward pass, per sample.
"""

from neuroenergy.train.config import TrainingConfig
from neuroenergy.train.fit import evaluate, fit, readout_logits, resolve_device
from neuroenergy.train.result import CurvePoint, Efficiency, TrainResult

__all__ = ["fit", "TrainingConfig", "evaluate", "readout_logits", "resolve_device", "TrainResult", "CurvePoint", "Efficiency"]
