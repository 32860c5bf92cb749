"""The transferable core has no id-indexed parameter; a course's tables are its own, fitted
online, keyed by its own ids, never folded onto another course's; table updates are
idempotent by event id; a per-course model never serves another course."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from meta_engine import api
from meta_engine.course_models import CourseModels, train_course_model
from meta_engine.data.courses import CourseParams, simulate_course
from meta_engine.data.simulate import split_by_student
from meta_engine.model.core import MetisCore
from meta_engine.model.student import MetisConfig, MetisNet
from meta_engine.model.tables import (
    CourseTables,
    InMemoryTableStore,
    TablePriors,
    answer_updates,
)
from meta_engine.serve import Event, course_tables, run_batch
from meta_engine.types import Interaction, Item


@pytest.fixture(scope="module")
def model() -> api.Model:
    torch.set_num_threads(1)
    return api.default_model()


def test_core_state_dict_has_no_id_indexed_parameter() -> None:
    """Core tensors have the same shapes whatever the course's numbers of items and skills,
    and none of them has a dimension of a table's size."""
    shapes = []
    for n_items, n_skills in ((57, 12), (301, 41)):
        net = MetisNet(MetisConfig(n_items=n_items, n_skills=n_skills))
        core = {k: tuple(v.shape) for k, v in net.core.state_dict().items()}
        shapes.append(core)
        for name, shape in core.items():
            assert n_items + 1 not in shape and n_skills + 1 not in shape, (name, shape)
        # Everything indexed by an id is in the tables, sized by the course.
        tab = {k: tuple(v.shape) for k, v in net.tables.state_dict().items()}
        assert tab["item"] == (n_items + 1,) and tab["skill"] == (n_skills + 1,)
    assert shapes[0] == shapes[1]
    standalone = {k: tuple(v.shape) for k, v in MetisCore(MetisConfig(0, 0)).state_dict().items()}
    assert standalone == shapes[0]


def test_shipped_core_has_no_tables(model: api.Model) -> None:
    state = model.net.state_dict()
    tables = {k: v for k, v in state.items() if k.startswith("tables.")}
    assert max(v.numel() for v in tables.values()) <= model.net.cfg.rank + 2
    assert model.net.tables.n_items == 0 and model.net.tables.n_skills == 0
    assert "simulated" in model.card["trained_on"]


def _history(skills: tuple[int, ...], items: tuple[int, ...], correct: tuple[int, ...]
             ) -> list[Interaction]:
    return [Interaction(i, (k,), c, float(t)) for t, (i, k, c) in
            enumerate(zip(items, skills, correct, strict=True))]


def test_unseen_skills_get_their_own_tables_never_folded(model: api.Model) -> None:
    """A bank with skill ids the model never saw (e.g. database ids) gets table entries keyed
    by those very ids, in its own course; another course's tables stay apart."""
    store = InMemoryTableStore()
    h = _history((4040, 6464, 7777, 4040), (90001, 90002, 90003, 90004), (1, 0, 1, 1))
    events = [Event(f"a{t}", "s1", h[: t + 1], plan=False) for t in range(len(h))]
    for e in events:
        run_batch(model, store, "course-A", [e])
    deltas = store.load((model.version, "course-A")).entries
    assert set(deltas["skill"]) == {4040, 6464, 7777}
    assert set(deltas["item"]) == {90001, 90002, 90003, 90004}
    assert store.load((model.version, "course-B")).entries["skill"] == {}
    # Mastery and plans name the course's own skills.
    tabs = course_tables(model, "course-A", store.load((model.version, "course-A")))
    st = api.adapt(model, h, tabs)
    assert st.skill_ids == [4040, 6464, 7777]
    ms = api.mastery(model, st, tables=tabs)
    assert set(ms.skills.tolist()) == {4040, 6464, 7777}
    bank = [Item(90010 + i, (k,)) for i, k in enumerate((4040, 6464, 7777, 5151))]
    plan = api.select_practice_set(model, st, bank, api.PracticeSettings(n_items=4),
                                   now=1e6, history=h, tables=tabs)
    for it in plan.items:
        assert set(it.detail["skills"]) <= {4040, 6464, 7777, 5151}
        if it.reason == "weakness":
            assert it.detail["skill"] in {4040, 6464, 7777, 5151}
            assert f"skill {it.detail['skill']}" in it.why


def test_online_updates_move_the_right_way_and_are_idempotent(model: api.Model) -> None:
    tabs = CourseTables(TablePriors())
    up = answer_updates(tabs, "e1", 5, (2,), [0.0], [0.0], 0.5, 1, 1.0)
    by = {(u.kind, u.key): u for u in up}
    assert by[("item", 5)].d_mean < 0 and by[("skill", 2)].d_mean < 0  # right: easier
    assert all(u.d_precision > 0 for u in up)
    down = answer_updates(tabs, "e2", 5, (2,), [0.0], [0.0], 0.5, 0, 1.0)
    assert {(u.kind, u.key): u for u in down}[("item", 5)].d_mean > 0
    store = InMemoryTableStore()
    assert store.apply(("v", "c"), up) == 1
    once = store.load(("v", "c")).to_dict()
    assert store.apply(("v", "c"), up) == 0  # redelivered: skipped
    assert store.load(("v", "c")).to_dict() == once
    # The effective entry: prior + delta; a stated difficulty is the item's prior mean.
    t2 = tabs.with_deltas(store.load(("v", "c")))
    m, prec, n = t2.entry("item", np.array([5, 6]), np.array([np.nan, 1.5]))
    assert m[0] < 0 and m[1] == 1.5 and prec[0] > prec[1] and n.tolist() == [1, 0]


def test_course_model_serves_only_its_course(model: api.Model) -> None:
    """A model retrained on course A's answers is promoted for A only; B keeps the core."""
    p = CourseParams(n_skills=6, items_per_skill=8, len_median=25, len_sigma=0.3)
    ds = simulate_course(p, 60, seed=3, name="A")
    (train, held), = split_by_student(ds, 4, seed=0)[:1]
    cand, card = train_course_model(train, held, "A", base=model, max_epochs=2,
                                    version="course-A-1")
    assert card["course"] == "A"
    reg = CourseModels(model)
    promo = reg.consider("A", cand, held)
    assert np.isfinite(promo.candidate_auc) and np.isfinite(promo.active_auc)
    if promo.promoted:
        assert reg.model_for("A") is cand
    assert reg.model_for("B") is model  # never the model of another course
    with pytest.raises(ValueError):
        reg.consider("B", cand, held)
    # Its trained tables start course A only; course B starts from priors.
    assert course_tables(cand, "A").base.columns["skill"].keys.size > 0
    assert course_tables(cand, "B").base.columns["skill"].keys.size == 0
