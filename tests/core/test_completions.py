"""The "completion" policy counts one completion per item of a practice set: the pure count,
then through the pipeline, where a question of a set is graded once and so completes once."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import select, update

from lti_tool.core.answers.submit import AlreadyAnswered, store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, ScorePassback
from lti_tool.core.gradebook.completions import ShownSet, count_completions
from tests.support.course import Course
from tests.support.engines import RecordingEngine
from workers.engine_adapter import Engine, Job, Plan
from workers.pipeline import process_events


def test_before_any_set_each_item_counts_once() -> None:
    assert count_completions([(1, 7), (2, 7), (3, 7), (4, 8)], []) == 2


def test_an_item_counts_once_per_set_it_was_in() -> None:
    sets = [ShownSet(1, 0, {7, 8}), ShownSet(2, 13, {7, 9})]
    answers = [(11, 7), (12, 7), (13, 8),  # set 1: 7 and 8, once each (13 finished it)
               (21, 7), (22, 7),  # set 2 has 7 again: once more
               (23, 8),  # a stale page of set 1: graded, completes nothing
               (24, 5)]  # in neither set: nothing
    assert count_completions(answers, sets) == 3


def test_an_answer_belongs_to_the_set_planned_before_it() -> None:
    sets = [ShownSet(2, 13, {9}), ShownSet(1, 0, {7, 8})]  # any order
    assert count_completions([(13, 8)], sets) == 1  # the answer that finished set 1
    assert count_completions([(14, 8)], sets) == 0  # after it, set 2 is the one shown


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


@pytest.mark.parametrize(("engine", "after_next_set"), [
    # The next set shows question 0 again: answering it there is one more completion.
    (SameSetEngine(), 10.0),
    # The next set leaves the answered questions out: answering 0 again completes nothing.
    (RecordingEngine(), 7.5),
], ids=["same-set", "least-practised"])
def test_answering_one_question_again_and_again_does_not_complete_the_goal(
    db: Database, course: Course, redis_url: str, engine: Engine, after_next_set: float,
) -> None:
    client = redis.Redis.from_url(redis_url)
    _completion(db, course, goal=4)
    _answer_and_process(db, course, client, engine, 0)
    for _ in range(4):  # the same question of the same set: refused, nothing stored
        with pytest.raises(AlreadyAnswered):
            store_answer(db, course.learner(0), course.item_ids[0], {"choice": "0"})
    assert _score(db) == pytest.approx(2.5)  # one completion of four
    for item in (1, 2):
        _answer_and_process(db, course, client, engine, item)
    assert _score(db) == pytest.approx(7.5)  # the first set is finished
    _answer_and_process(db, course, client, engine, 0)
    assert _score(db) == pytest.approx(after_next_set)
