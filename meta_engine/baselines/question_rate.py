"""Per-question training correct rate: the floor every model must beat."""

from __future__ import annotations

import numpy as np

from meta_engine.baselines.common import flatten
from meta_engine.types import Dataset


class QuestionRate:
    """P(correct) = smoothed correct rate of the item on train, ignoring the student.

    The item rate is shrunk towards its skills' mean rate with ``strength`` pseudo-answers, so
    rare items borrow from their skills and never-seen items get the skill rate (or the global
    rate when the skills are unseen too). Skill-only data (item 0) uses the skill rate.
    """

    name = "question_rate"

    def __init__(self, strength: float = 5.0) -> None:
        self.strength = strength
        self.global_rate = 0.5
        self.item_n: np.ndarray = np.zeros(1)
        self.item_c: np.ndarray = np.zeros(1)
        self.skill_rate: np.ndarray = np.full(1, 0.5)

    def fit(self, train: Dataset, valid: Dataset) -> None:
        f = flatten(train)
        self.global_rate = float(f.correct.mean()) if f.n else 0.5
        n_i = max(train.n_items, int(f.items.max(initial=0))) + 1
        self.item_n = np.bincount(f.items, minlength=n_i).astype(np.float64)
        self.item_c = np.bincount(f.items, weights=f.correct, minlength=n_i)
        self.item_n[0] = self.item_c[0] = 0.0  # item 0 means "no question id", not a question
        rows, sk = f.skill_pairs()
        n_s = max(train.n_skills, int(sk.max(initial=0))) + 1
        sn = np.bincount(sk, minlength=n_s)
        sc = np.bincount(sk, weights=f.correct[rows], minlength=n_s)
        self.skill_rate = (sc + self.strength * self.global_rate) / (sn + self.strength)

    def _skill_prior(self, skills: np.ndarray) -> np.ndarray:
        sk = np.where(skills < self.skill_rate.size, skills, 0)
        rate = np.where(sk > 0, self.skill_rate[sk], 0.0)
        cnt = (sk > 0).sum(axis=1)
        return np.where(cnt > 0, rate.sum(axis=1) / np.maximum(cnt, 1), self.global_rate)

    def predict(self, data: Dataset) -> list[np.ndarray]:
        f = flatten(data)
        prior = self._skill_prior(f.skills)
        it = np.where(f.items < self.item_n.size, f.items, 0)
        n, c = self.item_n[it], self.item_c[it]
        p = (c + self.strength * prior) / (n + self.strength)
        return f.split(np.clip(p, 1e-4, 1 - 1e-4))
