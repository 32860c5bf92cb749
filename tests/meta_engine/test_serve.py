"""The event-batch serving function the workers and the transfer bench call: predictions
before each answer, table updates, plans with structured reasons in the course's own ids,
feedback since the previous set, and the shipped checkpoint ready at the first answer."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from meta_engine import api
from meta_engine.model.serving import predict_next
from meta_engine.practice.reasons import CHANGE_CODES, NEXT_CODES, REASON_CODES
from meta_engine.serve import Event, course_tables, run_batch, serve_batch
from meta_engine.types import Interaction, Item


@pytest.fixture(scope="module")
def model() -> api.Model:
    torch.set_num_threads(1)
    return api.default_model()


def _course(n_students: int = 6, length: int = 25, seed: int = 0
            ) -> tuple[list[list[Interaction]], list[Item]]:
    rng = np.random.default_rng(seed)
    skills = (311, 322, 333, 344)
    bank = [Item(5000 + i, (skills[i % 4],)) for i in range(24)]
    hists = []
    for _ in range(n_students):
        ab = rng.normal()
        h = []
        for t in range(length):
            it = bank[int(rng.integers(0, len(bank)))]
            p = 1 / (1 + np.exp(-(ab + 0.05 * t - 0.3 * (it.id % 5))))
            h.append(Interaction(it.id, it.skills, int(rng.random() < p), 60.0 * t))
        hists.append(h)
    return hists, bank


def test_p_before_is_the_causal_prediction(model: api.Model) -> None:
    hists, bank = _course()
    tabs = model.new_course_tables()
    events = [Event(f"e{u}", f"s{u}", h[:10], plan=False) for u, h in enumerate(hists)]
    res = serve_batch(model, tabs, events)
    for e, r in zip(events, res, strict=True):
        st = api.adapt(model, list(e.history[:-1]), tabs)
        last = e.history[-1]
        p = api.predict(model, st, [Item(last.item, last.skills)], tables=tabs)[0]
        assert r.p_before == pytest.approx(p, abs=1e-5)
        assert r.updates and all(u.event_id == e.event_id for u in r.updates)
    # Flipping the newest answer changes no prediction of it, only the updates' direction.
    flipped = [Event(e.event_id, e.student, [*e.history[:-1], Interaction(
        e.history[-1].item, e.history[-1].skills, 1 - e.history[-1].correct, 0.0)],
        plan=False) for e in events]
    res2 = serve_batch(model, tabs, flipped)
    assert [r.p_before for r in res] == [r.p_before for r in res2]
    nx = predict_next(model, [e.history for e in events], tabs)
    np.testing.assert_allclose(nx.p, [r.p_before for r in res], atol=1e-6)


def test_batch_plans_feedback_and_structured_reasons(model: api.Model) -> None:
    hists, bank = _course()
    store = api.InMemoryTableStore()
    names = {311: "Fractions", 322: "Ratios"}
    for t in range(20):  # a course's first answers, 6 students at a time
        run_batch(model, store, "c1", [Event(f"{u}:{t}", str(u), h[: t + 1], plan=False)
                                        for u, h in enumerate(hists)])
    e = Event("plan-1", "0", hists[0][:25], bank=bank, now=60.0 * 25 + 1e5, since=20,
              settings=api.PracticeSettings(n_items=4), names=names)
    r = run_batch(model, store, "c1", [e])[0]
    assert r.plan is not None and len(r.plan.items) == 4 and r.feedback is not None
    json.dumps(r.to_dict())
    for it in r.plan.items:
        assert it.reason in REASON_CODES
        assert set(it.detail["skills"]) <= {311, 322, 333, 344}
        if it.reason == "weakness":
            name = names.get(it.detail["skill"], f"skill {it.detail['skill']}")
            assert name in it.why
    fb = r.feedback
    assert fb.detail["compared"] and fb.extra["since_answers"] == 20
    assert {s.skill for s in fb.skills} <= {311, 322, 333, 344}
    assert fb.detail["next"]["kind"] in NEXT_CODES
    for c in fb.detail["changes"]:
        assert c["code"] in CHANGE_CODES and c["skill"] in {311, 322, 333, 344}
    # "Since your last set" compares with the state at answer 20, not one answer ago.
    prev = api.adapt(model, hists[0][:20], r and course_tables(
        model, "c1", store.load((model.version, "c1"))))
    again = api.feedback(model, r.state, prev, tables=course_tables(
        model, "c1", store.load((model.version, "c1"))))
    assert [s.change for s in again.skills] == pytest.approx([s.change for s in fb.skills],
                                                             abs=0.02)
    # Redelivering the event applies nothing twice.
    before = store.load((model.version, "c1")).to_dict()
    run_batch(model, store, "c1", [e])
    assert store.load((model.version, "c1")).to_dict() == before


def test_tables_fitted_online_improve_predictions(model: api.Model) -> None:
    """Later students of a course are predicted better than the first ones (item and skill
    difficulties learned from the course's own answers)."""
    hists, _ = _course(n_students=48, length=20, seed=1)
    store = api.InMemoryTableStore()
    p, y = [], []
    for b in range(0, 48, 8):
        for t in range(20):
            block = hists[b: b + 8]
            res = run_batch(model, store, "c2", [Event(f"{b + u}:{t}", str(b + u),
                                                       h[: t + 1], plan=False)
                                                 for u, h in enumerate(block)])
            p += [r.p_before for r in res]
            y += [h[t].correct for h in block]
    p, y = np.array(p), np.array(y)
    n = len(p)
    ll = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert ll[n // 2:].mean() < ll[: n // 6].mean()


def test_checkpoint_is_small_and_ready_at_the_first_answer(tmp_path: Path) -> None:
    """The shipped checkpoint loads in a fresh process and plans a first set quickly."""
    size = sum(f.stat().st_size for f in api.DEFAULT_DIR.iterdir())
    assert size < 5 * 2**20
    card = json.loads((api.DEFAULT_DIR / "model_card.json").read_text())
    for key in ("trained_on", "date", "valid", "courses", "build", "redistribution"):
        assert key in card
    code = (
        "import time, torch; torch.set_num_threads(1); t0 = time.perf_counter();"
        "from meta_engine import api; from meta_engine.serve import Event, run_batch;"
        "from meta_engine.types import Interaction, Item;"
        "m = api.default_model(); t1 = time.perf_counter();"
        "bank = [Item(i, (1 + i % 7,)) for i in range(1, 200)];"
        "e = Event('e', 's', [Interaction(3, (4,), 1, 0.0)], bank=bank, now=1e6);"
        "r = run_batch(m, api.InMemoryTableStore(), 'new', [e])[0];"
        "assert len(r.plan.items) == 5;"
        "print(t1 - t0, time.perf_counter() - t1)")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    load_s, first_s = (float(x) for x in out.stdout.split())
    assert load_s + first_s < 2.0, (load_s, first_s, time.perf_counter() - t)


def test_one_featurisation_serves_prediction_and_adaptation(model: api.Model) -> None:
    from meta_engine.model import serving
    from meta_engine.model.resume import advance

    window = model.net.cfg.window
    hists, _ = _course(n_students=3, length=window + 30, seed=4)
    point = advance(None, hists[2][:20])
    histories = [hists[0], hists[1][:10], hists[2][20:]]
    starts = [None, None, point]
    shared = serving.history_windows(model, histories, starts)
    tabs = model.new_course_tables()
    assert [len(w.items) for w in shared] == [window + 1, 10, window + 1]
    # Every kept row was read (a row after earlier answers has answer counts).
    assert all(w.glob[:, :2].sum(1).all() for w in (shared[0], shared[2]))
    for given, alone in zip([serving._less_extra(model, w) for w in shared],
                            serving._windows(model, histories, 0, starts), strict=True):
        assert len(given.items) == len(alone.items)
        for name in ("items", "skills", "local", "counts", "glob", "correct", "skill_ids"):
            assert np.array_equal(getattr(given, name), getattr(alone, name)), name
        assert given.state.to_dict() == alone.state.to_dict()
        assert given.n_answers == alone.n_answers
    with_windows = serving.adapt_batch(model, histories, tabs, None, starts, shared)
    without = serving.adapt_batch(model, histories, tabs, None, starts)
    assert [s.to_dict() for s in with_windows] == [s.to_dict() for s in without]
    assert np.array_equal(predict_next(model, histories, tabs, None, starts, shared).p,
                          predict_next(model, histories, tabs, None, starts).p)
