"""Item statistics on one course's answers: attempts, proportion correct with a Wilson 95%
interval, a Rasch (1PL) difficulty, an item-rest discrimination, and flags in words.

Flags need `MIN_ATTEMPTS_FOR_FLAGS` answers: with fewer, "3 of 3 right" says nothing about a
question, and the interval the page shows makes that visible.

Why a fresh Rasch fit here rather than the workers' online calibration: those estimates are in
one model version's logit scale and live per bank across courses; a teacher asks how *this
class* found the question, which a small fit on the course's own answers answers directly. It
is numpy/scipy only (lti_tool never imports torch) and takes milliseconds for a class.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Flags need enough evidence to be more than noise.
MIN_ATTEMPTS_FOR_FLAGS = 20
MIN_STUDENTS_FOR_DISCRIMINATION = 10
TOO_EASY_ABOVE = 0.95
TOO_HARD_BELOW = 0.2
# Item-rest correlations under this mean stronger students do no better on the item.
WEAK_DISCRIMINATION = 0.1
# Gaussian priors (in logits) keep all-right or all-wrong items and students finite.
ABILITY_PRIOR_SD = 1.5
DIFFICULTY_PRIOR_SD = 2.5


@dataclass(frozen=True)
class Response:
    """One graded answer: who (any hashable id), which item, right or wrong."""

    student: int
    item: int
    correct: bool


@dataclass(frozen=True)
class RaschFit:
    """Maximum a posteriori abilities and difficulties: P(right) = sigmoid(ability - difficulty).

    Abilities have a prior centred on 0, so difficulty 0 is a question that the class's average
    student gets right half the time.
    """

    ability: dict[int, float]
    difficulty: dict[int, float]


@dataclass
class ItemStat:
    item: int
    attempts: int
    correct: int
    students: int
    difficulty: float | None
    discrimination: float | None  # None when too few students to compute it
    flags: list[str] = field(default_factory=list)

    @property
    def p_correct(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.attempts)

    @property
    def share_in_words(self) -> str:
        """ "40% right (likely 25-57%)": the share of right answers and where the true share
        most likely lies, in words a teacher reads without statistics."""
        low, high = self.interval
        return (f"{self.p_correct:.0%} right (likely {100 * low:.0f}-{100 * high:.0f}%)"
                if self.attempts else "no answers")


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% with the default z) for a proportion: unlike the
    normal approximation it stays inside [0, 1] and is honest for small counts and for
    all-right or all-wrong questions. (0, 1) without trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders numbers inside names by value: "Q2" before "Q10"; case and the
    spaces around numbers do not count ("Q 3" between "q2" and "Q10")."""
    parts = (p.strip() for p in _DIGITS.split(text.casefold()))
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _index(values: Sequence[int]) -> tuple[list[int], np.ndarray]:
    keys = sorted(set(values))
    pos = {k: n for n, k in enumerate(keys)}
    return keys, np.fromiter((pos[v] for v in values), dtype=np.int64, count=len(values))


def fit_rasch(responses: Sequence[Response]) -> RaschFit:
    """Fit the Rasch model by penalised joint maximum likelihood (L-BFGS with the exact
    gradient). Every answer counts, repeats included: practice is adaptive, so a student who
    answers an item twice gives two pieces of evidence about it."""
    # Imported here: scipy takes a while to load and only this page needs it.
    from scipy.optimize import minimize

    if not responses:
        return RaschFit({}, {})
    students, s_idx = _index([r.student for r in responses])
    items, i_idx = _index([r.item for r in responses])
    y = np.fromiter((1.0 if r.correct else 0.0 for r in responses), dtype=float,
                    count=len(responses))
    n_s, n_i = len(students), len(items)
    inv_a, inv_d = 1.0 / ABILITY_PRIOR_SD**2, 1.0 / DIFFICULTY_PRIOR_SD**2

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, b = params[:n_s], params[n_s:]
        z = theta[s_idx] - b[i_idx]
        # log(1 + e^z) - y z, computed stably.
        nll = float(np.sum(np.logaddexp(0.0, z) - y * z))
        nll += 0.5 * (inv_a * float(theta @ theta) + inv_d * float(b @ b))
        r = 1.0 / (1.0 + np.exp(-z)) - y
        grad = np.concatenate([
            np.bincount(s_idx, weights=r, minlength=n_s) + inv_a * theta,
            -np.bincount(i_idx, weights=r, minlength=n_i) + inv_d * b,
        ])
        return nll, grad

    result = minimize(objective, np.zeros(n_s + n_i), jac=True, method="L-BFGS-B",
                      options={"maxiter": 500})
    theta, b = result.x[:n_s], result.x[n_s:]
    return RaschFit({k: float(v) for k, v in zip(students, theta, strict=True)},
                    {k: float(v) for k, v in zip(items, b, strict=True)})


