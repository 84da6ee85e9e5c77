"""Classification metrics from a confusion matrix: pure functions, no torch.

``confusion[i, j]`` counts test samples of true class ``i`` predicted as ``j``
(``K x K``). Balanced accuracy and macro-F1 mean the same on balanced and
imbalanced test sets, which plain accuracy does not (a majority-class
predictor scores ~0.75 on MIT-BIH's AAMI classes, 0.20 balanced).
"""

from __future__ import annotations

import numpy as np

__all__ = ["per_class_recall", "balanced_accuracy", "macro_f1", "confusion_matrix"]


def confusion_matrix(targets, predictions, num_classes: int) -> np.ndarray:
    """``K x K`` integer counts: rows are true classes, columns predicted ones."""
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    predictions = np.asarray(predictions, dtype=np.int64).reshape(-1)
    return np.bincount(targets * num_classes + predictions, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def per_class_recall(confusion: np.ndarray) -> np.ndarray:
    """Recall of each class (fraction of its test samples predicted right); NaN for a class with no test sample."""
    confusion = np.asarray(confusion, dtype=float)
    support = confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(confusion) / support, np.nan)


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean per-class recall over the classes present in the test set (chance: 1/K)."""
    recall = per_class_recall(confusion)
    return float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan")


def macro_f1(confusion: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes that occur as a target or a prediction.

    F1 = 2 TP / (2 TP + FP + FN); a class that is present but never predicted
    right scores 0.
    """
    confusion = np.asarray(confusion, dtype=float)
    tp = np.diag(confusion)
    fp = confusion.sum(0) - tp
    fn = confusion.sum(1) - tp
    present = (confusion.sum(0) + confusion.sum(1)) > 0
    if not present.any():
        return float("nan")
    return float(np.mean(2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])))
