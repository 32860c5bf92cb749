"""A class seeded for the teacher dashboards: real launches of two learners and a teacher, and
answers, practice sets and gradebook rows written straight to the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.core.db.models import (
    Activity,
    Answer,
    Item,
    PassbackStatus,
    PracticeSet,
    ResourceLink,
    ScorePassback,
    Skill,
)
from tests.support.course import seed_course
from tests.support.lti_world import LtiWorld
from tests.support.teacher_pages import launch, launch_row

SVG = "{http://www.w3.org/2000/svg}"


@dataclass
class Class:
    world: LtiWorld
    link: str
    platform_id: int
    context_id: int
    activity_id: int
    ada: int
    ben: int
    ada_passback: int
    skill: dict[str, int]  # name -> id
    now: datetime


def answer(s: Session, user: int, activity: int, item: Item, choice: int,
            at: datetime) -> None:
    right = int(item.answer["choice"])
    s.add(Answer(user_id=user, activity_id=activity, item_id=item.id,
                 response={"choice": choice}, correct=choice == right, answered_at=at))


@pytest.fixture()
def seeded_class(lti_world: LtiWorld) -> Iterator[Class]:
    """Ada and Ben opened the activity (real launches); Cleo is on the roster only.

    Ada: 4 practice sets; skill 0 fell 90% -> 60%, skill 1 rose to 65%; skill 2 has answers
    (1 of 2 right) but no estimate. Ben: 2 right answers on skill 1, ten days ago, no set.
    """
    world = lti_world
    link = world.store.add_link("Fractions", score_maximum=10)
    ada_row = launch_row(world, launch(world, world.browser(), "101", link.id))
    ben_row = launch_row(world, launch(world, world.browser(), "102", link.id))
    course = seed_course(world.db, platform_id=world.platform_pk, items=6)
    now = datetime.now(UTC).replace(microsecond=0)
    ada, ben = ada_row.user_id or 0, ben_row.user_id or 0
    with world.db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id).values(
            context_id=ada_row.context_id,
            settings={"set_size": 3, "mastery_threshold": 0.8}))
        s.get(ResourceLink, ada_row.resource_link_id).activity_id = course.activity_id  # type: ignore[union-attr]
        items = [s.get(Item, i) for i in course.item_ids]
        bank = items[0].bank_id  # type: ignore[union-attr]
        skill = {k.name: k.id for k in s.scalars(select(Skill).where(Skill.bank_id == bank))}
        # seed_course tags item i with "skill {(i + 1) % 3}".
        by_skill = {name: [i for i in items if i and i.skill_ids == [sid]]
                    for name, sid in skill.items()}
        act = course.activity_id
        t = now - timedelta(hours=2)
        s0, s1, s2 = by_skill["skill 0"][0], by_skill["skill 1"][0], by_skill["skill 2"][0]
        for k, (item, choice) in enumerate([(s0, 1), (s0, 1), (s0, 0), (s1, 0), (s1, 2),
                                            (s2, 0), (s2, 1)]):
            answer(s, ada, act, item, choice, t + timedelta(minutes=k))
        for k in range(2):
            answer(s, ben, act, s1, 0, now - timedelta(days=10, minutes=k))
        for n, (m0, m1) in enumerate([(0.9, 0.5), (0.85, 0.55), (0.7, 0.6), (0.6, 0.65)]):
            s.add(PracticeSet(user_id=ada, activity_id=act, created_at=t + timedelta(minutes=n),
                              feedback={"skills": [
                                  {"skill": skill["skill 0"], "name": "skill 0", "mastery": m0,
                                   "low": m0 - 0.1, "high": m0 + 0.1},
                                  {"skill": skill["skill 1"], "name": "skill 1", "mastery": m1,
                                   "low": m1 - 0.1, "high": m1 + 0.1}]}))
        pb = ScorePassback(user_id=ada, activity_id=act, score_given=4.0, score_maximum=10.0,
                           status=PassbackStatus.failed, last_error="score refused: HTTP 500")
        s.add(pb)
        s.add(ScorePassback(user_id=ben, activity_id=act, score_given=10.0, score_maximum=10.0,
                            status=PassbackStatus.verified, lms_score=10.0,
                            checked_at=now - timedelta(minutes=5)))
        s.flush()
        pb_id = pb.id
    yield Class(world, link.id, world.platform_pk, ada_row.context_id or 0, course.activity_id,
                ada, ben, pb_id, skill, now)


def first_name(li: str) -> str:
    found = re.search(r">([^<]+)</(?:a|strong)>", li)
    assert found is not None, li
    return found.group(1)


def teacher(c: Class) -> tuple[requests.Session, str]:
    browser = c.world.browser()
    return browser, launch(c.world, browser, "201", c.link)
