from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from meta_engine.metrics import accuracy, auc, ece, evaluate
from meta_engine.types import Dataset, Sequence


def _seq(correct: list[int]) -> Sequence:
    n = len(correct)
    return Sequence("s", np.arange(1, n + 1), np.ones((n, 1), dtype=np.int64),
                    np.array(correct), np.zeros(n))


def test_auc_matches_sklearn_and_nan_on_single_class() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = rng.random(200)
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert auc(np.array([1, 0, 1]), np.array([0.9, 0.1, 0.8])) == 1.0
    assert math.isnan(auc(np.ones(5), np.linspace(0, 1, 5)))
    assert math.isnan(auc(np.array([]), np.array([])))


def test_accuracy_and_ece_known_values() -> None:
    y = np.array([1, 0, 1, 1])
    p = np.array([0.9, 0.6, 0.4, 0.5])
    assert accuracy(y, p) == 0.5  # 0.9->1 ok, 0.6->1 wrong, 0.4->0 wrong, 0.5->1 ok
    # All p in one bin [0.6, 0.667): |mean p - mean y| = |0.6 - 0.5|.
    assert ece(np.array([1, 0]), np.array([0.6, 0.6])) == pytest.approx(0.1)
    # Two bins, perfectly calibrated in neither: (2*|0.05-0| + 2*|0.95-1|)/4 = 0.05.
    assert ece(np.array([0, 0, 1, 1]), np.array([0.05, 0.05, 0.95, 0.95])) == pytest.approx(0.05)
    assert ece(np.array([1]), np.array([1.0])) == 0.0  # p == 1 falls in the last bin


def test_evaluate_windows_use_1_based_positions() -> None:
    ds = Dataset("d", [_seq([1, 0] * 15), _seq([0, 1, 1])], 30, 1)
    # Perfect predictions in positions 1-5 only, anti-perfect elsewhere.
    preds = []
    for s in ds.sequences:
        p = np.where(s.correct == 1, 0.2, 0.8).astype(float)
        p[:5] = np.where(s.correct[:5] == 1, 0.8, 0.2)
        preds.append(p)
    out = evaluate(preds, ds)
    w = out["windows"]
    assert isinstance(w, dict)
    assert w["1-5"] == {"auc": 1.0, "n": 8}
    assert w["6-20"]["auc"] == 0.0 and w["6-20"]["n"] == 15
    assert w["21+"]["n"] == 10
    assert out["n"] == 33
    with pytest.raises(ValueError):
        evaluate(preds[:1], ds)
    with pytest.raises(ValueError):
        evaluate([preds[0], np.full(3, 1.5)], ds)


def test_fast_auc_equals_auc() -> None:
    from meta_engine.metrics import fast_auc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500) + 0.2 * y, 2)  # with ties
    assert fast_auc(y, p) == pytest.approx(auc(y, p), abs=1e-12)
    assert np.isnan(fast_auc(np.ones(3), np.zeros(3)))
