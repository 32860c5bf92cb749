"""Online item-difficulty calibration (the older item-only form `workers` still calls):
convergence on simulated students, and the no-answer case equals the uncalibrated model.
The worker's Redis store of it is tested with the workers."""

from __future__ import annotations

import numpy as np
import pytest

from meta_engine.api import Model, adapt, predict, select_practice_set
from meta_engine.data.simulate import SimStudent, StudentSimulator
from meta_engine.model.item_calibration import (
    ItemEstimate,
    calibrate_answer,
    prior_estimate,
    residuals,
    update_estimate,
)
from meta_engine.model.serving import StudentState
from meta_engine.types import Interaction, Item

NEW = 201  # the simulated course's model knows items 1..200: this one it never saw


@pytest.fixture(scope="module")
def model(sim_model: Model) -> Model:
    return sim_model


def _sim_with_new_item(shift: float) -> StudentSimulator:
    """The simulated course's bank plus item NEW on skill 3, `shift` logits harder than the
    skill's average item: its skills alone place it far from the truth."""
    sim = StudentSimulator(200, 10, seed=0)
    base = float(sim.difficulty[sim.items_of_skill[3]].mean())
    sim.difficulty = np.append(sim.difficulty, base + shift)
    sim.item_skills[NEW] = (3,)
    return sim


def _student(sim: StudentSimulator, rng: np.random.Generator,
             n: int) -> tuple[SimStudent, list[Interaction]]:
    st = sim.new_student(rng)
    hist: list[Interaction] = []
    for _ in range(n):
        i = int(rng.choice(sim.items_of_skill[int(rng.integers(1, 11))]))
        hist.append(Interaction(i, sim.item_skills[i], sim.answer(st, i, rng), float(len(hist))))
    return st, hist


def test_unseen_item_converges_toward_its_true_difficulty(model: Model) -> None:
    sim = _sim_with_new_item(shift=2.5)
    rng = np.random.default_rng(7)
    item = Item(NEW, (3,))
    panel: list[tuple[StudentState, float]] = []
    for _ in range(40):
        st, hist = _student(sim, rng, 15)
        panel.append((adapt(model, hist), sim.p_correct(st, NEW)))

    def error(est: ItemEstimate) -> float:
        return float(np.mean([abs(predict(model, s, [item], item_residuals={NEW: est.mean})[0]
                                  - p) for s, p in panel]))

    est = prior_estimate(model, item)
    assert est.mean == 0.0  # placed from its skills
    errors = [error(est)]
    for n in range(1, 121):
        st, hist = _student(sim, rng, 15)
        before = adapt(model, hist)
        correct = sim.answer(st, NEW, rng)
        est = calibrate_answer(model, before, item, correct, est)
        if n % 40 == 0:
            errors.append(error(est))
    assert est.n == 120 and est.mean > 1.0  # moved the right way (harder), and far
    assert errors[-1] < 0.5 * errors[0], errors
    assert errors[-1] <= errors[1] + 0.02, errors  # keeps improving (noise aside)
    assert est.sd < prior_estimate(model, item).sd / 3  # evidence narrowed it


def test_update_step_direction_and_shrinking_steps() -> None:
    est = ItemEstimate(0.0, 1.0)
    right = update_estimate(est, 0.5, 1, 1.3)
    wrong = update_estimate(est, 0.5, 0, 1.3)
    assert right.mean < 0.0 < wrong.mean  # right answers make it easier
    assert right.precision > est.precision and right.n == 1
    steps, cur = [], est
    for _ in range(20):
        nxt = update_estimate(cur, 0.5, 1, 1.3)
        steps.append(cur.mean - nxt.mean)
        cur = nxt
    assert all(b < a for a, b in zip(steps, steps[1:], strict=False))
    assert update_estimate(est, 0.9, 1, 1.3).mean > right.mean  # expected: moves less


def test_no_answers_equals_uncalibrated_model(model: Model) -> None:
    sim = StudentSimulator(200, 10, seed=0)
    _, hist = _student(sim, np.random.default_rng(3), 30)
    state = adapt(model, hist)
    bank = [Item(i, sim.item_skills[i]) for i in range(1, 41)]
    bank += [Item(NEW, (3,)), Item(NEW + 1, (4, 5), difficulty_prior=1.2),
             Item(150, sim.item_skills[150], difficulty_prior=-0.5)]
    today = predict(model, state, bank)
    assert np.array_equal(predict(model, state, bank, item_residuals={}), today)
    priors = residuals({it.id: prior_estimate(model, it) for it in bank})
    np.testing.assert_allclose(predict(model, state, bank, item_residuals=priors), today,
                               rtol=0, atol=1e-6)
    plan = select_practice_set(model, state, bank, now=1e6, history=hist)
    same = select_practice_set(model, state, bank, now=1e6, history=hist, item_residuals=priors)
    assert [p.item_id for p in same.items] == [p.item_id for p in plan.items]
    # A calibrated estimate does change the prediction of that item only.
    moved = predict(model, state, bank, item_residuals={NEW: 2.0})
    assert moved[40] < today[40] and np.array_equal(np.delete(moved, 40), np.delete(today, 40))
