"""Strict-protocol metrics: AUC, accuracy, ECE, and AUC by position in a student's history."""

from __future__ import annotations

import math
from collections.abc import Sequence as Seq

import numpy as np
from sklearn.metrics import roc_auc_score

from meta_engine.types import Dataset

# 1-based, inclusive position windows in each test student's merged sequence; None = open end.
WINDOWS: tuple[tuple[str, int, int | None], ...] = (
    ("1-5", 1, 5),
    ("6-20", 6, 20),
    ("21+", 21, None),
)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present (AUC is undefined there, not 0.5)."""
    y = np.asarray(y)
    if y.size == 0 or np.unique(y).size < 2:
        return math.nan
    return float(roc_auc_score(y, p))


def fast_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged: equal to `auc` (tested)
    without sklearn's per-call validation, for bootstraps that call it thousands of times."""
    from scipy.stats import rankdata

    y = np.asarray(y)
    n1 = int(np.count_nonzero(y))
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(np.asarray(p, dtype=np.float64))
    return float((r[y != 0].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def accuracy(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    y = np.asarray(y)
    if y.size == 0:
        return math.nan
    return float(np.mean((np.asarray(p) >= threshold).astype(np.int64) == y))


def ece(y: np.ndarray, p: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error over equal-width probability bins (weighted by bin size)."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.size == 0:
        return math.nan
    # Bin b holds p in [b/n, (b+1)/n), with p == 1 in the last bin.
    b = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    conf = np.bincount(b, weights=p, minlength=n_bins)
    acc = np.bincount(b, weights=y, minlength=n_bins)
    nz = count > 0
    return float(np.sum(np.abs(conf[nz] - acc[nz])) / y.size)


def _check(predictions: Seq[np.ndarray], dataset: Dataset) -> None:
    if len(predictions) != len(dataset.sequences):
        raise ValueError(
            f"{len(predictions)} prediction arrays for {len(dataset.sequences)} sequences"
        )
    for i, (p, s) in enumerate(zip(predictions, dataset.sequences, strict=True)):
        if np.asarray(p).shape != (len(s),):
            raise ValueError(f"sequence {i}: predictions shape {np.shape(p)}, expected ({len(s)},)")
        if not np.all(np.isfinite(p)) or np.any((np.asarray(p) < 0) | (np.asarray(p) > 1)):
            raise ValueError(f"sequence {i}: predictions must be probabilities in [0, 1]")


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def evaluate(predictions: Seq[np.ndarray], dataset: Dataset) -> dict[str, object]:
    """Overall auc/acc/ece/n and per-window auc/n; NaNs are reported as None (JSON-safe)."""
    _check(predictions, dataset)
    if not dataset.sequences:
        return {"auc": None, "acc": None, "ece": None, "n": 0, "windows": {}}
    y = np.concatenate([s.correct for s in dataset.sequences])
    p = np.concatenate([np.asarray(q, dtype=np.float64) for q in predictions])
    pos = np.concatenate([np.arange(1, len(s) + 1) for s in dataset.sequences])
    windows: dict[str, dict[str, float | int | None]] = {}
    for name, lo, hi in WINDOWS:
        m = (pos >= lo) if hi is None else (pos >= lo) & (pos <= hi)
        windows[name] = {"auc": _nan_to_none(auc(y[m], p[m])), "n": int(m.sum())}
    return {
        "auc": _nan_to_none(auc(y, p)),
        "acc": _nan_to_none(accuracy(y, p)),
        "ece": _nan_to_none(ece(y, p)),
        "n": int(y.size),
        "windows": windows,
    }
