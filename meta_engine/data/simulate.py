"""Simulated students who learn, for unit tests and practice-policy simulation.

The generative model mixes IRT and PFA/BKT ideas so that every baseline has something to find:

    P(correct | student, item) = sigmoid(ability + mean_{s in skills(item)} mastery[s] - b_item)

``ability`` ~ N(0, 1) is a fixed trait (IRT); ``mastery[s]`` starts below zero and grows after
each practice of skill s, more after a correct answer than after a wrong one (PFA), and
saturates at ``max_mastery`` (BKT's "learned" state, softly). Item difficulties ~ N(0, 1).
Students practise in skill blocks, as in ASSISTments skill builders, so per-skill history
carries signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from meta_engine.types import Dataset, Sequence


@dataclass
class SimStudent:
    id: str
    ability: float
    mastery: np.ndarray  # float64 (n_skills + 1,), index 0 unused; the ground truth
    n_answers: int = 0
    history: list[tuple[int, int]] = field(default_factory=list)  # (item, correct)


class StudentSimulator:
    """Item bank + learning dynamics; deterministic given ``seed`` and the rngs passed in."""

    def __init__(
        self,
        n_items: int,
        n_skills: int,
        *,
        seed: int,
        multi_skill_prob: float = 0.15,
        gain_correct: float = 0.35,
        gain_wrong: float = 0.15,
        init_mastery: float = -1.0,
        max_mastery: float = 2.0,
    ) -> None:
        if n_items < 1 or n_skills < 1:
            raise ValueError("need at least one item and one skill")
        rng = np.random.default_rng(seed)
        self.n_items, self.n_skills = n_items, n_skills
        self.gain_correct, self.gain_wrong = gain_correct, gain_wrong
        self.init_mastery, self.max_mastery = init_mastery, max_mastery
        self.difficulty = np.concatenate([[0.0], rng.normal(0.0, 1.0, n_items)])
        # Every skill gets items (round-robin primary skill) so blocks never run dry.
        primary = (np.arange(n_items) % n_skills) + 1
        rng.shuffle(primary)
        self.item_skills: dict[int, tuple[int, ...]] = {}
        for i in range(1, n_items + 1):
            sk = [int(primary[i - 1])]
            if n_skills > 1 and rng.random() < multi_skill_prob:
                other = int(rng.integers(1, n_skills + 1))
                if other != sk[0]:
                    sk.append(other)
            self.item_skills[i] = tuple(sorted(sk))
        self.items_of_skill: dict[int, np.ndarray] = {
            s: np.array([i for i, sk in self.item_skills.items() if s in sk], dtype=np.int64)
            for s in range(1, n_skills + 1)
        }

    def new_student(self, rng: np.random.Generator, student_id: str = "") -> SimStudent:
        mastery = self.init_mastery + rng.normal(0.0, 0.5, self.n_skills + 1)
        mastery[0] = 0.0
        return SimStudent(student_id, float(rng.normal(0.0, 1.0)), mastery)

    def logit(self, student: SimStudent, item: int) -> float:
        sk = list(self.item_skills[item])
        return float(student.ability + student.mastery[sk].mean() - self.difficulty[item])

    def p_correct(self, student: SimStudent, item: int) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logit(student, item))))

    def answer(self, student: SimStudent, item: int, rng: np.random.Generator) -> int:
        """Draw an answer and apply the learning it causes."""
        correct = int(rng.random() < self.p_correct(student, item))
        gain = self.gain_correct if correct else self.gain_wrong
        for s in self.item_skills[item]:
            student.mastery[s] = min(self.max_mastery, student.mastery[s] + gain)
        student.n_answers += 1
        student.history.append((item, correct))
        return correct


def simulate_students(
    n_students: int,
    n_items: int,
    n_skills: int,
    *,
    seed: int,
    min_len: int = 10,
    max_len: int = 80,
    multi_skill_prob: float = 0.15,
    block_len: tuple[int, int] = (3, 10),
    name: str = "simulated",
) -> Dataset:
    """A `Dataset` of simulated students (the merged form: one interaction per answer)."""
    if not 1 <= min_len <= max_len:
        raise ValueError("need 1 <= min_len <= max_len")
    sim = StudentSimulator(n_items, n_skills, seed=seed, multi_skill_prob=multi_skill_prob)
    rng = np.random.default_rng(seed + 1)
    k = max(len(v) for v in sim.item_skills.values())
    seqs: list[Sequence] = []
    for u in range(n_students):
        st = sim.new_student(rng, f"sim{u}")
        length = int(rng.integers(min_len, max_len + 1))
        items: list[int] = []
        while len(items) < length:
            skill = int(rng.integers(1, n_skills + 1))
            pool = sim.items_of_skill[skill]
            block = int(rng.integers(block_len[0], block_len[1] + 1))
            for _ in range(block):
                item = int(rng.choice(pool))
                # No immediate repeat of a question: real logs have none, and the strict merge
                # would fold it into the previous interaction when the data are written out.
                while pool.size > 1 and items and item == items[-1]:
                    item = int(rng.choice(pool))
                items.append(item)
        items = items[:length]
        correct = [sim.answer(st, i, rng) for i in items]
        skills = np.zeros((length, k), dtype=np.int64)
        for t, i in enumerate(items):
            sk = sim.item_skills[i]
            skills[t, : len(sk)] = sk
        seqs.append(
            Sequence(
                student=st.id,
                items=np.array(items, dtype=np.int64),
                skills=skills,
                correct=np.array(correct, dtype=np.int64),
                timestamps=np.arange(length, dtype=np.float64),
            )
        )
    return Dataset(name, seqs, n_items, n_skills, dict(sim.item_skills))


def subset(ds: Dataset, idx: np.ndarray | list[int], name: str) -> Dataset:
    """The students ``idx`` of ``ds`` (sequences shared, not copied)."""
    return Dataset(name, [ds.sequences[int(i)] for i in idx], ds.n_items, ds.n_skills,
                   ds.item_skills)


def split_by_student(
    ds: Dataset, n_folds: int = 5, seed: int = 0
) -> list[tuple[Dataset, Dataset]]:
    """K-fold split by student: fold k's test students are never in its train set."""
    if n_folds < 2 or n_folds > len(ds.sequences):
        raise ValueError(f"n_folds must be in [2, {len(ds.sequences)}]")
    perm = np.random.default_rng(seed).permutation(len(ds.sequences))
    chunks = np.array_split(perm, n_folds)
    out = []
    for k, test_idx in enumerate(chunks):
        train_idx = np.concatenate([c for j, c in enumerate(chunks) if j != k])
        out.append((subset(ds, np.sort(train_idx), f"{ds.name}_train{k + 1}"),
                    subset(ds, np.sort(test_idx), f"{ds.name}_test{k + 1}")))
    return out
