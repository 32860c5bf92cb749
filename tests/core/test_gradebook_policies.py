"""Grading policies: the pure score functions, then through the pipeline (real database and
Redis) with the activity's settings, and the practice-set candidates narrowed to the chosen
skills and categories."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import redis
from sqlalchemy import select, update

from lti_tool.core.activities import ActivitySettings, from_activity
from lti_tool.core.answers.submit import store_answer
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, GradeEvent, Item, ScorePassback
from lti_tool.core.gradebook.policies import (
    best_set,
    completion,
    mastered_share,
    mastery_by_skill,
    score,
)
from tests.support.course import Course
from workers.engine_adapter import Job, Plan
from workers.pipeline import build_jobs, process_events

R, W = True, False


def test_completion_counts_completions_up_to_the_goal() -> None:
    assert completion(0, 20) == 0.0
    assert completion(5, 20) == 0.25
    assert completion(25, 20) == 1.0


def test_best_set_takes_the_best_chunk_of_set_size() -> None:
    assert best_set([], 3) == 0.0
    assert best_set([W, R, W, R, R, R, W], 3) == 1.0  # second set: all three right
    assert best_set([R, R, W, R], 3) == pytest.approx(2 / 3)
    # A set in progress counts its missing answers as not right: 1 of 1 is not 100%.
    assert best_set([R], 5) == pytest.approx(0.2)


def test_mastery_is_the_share_of_chosen_skills_over_the_threshold() -> None:
    feedback = {"skills": [{"skill": 1, "mastery": 0.91}, {"skill": 2, "mastery": 0.79},
                           {"skill": "3", "mastery": 0.8}, {"skill": 4}, "junk"]}
    mastery = mastery_by_skill(feedback)
    assert mastery == {1: 0.91, 2: 0.79, 3: 0.8}
    assert mastered_share(mastery, [1, 2, 3], 0.8) == pytest.approx(2 / 3)
    assert mastered_share(mastery, [1, 5], 0.8) == 0.5  # no estimate yet: not mastered
    assert mastered_share({}, [1], 0.8) is None
    assert mastery_by_skill({"answers": 3}) == {} and mastery_by_skill(None) == {}


def policy(grading: str, **values: object) -> ActivitySettings:
    return ActivitySettings(title="t", bank="1", grading=grading, **values)  # type: ignore[arg-type]


def test_score_by_policy() -> None:
    answers = [R, W, W, R]
    mastery = {1: 0.9, 2: 0.5}
    assert score(policy("fraction_correct"), answers) == 0.5
    assert score(policy("completion", goal=8), answers) == 0.5
    assert score(policy("best_set", set_size=2), answers) == 0.5
    chosen = policy("mastery", skills=(1,), mastery_threshold=0.85)
    assert score(chosen, answers, mastery=mastery) == 1.0
    # No chosen skills: every skill of the bank, including one not practised yet.
    everything = policy("mastery")
    assert score(everything, answers, mastery=mastery, bank_skills=[1, 2, 3]) == pytest.approx(
        1 / 3)
    # Before any mastery estimate, the share of right answers stands in.
    assert score(everything, answers, mastery={}, bank_skills=[1, 2]) == 0.5


def stored(settings: dict[str, object]) -> ActivitySettings:
    return from_activity(Activity(title="t", points=10.0, bank_id=1, settings=settings))


def test_one_reading_of_stored_settings_for_form_gradebook_and_workers() -> None:
    # Settings from before versions existed: no "grading" meant the share of right answers in
    # the gradebook, and the form now shows (and keeps) exactly that instead of "mastery".
    assert stored({}).grading == "fraction_correct"
    assert stored({}).form_values()["grading"] == "fraction_correct"
    assert stored({"version": 2}).grading == "mastery"
    # A threshold written as a percentage is that percentage everywhere (it was 0.8 in the
    # gradebook and 1.0 on the student page); out of range comes back into the form's range.
    assert stored({"mastery_threshold": 85}).mastery_threshold == 0.85
    assert stored({"mastery_threshold": 0.3}).mastery_threshold == 0.5
    assert stored({"mastery_threshold": "x"}).mastery_threshold == 0.8
    got = stored({"grading": "best_set", "set_size": 4, "goal": 0, "skills": [1, "2", "x"],
                  "band": [60, 80]})
    assert (got.grading, got.set_size, got.goal, got.skills, got.band) == (
        "best_set", 4, 1, (1, 2), (0.6, 0.8))
    assert stored({"grading": "average"}).grading == "mastery"


def test_saving_the_form_unchanged_changes_nothing() -> None:
    from werkzeug.datastructures import MultiDict

    from lti_tool.core.activities import parse_form

    for raw in ({}, {"grading": "completion", "goal": 7, "mastery_threshold": 0.85}):
        activity = Activity(title="Practice", points=10.0, bank_id=3, settings=raw)
        before = from_activity(activity)
        values = before.form_values()
        form = MultiDict([(k, v) for k, v in values.items() if not isinstance(v, list)]
                         + [(k, x) for k, v in values.items() if isinstance(v, list) for x in v])
        parse_form(form).apply_to(activity, bank_id=3)
        assert from_activity(activity) == before


# --- through the pipeline -------------------------------------------------------------------


@dataclass
class MasteryEngine:
    """Stands in for the model: mastery of a skill = its share of right answers so far."""

    version: str = "mastery-test"
    jobs: list[Job] = field(default_factory=list)
    size: int = 3  # every set is the bank's first `size` questions

    def plan_batch(self, jobs: list[Job]) -> list[Plan]:
        self.jobs.extend(jobs)
        plans = []
        for job in jobs:
            tally: dict[int, list[bool]] = {}
            for a in job.history:
                for k in a.skill_ids:
                    tally.setdefault(k, []).append(a.correct)
            skills = [{"skill": k, "mastery": sum(v) / len(v)} for k, v in tally.items()]
            chosen = job.bank[:self.size]
            plans.append(Plan(items=[{"item_id": b.item_id, "why": "test"} for b in chosen],
                              feedback={"skills": skills}))
        return plans


def configure(db: Database, course: Course, settings: dict[str, object]) -> None:
    with db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(settings=settings, points=10.0))


def answer(db: Database, course: Course, item: int, right: bool) -> str:
    choice = {"choice": "0" if right else "1"}
    return store_answer(db, course.learner(0), course.item_ids[item], choice).event_id


def score_given(db: Database, course: Course) -> float:
    with db.session() as s:
        return s.scalars(select(ScorePassback)).one().score_given


@pytest.fixture()
def rclient(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_completion_and_best_set_reach_the_gradebook_row(
    db: Database, course: Course, rclient: redis.Redis
) -> None:
    engine = MasteryEngine()
    configure(db, course, {"grading": "completion", "goal": 4, "set_size": 2})
    events = [answer(db, course, 0, False), answer(db, course, 1, True)]
    process_events(db, rclient, engine, events)
    assert score_given(db, course) == pytest.approx(5.0)  # 2 of 4 answers, 10 points
    configure(db, course, {"grading": "best_set", "set_size": 2})
    events = [answer(db, course, 2, True), answer(db, course, 3, True)]
    process_events(db, rclient, engine, events)
    assert score_given(db, course) == pytest.approx(10.0)  # the second pair: both right


def test_mastery_of_the_chosen_skills(db: Database, course: Course, rclient: redis.Redis) -> None:
    with db.session() as s:
        items = {i.id: int(i.skill_ids[0]) for i in s.scalars(select(Item))}
    skill_a = items[course.item_ids[0]]
    skill_b = items[course.item_ids[1]]
    configure(db, course, {"grading": "mastery", "skills": [skill_a, skill_b],
                           "mastery_threshold": 0.8, "set_size": 1})
    # Every set is question 0 alone, so question 1 (a stand-in outside the set) may be
    # answered again and again; each answer is evidence for the mastery grade.
    engine = MasteryEngine(size=1)
    events = [answer(db, course, 0, True), answer(db, course, 1, False)]
    process_events(db, rclient, engine, events)
    assert score_given(db, course) == pytest.approx(5.0)  # skill a mastered, skill b not
    process_events(db, rclient, engine, [answer(db, course, 1, True),
                                         answer(db, course, 1, True),
                                         answer(db, course, 1, True),
                                         answer(db, course, 1, True)])
    assert score_given(db, course) == pytest.approx(10.0)  # b: 4 of 5 right reaches 0.8


def test_mastery_falls_back_to_right_answers_before_any_estimate(
    db: Database, course: Course, rclient: redis.Redis
) -> None:
    from tests.support.engines import RecordingEngine  # its feedback has no mastery

    configure(db, course, {"grading": "mastery"})
    events = [answer(db, course, 0, True), answer(db, course, 1, False),
              answer(db, course, 2, True), answer(db, course, 3, True)]
    process_events(db, rclient, RecordingEngine(), events)
    assert score_given(db, course) == pytest.approx(7.5)


def test_practice_sets_draw_only_on_the_chosen_skills_and_categories(
    db: Database, course: Course
) -> None:
    with db.session() as s:
        rows = list(s.scalars(select(Item).order_by(Item.id)))
        for n, item in enumerate(rows):
            item.category = "Top/Even" if n % 2 == 0 else "Top/Odd"
        chosen_skill = int(rows[0].skill_ids[0])
    everything = {r.id for r in rows}
    event = answer(db, course, 0, True)

    def candidates(settings: dict[str, object]) -> set[int]:
        configure(db, course, settings)
        with db.session() as s:
            ev = s.get(GradeEvent, event)
            assert ev is not None
            (pending,) = build_jobs(s, [ev], ev.created_at)
            job = pending.job
        # The history keeps the answered item's skills whatever the filter.
        assert job.history[0].skill_ids == (chosen_skill,)
        return {b.item_id for b in job.bank}

    assert candidates({}) == everything
    by_skill = candidates({"skills": [chosen_skill]})
    assert by_skill == {r.id for r in rows if chosen_skill in r.skill_ids}
    assert by_skill and by_skill < everything
    by_category = candidates({"categories": ["Top/Odd"]})
    assert by_category == {r.id for n, r in enumerate(rows) if n % 2 == 1}
    both = candidates({"skills": [chosen_skill], "categories": ["Top/Even"]})
    assert both == by_skill & {r.id for n, r in enumerate(rows) if n % 2 == 0}
    # A choice that no item matches (the bank changed since) falls back to the whole bank.
    assert candidates({"skills": [999_999]}) == everything


def test_a_partly_right_answer_counts_its_share_of_the_score(
    db: Database, course: Course, rclient: redis.Redis
) -> None:
    with db.session() as s:
        item = s.get(Item, course.item_ids[0])
        assert item is not None
        item.answer = {"choice": 0, "credits": [1.0, 0.5, 0.0]}  # option 1: half the marks
    configure(db, course, {"grading": "fraction_correct"})
    events = [answer(db, course, 0, False), answer(db, course, 1, True)]  # 0.5 and 1
    process_events(db, rclient, MasteryEngine(), events)
    assert score_given(db, course) == pytest.approx(7.5)
