"""Practice policies compared in simulation against the simulator's ground-truth mastery.

Each simulated student answers a short warm-up, then k practice sets chosen by a policy; the
simulator applies the learning each answer causes. We report the true gain in mean mastery
(the simulator's latent state) and in mean true P(correct) over the bank, per policy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from meta_engine.data import StudentSimulator
from meta_engine.model.intervals import warm_tables
from meta_engine.model.serving import Model, StudentState, adapt, mastery, predict
from meta_engine.model.tables import CourseTables
from meta_engine.practice.select import PracticeSettings, select_practice_set
from meta_engine.types import Interaction, Item

Policy = Callable[[Model, StudentState, list[Item], list[Interaction], float,
                   np.random.Generator, int, CourseTables | None], list[int]]


def _metis(model: Model, state: StudentState, bank: list[Item], hist: list[Interaction],
           now: float, rng: np.random.Generator, n: int,
           tables: CourseTables | None) -> list[int]:
    s = PracticeSettings(n_items=n, hold_back=5, review_after=15)
    return [p.item_id for p in select_practice_set(model, state, bank, s, now, hist,
                                                   tables=tables).items]


def _random(model: Model, state: StudentState, bank: list[Item], hist: list[Interaction],
            now: float, rng: np.random.Generator, n: int,
            tables: CourseTables | None) -> list[int]:
    return [bank[i].id for i in rng.choice(len(bank), size=n, replace=False)]


def _lowest_mastery(model: Model, state: StudentState, bank: list[Item],
                    hist: list[Interaction], now: float, rng: np.random.Generator,
                    n: int, tables: CourseTables | None) -> list[int]:
    """Items of the skills with the lowest estimated mastery first (ties: random)."""
    skills = sorted({k for it in bank for k in it.skills})
    ms = mastery(model, state, skills, tables)
    where = ms.index()
    key = np.array([min(ms.mean[where[k]] for k in it.skills) for it in bank]) + \
        1e-6 * rng.random(len(bank))
    return [bank[i].id for i in np.argsort(key)[:n]]


def _max_info(model: Model, state: StudentState, bank: list[Item], hist: list[Interaction],
              now: float, rng: np.random.Generator, n: int,
              tables: CourseTables | None) -> list[int]:
    """Maximum Fisher information p(1-p): predicted success closest to 50%."""
    p = predict(model, state, bank, tables=tables)
    return [bank[i].id for i in np.argsort(-(p * (1 - p)))[:n]]


POLICIES: dict[str, Policy] = {"metis": _metis, "random": _random,
                               "lowest_mastery": _lowest_mastery, "max_info": _max_info}


def compare_policies(model: Model, n_students: int = 30, n_sets: int = 5, set_size: int = 5,
                     warmup: int = 10, n_items: int | None = None, n_skills: int | None = None,
                     sim_seed: int = 0, seed: int = 1,
                     policies: tuple[str, ...] = tuple(POLICIES),
                     cohort: int = 100) -> dict:
    """Expected true mastery gain after `n_sets` sets of `set_size` items, per policy.

    The simulator's bank (StudentSimulator, seed `sim_seed`; by default 200 items on 10
    skills, or the model's own bank if it has tables) is served as a course: a model without
    tables for it first fits them online from `cohort` simulated students
    (`intervals.warm_tables`), and every policy then plans with those same tables. Every
    policy sees the same students (same rng streams), so differences are the policy's.
    """
    n_items = n_items or model.n_items or 200
    n_skills = n_skills or model.net.tables.n_skills or 10
    sim = StudentSimulator(n_items, n_skills, seed=sim_seed)
    tables = None if model.net.tables.n_skills else warm_tables(model, sim, cohort, seed + 99)
    bank = [Item(i, sim.item_skills[i]) for i in range(1, n_items + 1)]
    out: dict = {"n_students": n_students, "n_sets": n_sets, "set_size": set_size,
                 "warmup": warmup, "cohort": 0 if tables is None else cohort, "policies": {}}
    for name in policies:
        pol = POLICIES[name]
        gains, pgains, succ = [], [], []
        for u in range(n_students):
            rng = np.random.default_rng([seed, u])
            st = sim.new_student(rng, f"u{u}")
            hist: list[Interaction] = []
            for t in range(warmup):
                i = int(rng.integers(1, n_items + 1))
                c = sim.answer(st, i, rng)
                hist.append(Interaction(i, sim.item_skills[i], c, float(t)))
            m0 = st.mastery[1:].mean()
            p0 = np.mean([sim.p_correct(st, i) for i in range(1, n_items + 1)])
            prng = np.random.default_rng([seed, u, 7])
            for _ in range(n_sets):
                state = adapt(model, hist, tables)
                for i in pol(model, state, bank, hist, float(len(hist)), prng, set_size,
                             tables):
                    c = sim.answer(st, i, rng)
                    succ.append(c)
                    hist.append(Interaction(i, sim.item_skills[i], c, float(len(hist))))
            gains.append(st.mastery[1:].mean() - m0)
            pgains.append(np.mean([sim.p_correct(st, i) for i in range(1, n_items + 1)]) - p0)
        out["policies"][name] = {
            "mastery_gain": float(np.mean(gains)),
            "mastery_gain_se": float(np.std(gains) / np.sqrt(len(gains))),
            "p_correct_gain": float(np.mean(pgains)),
            "success_rate": float(np.mean(succ)),
        }
    out["best"] = max(out["policies"], key=lambda k: out["policies"][k]["mastery_gain"])
    return out
