"""Balanced accuracy and macro-F1 against hand computations on known confusion matrices."""

import math

import numpy as np
import pytest

from neuroenergy.train.metrics import balanced_accuracy, confusion_matrix, macro_f1, per_class_recall

# rows: true class, columns: predicted class
CONFUSION = np.array([[5, 1, 0],
                      [2, 3, 1],
                      [0, 0, 4]])


def test_per_class_recall_and_balanced_accuracy_by_hand():
    # recalls 5/6, 3/6, 4/4 -> balanced accuracy (5/6 + 1/2 + 1) / 3 = 7/9; plain accuracy 12/16 = 0.75
    np.testing.assert_allclose(per_class_recall(CONFUSION), [5 / 6, 0.5, 1.0])
    assert balanced_accuracy(CONFUSION) == pytest.approx(7 / 9)


def test_macro_f1_by_hand():
    # F1 = 2TP / (2TP + FP + FN): class 0: 10/(10+2+1); class 1: 6/(6+1+3); class 2: 8/(8+1+0)
    assert macro_f1(CONFUSION) == pytest.approx((10 / 13 + 6 / 10 + 8 / 9) / 3)


def test_absent_and_never_right_classes():
    # Class 3 never occurs and is never predicted: left out of both means. Class 2 occurs but is
    # never predicted right: recall 0, F1 0, both count.
    c = np.array([[2, 0, 0, 0],
                  [0, 2, 0, 0],
                  [1, 1, 0, 0],
                  [0, 0, 0, 0]])
    recall = per_class_recall(c)
    assert recall[:3].tolist() == [1.0, 1.0, 0.0] and math.isnan(recall[3])
    assert balanced_accuracy(c) == pytest.approx(2 / 3)
    # F1: class 0: 4/(4+1) = 0.8, class 1: 0.8, class 2: 0 -> 1.6 / 3
    assert macro_f1(c) == pytest.approx(1.6 / 3)


def test_majority_predictor_scores_chance_on_balanced_accuracy():
    # 75 % of the test set in class 0, everything predicted as class 0: accuracy 0.75, balanced 1/K.
    targets = np.array([0] * 75 + [1] * 15 + [2] * 10)
    c = confusion_matrix(targets, np.zeros_like(targets), 3)
    assert c.tolist() == [[75, 0, 0], [15, 0, 0], [10, 0, 0]]
    assert balanced_accuracy(c) == pytest.approx(1 / 3)
    assert macro_f1(c) == pytest.approx((2 * 75 / (150 + 25)) / 3)
