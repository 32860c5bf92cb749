"""Online baselines for a course nobody trained on: they learn from the course's own answers as
they arrive, in the same order as the model they are compared with (`bench.transfer`).

- `OnlineElo` (Pelanek, "Applications of the Elo rating system in adaptive educational
  systems", 2016): P(correct) = sigmoid(theta_student - difficulty), difficulty = mean skill
  difficulty + item residual; every answer moves the student's ability, its skills' and its
  item's difficulty by K(n) (correct - p), with the uncertainty function K(n) = a / (1 + b n)
  of the number of answers n each of them has seen.
- `OnlinePFA` (Pavlik, Cen & Koedinger 2009): logit = intercept + sum over the item's skills
  of (beta_k + gamma_k f(wins_k) + rho_k f(fails_k)), f the student's earlier wins and fails on
  the skill (f = log(1 + n) by default); fitted by online logistic regression (AdaGrad)
  over the stream, from zero.

Both predict an answer before they see it (`predict`, then `update`). Their settings were
chosen on the validation students of fold 1 of ASSIST2009 and ASSIST2015 (never on the test
students they are reported on): Elo a = 0.8, b = 0.05; PFA with log(1 + count) features (as
Best-LR; linear counts were 0.01-0.04 AUC worse there) and AdaGrad step 0.3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _sig(x: float) -> float:
    if x < -30:
        return 1e-13
    return 1.0 / (1.0 + math.exp(-x))


class OnlineElo:
    name = "elo"

    def __init__(self, a: float = 0.8, b: float = 0.05) -> None:
        self.a, self.b = a, b
        self.theta: dict[str, float] = {}
        self.n_student: dict[str, int] = {}
        self.skill: dict[int, float] = {}
        self.n_skill: dict[int, int] = {}
        self.item: dict[int, float] = {}
        self.n_item: dict[int, int] = {}

    def _k(self, n: int) -> float:
        return self.a / (1.0 + self.b * n)

    def _logit(self, student: str, item: int, skills: Sequence[int]) -> float:
        d = sum(self.skill.get(k, 0.0) for k in skills) / max(len(skills), 1)
        if item:
            d += self.item.get(item, 0.0)
        return self.theta.get(student, 0.0) - d

    def predict(self, student: str, item: int, skills: Sequence[int]) -> float:
        return _sig(self._logit(student, item, skills))

    def update(self, student: str, item: int, skills: Sequence[int], correct: int) -> None:
        r = correct - self.predict(student, item, skills)
        ns = self.n_student.get(student, 0)
        self.theta[student] = self.theta.get(student, 0.0) + self._k(ns) * r
        self.n_student[student] = ns + 1
        for k in skills:
            n = self.n_skill.get(k, 0)
            self.skill[k] = self.skill.get(k, 0.0) - self._k(n) * r / max(len(skills), 1)
            self.n_skill[k] = n + 1
        if item:
            n = self.n_item.get(item, 0)
            self.item[item] = self.item.get(item, 0.0) - self._k(n) * r
            self.n_item[item] = n + 1


class OnlinePFA:
    name = "pfa"

    def __init__(self, lr: float = 0.3, l2: float = 1e-4, log_counts: bool = True) -> None:
        self.lr, self.l2, self.log_counts = lr, l2, log_counts
        self.w: dict[tuple, float] = {}
        self.g2: dict[tuple, float] = {}
        self.counts: dict[tuple[str, int], list[int]] = {}

    def _features(self, student: str, skills: Sequence[int]) -> list[tuple[tuple, float]]:
        f: list[tuple[tuple, float]] = [(("b",), 1.0)]
        for k in skills:
            nw, nf = self.counts.get((student, k), (0, 0))
            w, l_ = (math.log1p(nw), math.log1p(nf)) if self.log_counts else (nw, nf)
            f += [(("beta", k), 1.0), (("gamma", k), float(w)), (("rho", k), float(l_))]
        return f

    def predict(self, student: str, item: int, skills: Sequence[int]) -> float:
        return _sig(sum(self.w.get(k, 0.0) * v for k, v in self._features(student, skills)))

    def update(self, student: str, item: int, skills: Sequence[int], correct: int) -> None:
        feats = self._features(student, skills)
        p = _sig(sum(self.w.get(k, 0.0) * v for k, v in feats))
        g = p - correct
        for k, v in feats:
            if v == 0.0:
                continue
            gk = g * v + self.l2 * self.w.get(k, 0.0)
            self.g2[k] = self.g2.get(k, 0.0) + gk * gk
            self.w[k] = self.w.get(k, 0.0) - self.lr * gk / math.sqrt(self.g2[k] + 1e-8)
        for sk in skills:
            c = self.counts.setdefault((student, sk), [0, 0])
            c[0 if correct else 1] += 1
