"""An adapt worker process reads a bank once and builds the engine's arrays once while the
bank stands, and again as soon as one of its questions changes (workers.bank_cache,
engine_adapter.PreparedBanks)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import torch
from sqlalchemy import select

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import GradeEvent, Item
from tests.support.course import Course, seed_course
from workers.bank_cache import BankCache
from workers.engine_adapter import MetaEngine, PreparedBanks, load_engine
from workers.pipeline import build_jobs


@pytest.fixture(scope="module")
def engine() -> MetaEngine:
    torch.set_num_threads(1)
    return load_engine()


@pytest.fixture()
def course(db: Database) -> Course:
    return seed_course(db, items=8)


def job_bank(db: Database, course: Course, cache: BankCache, n: int) -> tuple:
    event = store_answer(db, course.learner(n % 2), course.item_ids[n], {"choice": "0"}).event_id
    with db.session() as s:
        [p] = build_jobs(s, [s.get(GradeEvent, event)], datetime.now(UTC), None, cache)  # type: ignore[list-item]
    return p.job.bank


def test_a_bank_is_read_once_while_it_stands(db: Database, course: Course, engine: MetaEngine
                                             ) -> None:
    cache: BankCache = BankCache()
    prepared = PreparedBanks()
    model = engine.model_for(None)
    first = job_bank(db, course, cache, 0)
    again = job_bank(db, course, cache, 1)
    assert again is first  # the same tuple: not read again
    assert prepared.get(model, again) is prepared.get(model, first)  # built once
    with db.session() as s:
        s.get(Item, course.item_ids[5]).text = "What is 6 + 6, really?"  # type: ignore[union-attr]
    changed = job_bank(db, course, cache, 2)
    assert changed is not first
    assert "What is 6 + 6, really?" in {b.text for b in changed}
    assert prepared.get(model, changed) is not prepared.get(model, first)
    assert [i.text for i in prepared.get(model, changed).items] == [b.text for b in changed]


def job_names(db: Database, course: Course, cache: BankCache, n: int) -> dict[int, str]:
    event = store_answer(db, course.learner(n % 2), course.item_ids[n], {"choice": "0"}).event_id
    with db.session() as s:
        [p] = build_jobs(s, [s.get(GradeEvent, event)], datetime.now(UTC), None, cache)  # type: ignore[list-item]
    return dict(p.job.skill_names)


def test_skill_names_are_kept_with_the_bank_and_a_rename_is_seen(db: Database, course: Course
                                                                 ) -> None:
    from lti_tool.core.db.models import Skill

    cache: BankCache = BankCache()
    first = job_names(db, course, cache, 0)
    assert first and len(cache) > 0
    with db.session() as s:
        skill = s.get(Skill, min(first))
        assert skill is not None
        skill.name = "Halves and quarters"
    assert job_names(db, course, cache, 1)[min(first)] == "Halves and quarters"


def test_a_bank_without_revision_is_read_every_time(db: Database, course: Course) -> None:
    """Banks made before revisions existed (the migration leaves them NULL)."""
    from sqlalchemy import update

    from lti_tool.core.db.models import ItemBank

    with db.session() as s:
        bank_id = s.scalar(select(Item.bank_id).where(Item.id == course.item_ids[0]))
        s.execute(update(ItemBank).where(ItemBank.id == bank_id).values(revision=None))
    cache: BankCache = BankCache()
    assert job_bank(db, course, cache, 0) is not job_bank(db, course, cache, 1)
    assert len(cache) == 0


def test_the_cache_keeps_only_the_most_recent_banks() -> None:
    cache: BankCache[int] = BankCache(size=2)
    loads: list[str] = []

    def load(name: str) -> int:
        loads.append(name)
        return len(loads)

    assert cache.get("a", "r1", lambda: load("a")) == 1
    assert cache.get("b", "r1", lambda: load("b")) == 2
    assert cache.get("a", "r1", lambda: load("a")) == 1  # a is now the most recent
    cache.get("c", "r1", lambda: load("c"))
    assert cache.get("b", "r1", lambda: load("b")) == 4  # b was dropped, read again
    assert cache.get("a", "r2", lambda: load("a")) == 5  # a new revision
    assert loads == ["a", "b", "c", "b", "a"]
