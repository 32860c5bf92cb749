"""Coverage of the per-skill mastery intervals against simulated ground truth, and the one
scale factor that makes them nominal.

The Laplace interval only knows the curvature of the student's (decay-weighted) support loss
and the prior precision; whether that matches the real spread of the error is an empirical
question, so it is measured on simulated students whose true mastery is known, and the
interval half-width is scaled (`MetisConfig.interval_scale`) so that 95% intervals hold the
truth about 95% of the time. For the shipped core the simulator's bank is served as a new
course (`warm_tables`: its tables fitted online from a cohort of simulated students), so the
intervals carry the course's uncertainty as they do in a real new course.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meta_engine.data.simulate import StudentSimulator
from meta_engine.model.serving import Z95, Model, adapt, mastery
from meta_engine.model.tables import CourseTables, InMemoryTableStore
from meta_engine.types import Interaction


@dataclass
class TruthCase:
    """A simulated student's history and the true P(correct) on an average item of each
    skill right after it (the quantity `mastery` estimates)."""

    history: list[Interaction]
    true_mastery: np.ndarray  # (S,) for skills 1..S


def _true_mastery(sim: StudentSimulator, ability: float, skill_mastery: np.ndarray) -> np.ndarray:
    # The model's "average item of skill k" is one at the skill's mean difficulty.
    b = np.array([sim.difficulty[sim.items_of_skill[k]].mean()
                  for k in range(1, sim.n_skills + 1)])
    return 1.0 / (1.0 + np.exp(-(ability + skill_mastery[1:] - b)))


def simulate_truth(sim: StudentSimulator, n_students: int, lengths: tuple[int, ...],
                   seed: int, block_len: tuple[int, int] = (3, 10)) -> list[TruthCase]:
    """Fresh students practising in skill blocks (as `simulate_students`), one case per
    student and history length (the truth is read when the history stops)."""
    rng = np.random.default_rng(seed)
    cases: list[TruthCase] = []
    for u in range(n_students):
        length = lengths[u % len(lengths)]
        st = sim.new_student(rng, f"truth{u}")
        hist: list[Interaction] = []
        while len(hist) < length:
            pool = sim.items_of_skill[int(rng.integers(1, sim.n_skills + 1))]
            for _ in range(int(rng.integers(block_len[0], block_len[1] + 1))):
                if len(hist) == length:
                    break
                i = int(rng.choice(pool))
                hist.append(Interaction(i, sim.item_skills[i], sim.answer(st, i, rng),
                                        float(len(hist))))
        cases.append(TruthCase(hist, _true_mastery(sim, st.ability, st.mastery)))
    return cases


def warm_tables(model: Model, sim: StudentSimulator, n_students: int, seed: int,
                length: int = 30) -> CourseTables:
    """The tables of the simulator's bank served as a new course to `n_students` students
    (skill blocks, `length` answers each) through `meta_engine.serve.run_batch`."""
    from meta_engine.serve import Event, course_tables, run_batch

    store = InMemoryTableStore()
    cases = simulate_truth(sim, n_students, (length,), seed)
    for b in range(0, len(cases), 16):  # 16 students at a time, one answer each per batch
        block = list(enumerate(cases[b: b + 16], start=b))
        for t in range(length):
            run_batch(model, store, "simulated-bank",
                      [Event(f"warm{u}:{t}", f"warm{u}", c.history[: t + 1], plan=False)
                       for u, c in block])
    return course_tables(model, "simulated-bank", store.load((model.version,
                                                              "simulated-bank")))


def normalised_errors(model: Model, cases: list[TruthCase],
                      tables: CourseTables | None = None) -> np.ndarray:
    """|logit(truth) - logit(estimate)| / (unscaled 95% half-width), per case and skill: the
    truth is inside the unscaled interval exactly where this is <= 1."""
    out = []
    a = abs(float(model.net.calib_a))
    for c in cases:
        skills = list(range(1, len(c.true_mastery) + 1))
        m = mastery(model, adapt(model, c.history, tables), skills, tables)
        t = np.clip(c.true_mastery, 1e-6, 1 - 1e-6)
        p = np.clip(m.mean, 1e-6, 1 - 1e-6)
        err = np.abs(np.log(t / (1 - t)) - np.log(p / (1 - p)))
        out.append(err / (Z95 * a * m.sd_logit))
    return np.concatenate(out)


def coverage(model: Model, cases: list[TruthCase], tables: CourseTables | None = None
             ) -> float:
    """Fraction of true per-skill mastery values inside the reported 95% intervals."""
    inside = []
    for c in cases:
        skills = list(range(1, len(c.true_mastery) + 1))
        m = mastery(model, adapt(model, c.history, tables), skills, tables)
        inside.append((c.true_mastery >= m.low) & (c.true_mastery <= m.high))
    return float(np.concatenate(inside).mean())


def fit_interval_scale(model: Model, cases: list[TruthCase], level: float = 0.95,
                       tables: CourseTables | None = None) -> float:
    """The half-width multiplier at which `level` of the truths fall inside: the `level`
    quantile of the normalised errors (a one-parameter fit, so it does not overfit)."""
    return float(np.quantile(normalised_errors(model, cases, tables), level))
