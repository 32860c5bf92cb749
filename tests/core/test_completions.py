"""The "completion" policy counts one completion per item of a practice set: the pure count,
then through the pipeline where answering one question again and again used to inflate it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select, update

from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, ScorePassback
from lti_tool.core.gradebook.completions import ShownSet, count_completions
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers.engine_adapter import Engine, Job, Plan
from workers.pipeline import process_events

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_before_any_set_each_item_counts_once() -> None:
    assert count_completions([(7, at(0)), (7, at(1)), (7, at(2)), (8, at(3))], []) == 2


def test_an_item_counts_once_per_set_it_was_shown_in() -> None:
    sets = [ShownSet(1, at(10), {7, 8}), ShownSet(2, at(20), {7, 9})]
    answers = [(7, at(11)), (7, at(12)), (8, at(13)),  # set 1: 7 and 8, once each
               (7, at(21)), (7, at(22)),  # set 2 shows 7 again: once more
               (8, at(23)),  # still shown a moment in the previous set, already counted there
               (5, at(24))]  # in neither set: nothing
    assert count_completions(answers, sets) == 3


def test_a_stale_page_answer_counts_in_the_previous_set() -> None:
    sets = [ShownSet(1, at(10), {7, 8}), ShownSet(2, at(11), {9})]
    # 8 was answered on the page still showing set 1 after set 2 was stored.
    assert count_completions([(7, at(10.5)), (8, at(11.5))], sets) == 2
    older = [ShownSet(1, at(10), {7, 8}), ShownSet(2, at(11), {9}), ShownSet(3, at(12), {9})]
    assert count_completions([(8, at(12.5))], older) == 0  # two sets later: not shown any more


def test_the_same_questions_again_are_one_set() -> None:
    sets = [ShownSet(n, at(10 + n), {7, 8, 9}) for n in range(1, 6)]
    answers = [(7, at(11.5 + n)) for n in range(5)]
    assert count_completions(answers, sets) == 1


def _completion(db: Database, course: Course, goal: int) -> None:
    with db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(settings={"grading": "completion", "goal": goal, "set_size": 3},
                          points=10.0))


def _score(db: Database) -> float:
    with db.session() as s:
        return s.scalars(select(ScorePassback)).one().score_given


class SameSetEngine:
    """Offers the bank's first three questions every time."""

    version = "same-set"

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        return [Plan(items=[{"item_id": b.item_id, "why": "t"} for b in job.bank[:3]],
                     feedback={}) for job in jobs]


def _answer_and_process(db: Database, course: Course, client: redis.Redis, engine: Engine,
                        item: int) -> None:
    event = store_answer(db, course.learner(0), course.item_ids[item], {"choice": "0"}).event_id
    process_events(db, client, engine, [event])


@pytest.mark.parametrize(("engine", "after_repeats", "after_others"), [
    # The first questions and then the set that keeps showing it: two completions.
    (SameSetEngine(), 5.0, 10.0),
    # The next sets leave the answered question out: the repeats complete nothing.
    (RecordingEngine(), 2.5, 7.5),
], ids=["same-set", "least-practised"])
def test_answering_one_question_again_and_again_does_not_complete_the_goal(
    db: Database, course: Course, redis_url: str, engine: Engine, after_repeats: float,
    after_others: float,
) -> None:
    client = redis.Redis.from_url(redis_url)
    _completion(db, course, goal=4)
    for _ in range(5):
        _answer_and_process(db, course, client, engine, 0)
    assert _score(db) == pytest.approx(after_repeats)  # it was 5 of 4 answers: full marks
    for item in (1, 2):
        _answer_and_process(db, course, client, engine, item)
    assert _score(db) == pytest.approx(after_others)
