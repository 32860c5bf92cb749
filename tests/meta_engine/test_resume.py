"""Serving a student from a resume point and the answers after it equals serving them from
their whole history: predictions, table updates, the adapted state, the next set and its
reasons, the feedback (meta_engine.model.resume)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from meta_engine import api
from meta_engine.model.resume import ResumePoint, advance
from meta_engine.serve import KEEP_SLACK, Event, point_cut, serve_batch
from meta_engine.types import Interaction, Item


@pytest.fixture(scope="module")
def model() -> api.Model:
    torch.set_num_threads(1)
    return api.default_model()


def _student(length: int, seed: int) -> tuple[list[Interaction], list[Item]]:
    """A long history over 40 questions of 6 skills (some with two), skills met late too."""
    rng = np.random.default_rng(seed)
    bank = [Item(700 + i, (11 + i % 6,) if i % 5 else (11 + i % 6, 11 + (i + 1) % 6))
            for i in range(40)]
    h = []
    for t in range(length):
        # The last two skills appear only in the second half: a resumed history brings
        # skills its point never met.
        pool = bank if t > length // 2 else [b for b in bank if max(b.skills) < 15]
        it = pool[int(rng.integers(0, len(pool)))]
        p = 1 / (1 + np.exp(-(0.01 * t - 0.4 * (it.id % 4) + 0.5)))
        h.append(Interaction(it.id, it.skills, int(rng.random() < p), 30.0 * t))
    return h, bank


def _event(h: list[Interaction], bank: list[Item], since: int | None, before: dict | None,
           earlier: ResumePoint | None = None) -> Event:
    start = earlier.n if earlier is not None else 0
    return Event("e", "s", h[start:], bank=bank, now=30.0 * len(h) + 600, since=since,
                 settings=api.PracticeSettings(n_items=5), before=before, earlier=earlier)


def _same(a: object, b: object) -> None:
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize(("cut", "before"), [
    (1, {11: 0.4, 12: 0.6}), (150, {11: 0.4, 12: 0.6}), (300 - 65, {11: 0.4}),
    (150, None),  # the state at the previous set (answer 280) is adapted again, resumed too
])
def test_resumed_student_is_served_as_from_the_whole_history(
    model: api.Model, cut: int, before: dict | None,
) -> None:
    h, bank = _student(300, seed=cut)
    tabs = model.new_course_tables()
    full = serve_batch(model, tabs, [_event(h, bank, 280, before)])[0]
    point = advance(None, h[:cut])
    assert point.n == cut
    resumed = serve_batch(model, tabs, [_event(h, bank, 280, before, point)])[0]
    assert resumed.p_before == pytest.approx(full.p_before, abs=1e-6)
    _same([u.to_dict() for u in resumed.updates], [u.to_dict() for u in full.updates])
    assert full.state is not None and resumed.state is not None
    assert resumed.state.n_answers == full.state.n_answers == 300
    np.testing.assert_allclose(resumed.state.alpha, full.state.alpha, atol=1e-6)
    assert resumed.state.theta == pytest.approx(full.state.theta, abs=1e-6)
    _same(resumed.state.features, full.state.features)
    assert full.plan is not None and resumed.plan is not None
    assert [i.item_id for i in resumed.plan.items] == [i.item_id for i in full.plan.items]
    assert [i.reason for i in resumed.plan.items] == [i.reason for i in full.plan.items]
    assert resumed.feedback is not None and full.feedback is not None
    _same(resumed.feedback.to_dict(), full.feedback.to_dict())


def test_points_chain_and_survive_json(model: api.Model) -> None:
    """A point advanced in steps (as events come), through JSON each time, equals one made
    from the whole prefix; it is moved on only when the answers after it are twice what it
    leaves."""
    h, _ = _student(400, seed=3)
    keep = model.net.cfg.window + KEEP_SLACK
    assert point_cut(model, 2 * keep - 1) is None
    assert point_cut(model, 2 * keep) == keep
    point = None
    for stop in (37, 90, 91, 260):
        point = ResumePoint.from_dict(json.loads(json.dumps(
            advance(point, h[point.n if point else 0: stop]).to_dict())))
    assert point is not None
    _same(point.to_dict(), advance(None, h[:260]).to_dict())
    assert point.items[h[259].item].position == 259


def test_a_since_before_the_point_is_refused_not_guessed(model: api.Model) -> None:
    h, bank = _student(300, seed=5)
    point = advance(None, h[:200])
    with pytest.raises(ValueError, match="starts after answer 200"):
        serve_batch(model, model.new_course_tables(), [_event(h, bank, 210, None, point)])


def test_the_result_carries_the_next_point(model: api.Model) -> None:
    h, bank = _student(300, seed=7)
    e = Event("e", "s", h, bank=bank, now=1e5, want_point=True)
    r = serve_batch(model, model.new_course_tables(), [e])[0]
    assert r.point is not None
    cut, point = r.point
    assert cut == point_cut(model, 300) and point.n == cut
    _same(point.to_dict(), advance(None, h[:cut]).to_dict())
