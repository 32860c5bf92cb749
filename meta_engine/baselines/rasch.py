"""Rasch (1PL IRT) with item easiness fit on train and the student's ability re-fit online."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from meta_engine.baselines.common import Flat, flatten, has_items
from meta_engine.types import Dataset


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class OnlineRasch:
    """P(correct) = sigmoid(theta_student + easiness_item).

    Train: joint L2-regularised logistic fit of student abilities and item easiness (sklearn's
    penalty 1/(2C)·||w||² with C = ``prior_var`` is a N(0, prior_var) prior on every weight).
    Test: a new student starts at the prior mean 0; after each answer theta is the MAP estimate
    under the same N(0, prior_var) prior given all answers so far, by a few warm-started Newton
    steps (the 1-D posterior is log-concave, so 3 steps from the previous optimum suffice).
    Skill-only data uses skills as the items (multi-skill: the easiness is the sum).
    Never-seen items get the mean easiness of the train items sharing their skills.
    """

    name = "rasch"

    def __init__(self, prior_var: float = 1.0, newton_steps: int = 3) -> None:
        self.prior_var = prior_var
        self.newton_steps = newton_steps
        self.use_items = True
        self.intercept = 0.0
        self.item_w = np.zeros(1)
        self.item_seen = np.zeros(1, dtype=bool)
        self.skill_w = np.zeros(1)  # skill easiness (skill-only data) or item-mean backoff

    def _design(self, f: Flat, n_students: int, n_cols: int) -> sp.csr_matrix:
        if self.use_items:
            rows = np.concatenate([np.arange(f.n), np.arange(f.n)])
            cols = np.concatenate([f.seq, n_students + f.items])
        else:
            r, s = f.skill_pairs()
            rows = np.concatenate([np.arange(f.n), r])
            cols = np.concatenate([f.seq, n_students + s])
        vals = np.ones(rows.size)
        return sp.csr_matrix((vals, (rows, cols)), shape=(f.n, n_students + n_cols))

    def fit(self, train: Dataset, valid: Dataset) -> None:
        f = flatten(train)
        self.use_items = has_items(train)
        n_s = len(train.sequences)
        n_cols = (train.n_items if self.use_items else train.n_skills) + 1
        x = self._design(f, n_s, n_cols)
        lr = LogisticRegression(C=self.prior_var, max_iter=300, tol=1e-5)
        lr.fit(x, f.correct)
        self.intercept = float(lr.intercept_[0])
        w = lr.coef_[0][n_s:]
        if self.use_items:
            self.item_w = w
            self.item_seen = np.bincount(f.items, minlength=n_cols) > 0
            self.item_seen[0] = False
            # Backoff for unseen items: mean easiness of seen items sharing a skill.
            n_sk = train.n_skills + 1
            sums, cnts = np.zeros(n_sk), np.zeros(n_sk)
            for i, sks in train.item_skills.items():
                if i < n_cols and self.item_seen[i]:
                    for s in sks:
                        if s < n_sk:
                            sums[s] += w[i]
                            cnts[s] += 1
            self.skill_w = np.where(cnts > 0, sums / np.maximum(cnts, 1), 0.0)
        else:
            self.skill_w = w

    def easiness(self, f: Flat) -> np.ndarray:
        sk = np.where(f.skills < self.skill_w.size, f.skills, 0)
        sw = np.where(sk > 0, self.skill_w[sk], 0.0)
        if not self.use_items:
            return self.intercept + sw.sum(axis=1)
        cnt = np.maximum((sk > 0).sum(axis=1), 1)
        backoff = sw.sum(axis=1) / cnt
        it = np.where(f.items < self.item_seen.size, f.items, 0)
        return self.intercept + np.where(self.item_seen[it], self.item_w[it], backoff)

    def predict(self, data: Dataset) -> list[np.ndarray]:
        f = flatten(data)
        e_all = f.split(self.easiness(f))
        out = []
        for e, seq in zip(e_all, data.sequences, strict=True):
            y = seq.correct.astype(np.float64)
            p = np.empty(len(seq))
            theta = 0.0
            for t in range(len(seq)):
                p[t] = 1.0 / (1.0 + math.exp(-(theta + e[t])))
                # Only now is answer t used, to update theta for interaction t+1.
                eh, yh = e[: t + 1], y[: t + 1]
                for _ in range(self.newton_steps):
                    q = _sigmoid(theta + eh)
                    g = float(np.sum(yh - q)) - theta / self.prior_var
                    h = float(np.sum(q * (1.0 - q))) + 1.0 / self.prior_var
                    theta += g / h
            out.append(np.clip(p, 1e-4, 1 - 1e-4))
        return out
