"""Interactive student simulators of other families than Metis's own, for `metis bench policy`.

A policy is judged by what its sets do to a student whose learning follows rules the model was
not written around:
- `BKTForgetting`: Bayesian knowledge tracing with forgetting. Each skill is known or not; a
  practice of it teaches it with P(learn), every answer on another skill makes a known skill
  forgotten with P(forget); an answer is right with 1 - slip when all the item's skills are
  known, else with P(guess). All four probabilities are drawn per student and skill.
- `PrerequisiteLearner`: skills form a DAG. A skill's mastery (0..1) grows with practice at the
  student's rate, but only at a small fraction of it until every prerequisite is mastered;
  the answer follows a logistic curve of the mastery of the item's skills and its difficulty.

Both share one surface (`Learner`): an item bank (`item_skills`), `new_student`, `p_correct`,
`answer` (draws the answer and applies its learning) and `true_mastery` (per skill, 0..1), so
the bench treats them alike. Everything is deterministic given the seed and the rngs passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np


def _sig(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _bank(n_items: int, n_skills: int, rng: np.random.Generator,
          multi_skill_prob: float) -> dict[int, tuple[int, ...]]:
    """Items 1..n_items, each skill the primary skill of an equal share (so no skill runs
    dry), a few with a second skill."""
    if n_items < n_skills or n_skills < 1:
        raise ValueError("need at least one skill and one item per skill")
    primary = (np.arange(n_items) % n_skills) + 1
    rng.shuffle(primary)
    out: dict[int, tuple[int, ...]] = {}
    for i in range(1, n_items + 1):
        sk = {int(primary[i - 1])}
        if n_skills > 1 and rng.random() < multi_skill_prob:
            sk.add(int(rng.integers(1, n_skills + 1)))
        out[i] = tuple(sorted(sk))
    return out


class Learner(Protocol):
    """What the policy bench needs of a simulator (skills 1..n_skills, items 1..n_items)."""

    name: str
    n_skills: int
    item_skills: dict[int, tuple[int, ...]]

    def new_student(self, rng: np.random.Generator) -> object: ...

    def p_correct(self, student: object, item: int) -> float: ...

    def answer(self, student: object, item: int, rng: np.random.Generator) -> int: ...

    def true_mastery(self, student: object) -> np.ndarray: ...


@dataclass
class BKTStudent:
    known: np.ndarray  # bool (n_skills + 1,), index 0 unused
    learn: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    forget: np.ndarray


class BKTForgetting:
    """BKT with forgetting; per-student, per-skill learn / guess / slip / forget."""

    name = "bkt_forgetting"

    def __init__(self, n_items: int, n_skills: int, *, seed: int,
                 multi_skill_prob: float = 0.1, p_init: tuple[float, float] = (0.05, 0.4),
                 learn: tuple[float, float] = (0.1, 0.35),
                 guess: tuple[float, float] = (0.1, 0.3),
                 slip: tuple[float, float] = (0.05, 0.2),
                 forget: tuple[float, float] = (0.01, 0.05)) -> None:
        rng = np.random.default_rng(seed)
        self.n_items, self.n_skills = n_items, n_skills
        self.item_skills = _bank(n_items, n_skills, rng, multi_skill_prob)
        # Item difficulty moves guess down and slip up (in logits), so that items of one skill
        # differ and a policy has something to choose between.
        self.difficulty = np.concatenate([[0.0], rng.normal(0.0, 1.0, n_items)])
        self.ranges = {"p_init": p_init, "learn": learn, "guess": guess, "slip": slip,
                       "forget": forget}

    def new_student(self, rng: np.random.Generator) -> BKTStudent:
        n = self.n_skills + 1

        def draw(key: str) -> np.ndarray:
            lo, hi = self.ranges[key]
            return rng.uniform(lo, hi, n)

        known = rng.random(n) < draw("p_init")
        known[0] = False
        return BKTStudent(known, draw("learn"), draw("guess"), draw("slip"), draw("forget"))

    def p_correct(self, student: object, item: int) -> float:
        st = _as(student, BKTStudent)
        sk = list(self.item_skills[item])
        d = 0.5 * self.difficulty[item]
        if st.known[sk].all():
            return float(1.0 - _sig(_logit(st.slip[sk]).mean() + d))
        return float(_sig(_logit(st.guess[sk]).mean() - d))

    def answer(self, student: object, item: int, rng: np.random.Generator) -> int:
        st = _as(student, BKTStudent)
        correct = int(rng.random() < self.p_correct(st, item))
        sk = list(self.item_skills[item])
        self.idle(st, 1, rng, practised=sk)
        st.known[sk] |= rng.random(len(sk)) < st.learn[sk]
        return correct

    def idle(self, student: BKTStudent, steps: int, rng: np.random.Generator,
             practised: list[int] | None = None) -> None:
        """`steps` answers' worth of forgetting on every skill but `practised`."""
        keep = np.zeros(self.n_skills + 1, dtype=bool)
        keep[practised or []] = True
        for _ in range(steps):
            lost = (rng.random(self.n_skills + 1) < student.forget) & ~keep
            student.known &= ~lost

    def true_mastery(self, student: object) -> np.ndarray:
        return _as(student, BKTStudent).known[1:].astype(float)


