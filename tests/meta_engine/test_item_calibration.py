"""Online item-difficulty calibration: convergence on simulated students, the no-answer case
equals the uncalibrated model, and the worker folds each event in once (real Redis)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import numpy as np
import pytest
import redis
from lti_tool.db import Database
from lti_tool.db.models import Item as ItemRow
from lti_tool.events import store_answer
from sqlalchemy import select
from workers.engine import Answered, BankItem, Job, MetaEngine
from workers.item_calibration import ItemCalibrationStore

from meta_engine.api import Model, adapt, default_model, predict, select_practice_set
from meta_engine.data.simulate import SimStudent, StudentSimulator
from meta_engine.model.item_calibration import (
    ItemEstimate,
    calibrate_answer,
    prior_estimate,
    residuals,
    update_estimate,
)
from meta_engine.model.runtime import StudentState
from meta_engine.types import Interaction, Item
from tests.pipeline.course import seed_course
from workers.pipeline import process_events

NEW = 201  # the default model knows items 1..200: this one it never saw


@pytest.fixture(scope="module")
def model() -> Model:
    return default_model()


def _sim_with_new_item(shift: float) -> StudentSimulator:
    """The default model's bank plus item NEW on skill 3, `shift` logits harder than the
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


def test_store_applies_each_event_once(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = ItemCalibrationStore(client, "v1")

    def step(cur: ItemEstimate | None) -> ItemEstimate:
        return update_estimate(cur or ItemEstimate(0.0, 1.0), 0.5, 1, 1.0)

    assert store.apply(3, "ev-1", 42, step) is True
    first = store.load(3)[42]
    assert store.apply(3, "ev-1", 42, step) is False  # redelivered
    assert store.load(3)[42] == first and first.n == 1
    assert store.load(4) == {} and ItemCalibrationStore(client, "v2").load(3) == {}

    # Concurrent events on the same item: every one counted once (WATCH retries).
    threads = [threading.Thread(target=store.apply, args=(3, f"ev-{k}", 42, step))
               for k in range(2, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load(3)[42].n == 11


def _job(event: str, answers: list[tuple[int, bool]], bank: tuple[BankItem, ...]) -> Job:
    t0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    hist = tuple(Answered(i, (1,) if i % 2 else (2,), c, datetime.fromtimestamp(t0 + 60 * n, UTC))
                 for n, (i, c) in enumerate(answers))
    return Job(event, hist, bank, {"set_size": 3}, datetime.fromtimestamp(t0 + 1e5, UTC),
               {1: "Fractions", 2: "Ratios"}, bank_id=9)


def test_worker_engine_calibrates_once_per_event(model: Model, redis_url: str) -> None:
    bank = tuple(BankItem(i, (1,) if i % 2 else (2,)) for i in range(101, 111))
    store = ItemCalibrationStore(redis.Redis.from_url(redis_url), "default")
    engine = MetaEngine(model, "default", store)
    plain = MetaEngine(model, "default")
    answers = [(101, True), (102, False), (103, True), (104, True)]
    job = _job("ev-a", answers, bank)
    first = engine.plan_batch([job])[0]
    est = store.load(9)
    assert set(est) == {104} and est[104].n == 1 and est[104].mean < 0  # right: easier
    again = engine.plan_batch([job])[0]  # the same event redelivered
    assert store.load(9) == est
    assert again.items == first.items
    # Estimates feed the selection's predictions: item 104 looks easier than uncalibrated.
    p_plain = plain.plan_batch([_job("ev-b", answers, bank)])[0]
    assert [r["item_id"] for r in p_plain.items] and store.load(9) == est


def test_pipeline_persists_estimates_per_bank_once(model: Model, db: Database,
                                                   redis_url: str) -> None:
    course = seed_course(db)
    client = redis.Redis.from_url(redis_url)
    store = ItemCalibrationStore(client, "default")
    engine = MetaEngine(model, "default", store)
    events = [store_answer(db, course.learner(n % 2), course.item_ids[n % 3],
                           {"choice": "1"}).event_id for n in range(4)]
    out = process_events(db, client, engine, events)
    assert sorted(out.processed) == sorted(events)
    with db.session() as s:
        bank_id = s.scalars(select(ItemRow.bank_id)).first()
    assert bank_id is not None
    est = store.load(bank_id)
    assert set(est) == set(course.item_ids[:3])
    assert sum(e.n for e in est.values()) == len(events)
    # Redelivery of the whole batch: skipped by the pipeline, and no estimate moves.
    store.client.delete(*client.keys("metis:itemcal:event:*"))  # even without the markers
    again = process_events(db, client, engine, events)
    assert sorted(again.skipped) == sorted(events) and store.load(bank_id) == est
