"""Online calibration of an item's difficulty residual as answers arrive.

An item the model never saw in training is placed from its skills (residual 0) or from its
`difficulty_prior`; every answer to it then moves a Gaussian estimate of its residual
(logit units, harder = larger, the same quantity `Item.difficulty_prior` holds) by one
Laplace / Newton step on that answer's log-likelihood, as Glicko does for ratings:

    p  = model's calibrated P(correct) for this student with the current mean residual
    precision' = precision + a^2 p (1 - p)          a = Platt slope: d logit / d(-residual)
    mean'      = mean - a (correct - p) / precision'

so an item that students keep getting right more often than predicted gets easier, with
steps that shrink as evidence accumulates. Pure functions: storage is the caller's job.

This is the older, item-only form that `workers` still calls; `meta_engine.model.tables`
generalises it to every per-course table (bias, skills, items, count weights) with a joint
step over all entries an answer touches, and `meta_engine.serve` applies it per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meta_engine.model.serving import Model, StudentState, predict
from meta_engine.types import Item

# Learned residuals are shrunk by l2_item, so their spread understates how far an unseen
# item can sit from its skills' mean; never assume a tighter prior than sd = 1 logit.
MIN_PRIOR_SD = 1.0


@dataclass(frozen=True)
class ItemEstimate:
    mean: float  # residual difficulty (logit), replaces the learned residual in predictions
    precision: float  # 1 / variance of that estimate
    n: int = 0  # answers folded in

    @property
    def sd(self) -> float:
        return float(1.0 / np.sqrt(self.precision))

    def to_dict(self) -> dict:
        return {"mean": self.mean, "precision": self.precision, "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> ItemEstimate:
        return cls(float(d["mean"]), float(d["precision"]), int(d.get("n", 0)))


def residual_prior_precision(model: Model) -> float:
    """Prior precision of an unseen item's residual: the spread of the trained items'
    residuals around their skills' mean, floored at sd MIN_PRIOR_SD."""
    r = model.net.tables.item.detach().cpu().numpy()[1:]
    r = r[np.abs(r) > 1e-6]  # items never seen in training keep exactly 0
    var = float(r.var()) if r.size >= 10 else 0.0
    return 1.0 / max(var, MIN_PRIOR_SD**2)


def known_residual(model: Model, item_id: int) -> float:
    if 0 < item_id <= model.n_items:
        return float(model.net.tables.item.detach()[item_id])
    return 0.0


def prior_estimate(model: Model, item: Item, use_item_residuals: bool = True) -> ItemEstimate:
    """Where an item starts: its difficulty_prior, else its learned residual, else 0 (its
    skills' mean) — exactly what `predict` uses when no estimate is given."""
    if item.difficulty_prior is not None:
        mean = float(item.difficulty_prior)
    else:
        mean = known_residual(model, item.id) if use_item_residuals else 0.0
    return ItemEstimate(mean, residual_prior_precision(model), 0)


def update_estimate(est: ItemEstimate, p_correct: float, correct: int | bool,
                    slope: float) -> ItemEstimate:
    """One Laplace step of the residual for one observed answer (see the module doc)."""
    p = min(max(float(p_correct), 1e-6), 1 - 1e-6)
    precision = est.precision + slope * slope * p * (1 - p)
    mean = est.mean - slope * (int(correct) - p) / precision
    return ItemEstimate(float(mean), float(precision), est.n + 1)


def calibrate_answer(model: Model, state_before: StudentState, item: Item, correct: int | bool,
                     est: ItemEstimate | None = None,
                     use_item_residuals: bool = True) -> ItemEstimate:
    """The item's estimate after this answer. `state_before` must be adapted on the answers
    strictly before it, so the answer is not predicted from itself."""
    est = est or prior_estimate(model, item, use_item_residuals)
    p = float(predict(model, state_before, [item], use_item_residuals,
                      item_residuals={item.id: est.mean})[0])
    return update_estimate(est, p, correct, float(model.net.calib_a))


def residuals(estimates: dict[int, ItemEstimate]) -> dict[int, float]:
    """Item id -> mean residual: the `item_residuals` argument of predict / select."""
    return {i: e.mean for i, e in estimates.items()}
