"""The course read-out on a seeded database: a fixed number of queries whatever the class size,
the at-risk rules on their own, item statistics from stored answers, and safe CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, Answer, Item, PracticeSet, ScorePassback, User
from lti_tool.core.teaching.course import Cell, MasteryPoint, load_course
from lti_tool.core.teaching.export import items_csv, safe_cell, to_csv
from lti_tool.core.teaching.items import UnknownActivity, item_report
from lti_tool.core.teaching.overview import overview
from lti_tool.core.teaching.risk import RiskRules, activity_reasons, risk_reasons
from tests.support.course import Course, seed_course
from tests.support.queries import counted

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)





def add_class(db: Database, course: Course, students: int, *, seed: int = 0) -> list[int]:
    """`students` more learners answering every item twice and getting a practice set each."""
    rng = np.random.default_rng(seed)
    with db.session() as s:
        items = [s.get(Item, i) for i in course.item_ids]
        users = [User(platform_id=course.platform_id, sub=f"sim-{seed}-{n}", name=f"Sim {n}")
                 for n in range(students)]
        s.add_all(users)
        s.flush()
        for u in users:
            for item in items:
                assert item is not None
                for k in range(2):
                    s.add(Answer(user_id=u.id, activity_id=course.activity_id, item_id=item.id,
                                 response={"choice": 0}, correct=bool(rng.random() < 0.6),
                                 answered_at=NOW - timedelta(hours=k)))
            s.add(PracticeSet(user_id=u.id, activity_id=course.activity_id, feedback={
                "skills": [{"skill": items[0].skill_ids[0], "mastery": 0.5,  # type: ignore[union-attr]
                            "low": 0.4, "high": 0.6}]}))
            s.add(ScorePassback(user_id=u.id, activity_id=course.activity_id, score_given=5.0,
                                score_maximum=10.0))
        return [u.id for u in users]


def test_one_page_view_runs_the_same_number_of_queries_for_3_or_30_students(
    db: Database,
) -> None:
    course = seed_course(db, items=6)
    add_class(db, course, 3, seed=1)
    with counted(db) as small, db.session() as s:
        view = overview(s, course.platform_id, course.context_id, now=NOW)
    assert len(view.rows) == 3
    add_class(db, course, 27, seed=2)
    with counted(db) as large, db.session() as s:
        view = overview(s, course.platform_id, course.context_id, now=NOW)
    assert len(view.rows) == 30
    assert len(large) == len(small) <= 8
    with counted(db) as items, db.session() as s:
        report = item_report(s, course.platform_id, course.context_id)
    assert len(report.rows) == 6 and len(items) <= 6
    assert all(r.stat.attempts == 60 and r.stat.students == 30 for r in report.rows)


def test_course_data_is_scoped_to_its_context(db: Database) -> None:
    mine = seed_course(db, items=3)
    add_class(db, mine, 2, seed=3)
    with db.session() as s:
        assert len(load_course(s, mine.platform_id, mine.context_id).students) == 2
        data = load_course(s, mine.platform_id, mine.context_id + 1000)
        assert data.students == {} and data.activities == {} and data.users == {}
        assert load_course(s, mine.platform_id + 1000, mine.context_id).students == {}


def test_item_report_flags_easy_hard_and_reversed_questions(db: Database) -> None:
    """30 students with known abilities: item 0 everyone gets right, item 1 nearly nobody,
    item 2 is right exactly for the weaker half (a wrong answer key), items 3-5 are fair."""
    course = seed_course(db, items=6)
    with db.session() as s:
        users = [User(platform_id=course.platform_id, sub=f"k{n}", name=f"K {n}")
                 for n in range(30)]
        s.add_all(users)
        s.flush()
        for rank, u in enumerate(users):  # rank 0 is the weakest student
            strong = rank >= 15
            right = {0: True, 1: rank == 29, 2: not strong,
                     3: rank >= 5, 4: rank >= 12, 5: rank >= 20}
            for n, item_id in enumerate(course.item_ids):
                s.add(Answer(user_id=u.id, activity_id=course.activity_id, item_id=item_id,
                             response={"choice": 0}, correct=right[n], answered_at=NOW))
        texts = {i.id: i.text for i in s.scalars(select(Item))}
    with db.session() as s:
        report = item_report(s, course.platform_id, course.context_id)
    rows = {r.item_id: r for r in report.rows}
    ids = course.item_ids
    assert rows[ids[0]].stat.p_correct == 1.0
    assert rows[ids[0]].stat.flags[0].startswith("too easy")
    assert rows[ids[1]].stat.flags[0].startswith("too hard")
    assert any(f.startswith("misbehaving") for f in rows[ids[2]].stat.flags)
    reversed_key = rows[ids[2]].stat.discrimination
    assert reversed_key is not None and reversed_key < 0
    for n in (3, 4, 5):
        assert rows[ids[n]].stat.flags == []
        assert (rows[ids[n]].stat.discrimination or 0) > 0.1  # above the "misbehaving" bar
    d = [rows[ids[n]].stat.difficulty or 0.0 for n in (0, 3, 4, 5, 1)]
    assert d == sorted(d)  # easiest to hardest
    assert [r.item_id for r in report.rows] == ids  # "What is 0 + 0?" ... "What is 5 + 5?"
    assert rows[ids[0]].name == texts[ids[0]] and rows[ids[0]].skills == ["skill 1"]
    assert rows[ids[0]].text == ""  # no name: the text is the name, not said twice
    text = items_csv(report)
    assert text.splitlines()[0].startswith("activity,item_id,question,text,skills,attempts")
    assert "too easy: 100% of answers are right" in text


def test_risk_rules_in_words() -> None:
    def cell(m: float) -> Cell:
        return Cell(m, True, 3, 2, 0.8)

    def points(*ms: float) -> list[MasteryPoint]:
        return [MasteryPoint(n + 1, NOW, m, None, None, 1) for n, m in enumerate(ms)]

    names = {1: "Fractions", 2: "Decimals", 3: "Percent"}
    base = dict(on_roster=True, launched=True, skill_names=names, now=NOW, answers=5)
    assert risk_reasons(last_answer=NOW, cells={1: cell(0.9)}, history={}, **base) == []  # type: ignore[arg-type]
    assert risk_reasons(on_roster=True, launched=False, last_answer=None, cells={},
                        history={}, skill_names=names, now=NOW, answers=0) == [
        "has not opened the activity yet"]
    assert risk_reasons(last_answer=None, cells={}, history={}, **base) == [  # type: ignore[arg-type]
        "opened the activity but has not answered a question yet"]
    # Opened an hour ago: just starting. Opened nine days ago without an answer: a reason.
    assert risk_reasons(last_answer=None, cells={}, history={}, **base,  # type: ignore[arg-type]
                        opened_at=NOW - timedelta(hours=1)) == []
    assert risk_reasons(last_answer=None, cells={}, history={}, **base,  # type: ignore[arg-type]
                        opened_at=NOW - timedelta(days=9)) == [
        "opened the activity 9 days ago but has not answered a question yet"]
    assert risk_reasons(last_answer=NOW - timedelta(days=8), cells={}, history={},
                        **base) == ["no answer for 8 days"]  # type: ignore[arg-type]
    assert risk_reasons(last_answer=NOW - timedelta(days=3), cells={}, history={}, **base,  # type: ignore[arg-type]
                        rules=RiskRules(inactive_days=3)) == ["no answer for 3 days"]
    # Below the target on most skills: 2 of 3 yes, 1 of 2 no.
    low = risk_reasons(last_answer=NOW, cells={1: cell(0.5), 2: cell(0.7), 3: cell(0.9)},
                       history={}, **base)  # type: ignore[arg-type]
    assert low == ["mastery below the target on 2 of 3 skills (Fractions, Decimals)"]
    assert risk_reasons(last_answer=NOW, cells={1: cell(0.5), 2: cell(0.9)}, history={},
                        **base) == []  # type: ignore[arg-type]
    # Falling: compared with the estimate three sets before the latest.
    fell = risk_reasons(last_answer=NOW, cells={1: cell(0.85)},
                        history={1: points(0.5, 0.99, 0.95, 0.9, 0.85), 2: points(0.7, 0.75)},
                        **base)  # type: ignore[arg-type]
    assert fell == ["mastery of Fractions fell from 99% to 85% over the last practice sets"]
    assert risk_reasons(last_answer=NOW, cells={1: cell(0.85)},
                        history={1: points(0.9, 0.85)}, **base) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "shown"), [
    ("=SUM(A1:A2)", "'=SUM(A1:A2)"), ("+1", "'+1"), ("-1+2", "'-1+2"), ("@cmd", "'@cmd"),
    ("\tx", "'\tx"), ("Ada", "Ada"), ("", ""), (None, ""), (-0.25, "-0.25"), (3, "3"),
    (0.5, "0.5"), (float("nan"), ""),
])
def test_csv_cells_cannot_become_formulas(value: str | float | None, shown: str) -> None:
    assert safe_cell(value) == shown
    assert to_csv(["a"], [[value]]).splitlines()[1].strip('"') == shown.strip('"')


def test_the_answer_in_words_says_how_many_hints_came_first() -> None:
    from lti_tool.core.db.models import Item
    from lti_tool.core.teaching.student import describe_response

    item = Item(kind="multichoice", choices=["3/4", "2/6"], answer={"choice": 0})
    assert describe_response(item, {"choice": 0}) == "3/4"
    assert describe_response(item, {"choice": 1, "hints": 2}) == "2/6 (after 2 hints)"
    assert describe_response(item, {"value": 0.75, "hints": 1}) == "0.75 (after 1 hint)"


def test_mastery_reasons_wait_for_enough_answers() -> None:
    """One wrong first answer puts a student below the target on every skill: that is not
    yet a reason; from the minimum number of answers on it is, with the counts in words."""
    names = {1: "Fractions", 2: "Decimals"}
    cells = {1: Cell(0.0, False, 1, 0, 0.8)}
    assert activity_reasons(answers=1, cells=cells, history={}, skill_names=names) == []
    rules = RiskRules()
    cells = {1: Cell(0.2, False, rules.min_answers - 1, 0, 0.8), 2: Cell(0.9, False, 0, 0, 0.8)}
    for n in range(1, rules.min_answers):
        assert activity_reasons(answers=n, cells=cells, history={}, skill_names=names) == []
    assert activity_reasons(answers=rules.min_answers, cells={
        1: Cell(0.2, False, 4, 1, 0.8), 2: Cell(0.5, False, 1, 0, 0.8)}, history={},
        skill_names=names) == ["mastery below the target on 2 of 2 skills (Fractions, Decimals)",
                               "1 of 4 right on Fractions"]
    # Half right is not "fewer than half"; two answers are too few for a skill on its own.
    assert activity_reasons(answers=6, cells={
        1: Cell(0.9, False, 4, 2, 0.8), 2: Cell(0.9, False, 2, 0, 0.8)}, history={},
        skill_names=names) == []


def test_item_report_is_one_activity_in_natural_order_with_archived_questions_kept(
    db: Database,
) -> None:
    """Named questions sort "Q2" before "Q10"; a second activity's answers stay on its own
    report; a question deleted (archived) since keeps its row and text."""
    course = seed_course(db, items=3)
    with db.session() as s:
        items = [s.get(Item, i) for i in course.item_ids]
        for item, name in zip(items, ("Q10", "Q2", "Q1"), strict=True):
            item.name = name  # type: ignore[union-attr]
        other = Activity(platform_id=course.platform_id, context_id=course.context_id,
                         bank_id=items[0].bank_id, title="Homework", settings={})  # type: ignore[union-attr]
        s.add(other)
        s.flush()
        other_id = other.id
        for n, item_id in enumerate(course.item_ids):
            s.add(Answer(user_id=course.user_ids[0], activity_id=course.activity_id,
                         item_id=item_id, response={"choice": 0}, correct=n != 1,
                         answered_at=NOW))
        s.add(Answer(user_id=course.user_ids[1], activity_id=other_id,
                     item_id=course.item_ids[0], response={"choice": 1}, correct=False,
                     answered_at=NOW))
        items[0].archived_at = NOW  # type: ignore[union-attr]
    with db.session() as s:
        report = item_report(s, course.platform_id, course.context_id)
        homework = item_report(s, course.platform_id, course.context_id, other_id)
        with pytest.raises(UnknownActivity):
            item_report(s, course.platform_id, course.context_id, other_id + 1000)
    assert report.title == "Practice" and [a.title for a in report.activities] == [
        "Practice", "Homework"]
    assert [r.name for r in report.rows] == ["Q1", "Q2", "Q10"]
    assert [r.text for r in report.rows] == ["What is 3 + 3?", "What is 2 + 2?",
                                             "What is 1 + 1?"]
    assert [r.archived for r in report.rows] == [False, False, True]
    assert [r.stat.attempts for r in report.rows] == [1, 1, 1]
    assert report.unanswered == 0  # the archived question is no longer in the bank's count
    assert [(r.name, r.stat.attempts, r.stat.correct) for r in homework.rows] == [
        ("Q10", 1, 0)]
    assert homework.unanswered == 2