def item_rest_correlation(responses: Sequence[Response]) -> dict[int, tuple[float | None, int]]:
    """Per item: (Pearson correlation between a student's score on the item and their score on
    all *other* items, number of students it is based on).

    Practice is adaptive, so students answer different items and some answer one twice: a
    student's item score is their proportion right on it, and their rest score is their mean
    item score over the other items they answered. None when fewer than three students answered
    the item and something else, or when either score does not vary.
    """
    per: dict[tuple[int, int], list[int]] = {}
    for r in responses:
        per.setdefault((r.student, r.item), []).append(int(r.correct))
    score = {k: sum(v) / len(v) for k, v in per.items()}
    totals: dict[int, tuple[float, int]] = {}
    for (student, _item), x in score.items():
        t, n = totals.get(student, (0.0, 0))
        totals[student] = (t + x, n + 1)
    pairs: dict[int, tuple[list[float], list[float]]] = {}
    for (student, item), x in score.items():
        t, n = totals[student]
        if n < 2:
            continue
        xs, rests = pairs.setdefault(item, ([], []))
        xs.append(x)
        rests.append((t - x) / (n - 1))
    out: dict[int, tuple[float | None, int]] = {}
    for item in {r.item for r in responses}:
        xs, rests = pairs.get(item, ([], []))
        out[item] = (_pearson(xs, rests), len(xs))
    return out


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3:
        return None
    x, y = np.asarray(xs), np.asarray(ys)
    sx, sy = float(x.std()), float(y.std())
    if sx < 1e-12 or sy < 1e-12:
        return None
    value = float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))
    return value if math.isfinite(value) else None


def item_flags(attempts: int, p_correct: float, discrimination: float | None,
               students: int) -> list[str]:
    """What a teacher should look at, in words; empty when nothing stands out."""
    flags: list[str] = []
    if attempts < MIN_ATTEMPTS_FOR_FLAGS:
        return flags
    if p_correct > TOO_EASY_ABOVE:
        flags.append(f"too easy: {p_correct:.0%} of answers are right")
    elif p_correct < TOO_HARD_BELOW:
        flags.append(f"too hard: only {p_correct:.0%} of answers are right")
    if (discrimination is not None and students >= MIN_STUDENTS_FOR_DISCRIMINATION
            and discrimination < WEAK_DISCRIMINATION):
        flags.append("misbehaving: students who do well elsewhere do no better on this "
                     f"question (discrimination {discrimination:.2f}); check its answer key")
    return flags


def item_statistics(responses: Sequence[Response]) -> list[ItemStat]:
    """All statistics per answered item, ordered by item id."""
    fit = fit_rasch(responses)
    disc = item_rest_correlation(responses)
    counts: dict[int, list[int]] = {}
    students: dict[int, set[int]] = {}
    for r in responses:
        c = counts.setdefault(r.item, [0, 0])
        c[0] += 1
        c[1] += int(r.correct)
        students.setdefault(r.item, set()).add(r.student)
    out: list[ItemStat] = []
    for item in sorted(counts):
        attempts, correct = counts[item]
        d, n_students = disc[item]
        stat = ItemStat(item, attempts, correct, len(students[item]),
                        fit.difficulty.get(item), d)
        stat.flags = item_flags(attempts, stat.p_correct, d, n_students)
        out.append(stat)
    return out
