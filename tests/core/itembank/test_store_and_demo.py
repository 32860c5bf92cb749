"""Saving imports into banks (idempotent re-import, skills by name), loading them for export,
and the generated demo bank."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from lti_tool.core.answers.check import grade
from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, Context, Item, ItemBank, Platform, Skill
from lti_tool.core.itembank import csv_format, moodle_xml
from lti_tool.core.itembank.demo_bank import DEMO_BANK_NAME, demo_questions, ensure_demo_bank
from lti_tool.core.itembank.store import (
    course_bank,
    course_banks,
    course_context,
    load_questions,
    save_import,
)
from lti_tool.devkit.demo.seed import ACTIVITY_SKILLS, seed_demo
from tests.support.bank_samples import sample


def _course(db: Database) -> tuple[int, int]:
    with db.session() as s:
        platform = Platform(issuer="https://lms.example", client_id="c", auth_login_url="x",
                            auth_token_url="x", key_set_url="x")
        s.add(platform)
        s.flush()
        context = course_context(s, platform.id, "course-1")
        return platform.id, context.id


def test_import_twice_updates_instead_of_duplicating(db: Database) -> None:
    platform_id, context_id = _course(db)
    parsed = moodle_xml.parse(sample("sample-moodle.xml"))
    with db.session() as s:
        first = save_import(s, parsed, platform_id=platform_id, context_id=context_id,
                            bank_name="Fractions bank")
    assert (first.imported, first.updated, len(first.rejected)) == (5, 0, 1)
    parsed.questions[0].text = "<p>Changed</p>"
    with db.session() as s:
        again = save_import(s, parsed, platform_id=platform_id, context_id=context_id,
                            bank_name="Fractions bank")
        assert (again.imported, again.updated, again.bank_id) == (0, 5, first.bank_id)
        assert s.scalar(select(func.count()).select_from(Item)) == 5
        names = set(s.scalars(select(Skill.name).where(Skill.bank_id == first.bank_id)))
        assert names == {"fraction addition", "Fractions", "Number facts", "fraction vocabulary"}
        summary = course_banks(s, platform_id, context_id)
        assert [(b.name, b.items, b.skills) for b in summary] == [("Fractions bank", 5, 4)]
        bank = course_bank(s, first.bank_id, platform_id, context_id)
        assert bank is not None
        assert course_bank(s, first.bank_id, platform_id, context_id + 999) is None
        loaded = load_questions(s, bank)
    assert loaded[0].text == "<p>Changed</p>"
    assert loaded[1:] == parsed.questions[1:]  # what was stored is what was parsed


def test_demo_bank_is_large_varied_and_gradable() -> None:
    questions = demo_questions()
    assert questions == demo_questions()  # deterministic
    assert len(questions) >= 200
    assert len({s for q in questions for s in q.skills}) >= 10
    kinds = Counter(q.kind for q in questions)
    assert set(kinds) == {"multichoice", "numeric", "shortanswer", "truefalse"}
    assert len({q.text for q in questions}) == len(questions)
    for q in questions:
        assert q.hints and q.hints[0].strip() and q.solution.strip(), q.name
        if q.kind in ("multichoice", "truefalse"):
            form = MultiDict({"choice": str(q.answer["choice"])})
            assert len(set(q.choices)) == len(q.choices) >= 2
            wrong = MultiDict({"choice": str(1 - q.answer["choice"] if q.kind == "truefalse"
                                             else (q.answer["choice"] + 1) % len(q.choices))})
            assert not grade(q, wrong).correct
        elif q.kind == "numeric":
            form = MultiDict({"value": str(q.answer["value"])})
        else:
            form = MultiDict({"text": q.answer["accepted"][0]})
        assert grade(q, form).correct, q.name


def test_ensure_demo_bank_once_per_course_and_seed_uses_it(db: Database) -> None:
    platform_id, context_id = _course(db)
    with db.session() as s:
        bank_id = ensure_demo_bank(s, platform_id, context_id).id
    with db.session() as s:
        assert ensure_demo_bank(s, platform_id, context_id).id == bank_id
        assert s.scalar(select(func.count()).select_from(Item)) == len(demo_questions())
        assert s.scalar(select(func.count()).select_from(ItemBank)
                        .where(ItemBank.name == DEMO_BANK_NAME)) == 1
    with db.session() as s:
        course = seed_demo(s, issuer="https://demo.example", client_id="demo",
                           deployment_id="1")
    with db.session() as s:
        activity = s.get(Activity, course.activity_id)
        assert activity is not None and activity.bank_id is not None
        assert (s.scalar(select(func.count()).select_from(Item)
                         .where(Item.bank_id == activity.bank_id)) or 0) >= 200
        names = set(s.scalars(select(Skill.name)
                              .where(Skill.id.in_(activity.settings["skills"]))))
        assert names == set(ACTIVITY_SKILLS)
        context = s.get(Context, activity.context_id)
        assert context is not None and context.context_id == "course-101"
    with db.session() as s:  # restarting the demo changes nothing
        assert seed_demo(s, issuer="https://demo.example", client_id="demo",
                         deployment_id="1").activity_id == course.activity_id
        assert s.scalar(select(func.count()).select_from(ItemBank)) == 2


def test_stated_difficulty_is_stored_as_the_items_prior_and_loaded_back(db: Database) -> None:
    platform_id, context_id = _course(db)
    parsed = csv_format.parse(b"type,id,question,answer,difficulty\n"
                              b"numeric,a,1+1?,2,hard\nnumeric,b,2+2?,4,\n")
    with db.session() as s:
        report = save_import(s, parsed, platform_id=platform_id, context_id=context_id,
                             bank_name="Stated")
        rows = s.scalars(select(Item).where(Item.bank_id == report.bank_id)
                         .order_by(Item.external_id)).all()
        assert [(i.external_id, i.difficulty_prior) for i in rows] == [("a", 1.0), ("b", None)]
        bank = course_bank(s, report.bank_id, platform_id, context_id)
        assert bank is not None
        assert [q.difficulty for q in load_questions(s, bank)] == [1.0, None]
    # The file is what the bank says: a re-import stating another difficulty, or none, wins.
    again = csv_format.parse(b"type,id,question,answer,difficulty\n"
                             b"numeric,a,1+1?,2,\nnumeric,b,2+2?,4,very easy\n")
    with db.session() as s:
        save_import(s, again, platform_id=platform_id, context_id=context_id, bank_name="Stated")
        assert {i.external_id: i.difficulty_prior for i in s.scalars(select(Item))} == \
            {"a": None, "b": -2.0}


def test_demo_items_state_a_spread_of_difficulties_within_each_skill() -> None:
    questions = demo_questions()
    assert all(q.difficulty is not None for q in questions)
    for skill in {q.skills[0] for q in questions}:
        stated = {q.difficulty for q in questions if q.skills[0] == skill}
        assert len(stated) >= 3, skill  # a set of this skill can get harder or easier
    by_skill = {s: [q.difficulty or 0.0 for q in questions if q.skills[0] == s]
                for s in ("addition", "fraction addition")}
    assert sum(by_skill["addition"]) < sum(by_skill["fraction addition"])
    # Picking the right answer is easier than typing it, for the same problem's level.
    tf = [q.difficulty or 0.0 for q in questions if q.kind == "truefalse"]
    typed = [q.difficulty or 0.0 for q in questions if q.kind in ("numeric", "shortanswer")]
    assert sum(tf) / len(tf) < sum(typed) / len(typed)


def test_a_demo_bank_made_before_stated_difficulties_gets_them(db: Database) -> None:
    platform_id, context_id = _course(db)
    with db.session() as s:
        bank_id = ensure_demo_bank(s, platform_id, context_id).id
        for item in s.scalars(select(Item).where(Item.bank_id == bank_id)):
            item.difficulty_prior = None  # as the demo bank was stored before
    with db.session() as s:
        assert ensure_demo_bank(s, platform_id, context_id).id == bank_id
        stated = s.scalars(select(Item.difficulty_prior).where(Item.bank_id == bank_id)).all()
        assert len(stated) == len(demo_questions()) and None not in stated