@dataclass
class PrereqStudent:
    mastery: np.ndarray  # (n_skills + 1,), index 0 unused
    rate: float
    ability: float


@dataclass
class PrerequisiteLearner:
    """A learner on a prerequisite DAG: skill k's parents are earlier skills; practising k
    moves its mastery toward 1 at the student's rate, times `blocked_factor` while some
    parent's mastery is below `prereq_at`."""

    n_items: int
    n_skills: int
    seed: int
    multi_skill_prob: float = 0.1
    prereq_at: float = 0.7
    blocked_factor: float = 0.1
    wrong_factor: float = 0.6  # a wrong answer teaches less than a right one
    slope: float = 5.0
    name: str = "prereq_graph"
    item_skills: dict[int, tuple[int, ...]] = field(init=False)
    parents: dict[int, tuple[int, ...]] = field(init=False)
    difficulty: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.item_skills = _bank(self.n_items, self.n_skills, rng, self.multi_skill_prob)
        self.difficulty = np.concatenate([[0.0], rng.normal(0.0, 0.8, self.n_items)])
        # Skill 1 is a root; a later skill is a root one time in five, else it needs one
        # earlier skill and sometimes a second: a DAG by construction (parents are earlier).
        self.parents = {1: ()}
        for k in range(2, self.n_skills + 1):
            if rng.random() < 0.2:
                self.parents[k] = ()
                continue
            ps = {int(rng.integers(1, k))}
            if k > 2 and rng.random() < 0.3:
                ps.add(int(rng.integers(1, k)))
            self.parents[k] = tuple(sorted(ps))

    def new_student(self, rng: np.random.Generator) -> PrereqStudent:
        m = np.zeros(self.n_skills + 1)
        for k, ps in self.parents.items():
            m[k] = rng.uniform(0.3, 0.75) if not ps else rng.uniform(0.0, 0.25)
        return PrereqStudent(m, float(rng.uniform(0.12, 0.3)), float(rng.normal(0.0, 0.5)))

    def unlocked(self, student: PrereqStudent, skill: int) -> bool:
        return all(student.mastery[p] >= self.prereq_at for p in self.parents[skill])

    def p_correct(self, student: object, item: int) -> float:
        st = _as(student, PrereqStudent)
        m = float(st.mastery[list(self.item_skills[item])].mean())
        return float(_sig(st.ability + self.slope * (m - 0.5) - self.difficulty[item]))

    def answer(self, student: object, item: int, rng: np.random.Generator) -> int:
        st = _as(student, PrereqStudent)
        correct = int(rng.random() < self.p_correct(st, item))
        # Rates from the state before this answer: practising two skills of one item at once
        # does not unlock one by the other.
        rates = {k: st.rate * (1.0 if correct else self.wrong_factor)
                 * (1.0 if self.unlocked(st, k) else self.blocked_factor)
                 for k in self.item_skills[item]}
        for k, r in rates.items():
            st.mastery[k] += r * (1.0 - st.mastery[k])
        return correct

    def true_mastery(self, student: object) -> np.ndarray:
        return _as(student, PrereqStudent).mastery[1:].copy()


T = TypeVar("T")


def _as(student: object, kind: type[T]) -> T:
    if not isinstance(student, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(student).__name__}")
    return student


SIMULATORS = {"bkt_forgetting": BKTForgetting, "prereq_graph": PrerequisiteLearner}


def make_simulator(name: str, n_items: int, n_skills: int, seed: int) -> Learner:
    """One of `SIMULATORS` by name, on a bank of `n_items` items over `n_skills` skills."""
    if name == "bkt_forgetting":
        return BKTForgetting(n_items, n_skills, seed=seed)
    if name == "prereq_graph":
        return PrerequisiteLearner(n_items, n_skills, seed)
    raise ValueError(f"unknown simulator {name!r}; known: {', '.join(SIMULATORS)}")
