"""One heatmap per activity, after real Instructor launches: a course with two activities whose
banks both have a skill called "skill 0". Each table has its activity's skills (narrowed to the
teacher's choice, plus any skill with answers there), its numbers and its mastery target; the
launch's activity is shown first, the others one link away; at-risk reasons, the students
table and the CSV name the activity."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from lti_tool.core.db.models import Activity, Item, ItemBank, PracticeSet, ResourceLink, Skill
from lti_tool.core.teaching.overview import overview
from tests.support.queries import counted
from tests.support.teacher_class import (
    SVG,
    Class,
    answer,
    first_name,
    seeded_class,  # noqa: F401 - the fixture
    teacher,
)
from tests.support.teacher_pages import launch, launch_row, row_of, svg, table_by_caption, tables

SWITCH = re.compile(r'<li><a href="[^"]*\?activity=(\d+)#heatmap-heading"( aria-current="true")?>'
                    r'([^<]+)</a>\s*<span class="muted">([^<]*)</span>')


@dataclass
class TwoActivities:
    c: Class
    decimals: int  # the second activity
    decimals_link: str  # its link on the demo platform


@pytest.fixture()
def two_activities(seeded_class: Class) -> Iterator[TwoActivities]:  # noqa: F811
    """seeded_class's "Practice" activity, and "Decimals" on its own bank (skills "skill 0",
    "decimals", "rounding"; the teacher chose the first two; target 90%). In Decimals, Ada got
    2 of 2 right on its "skill 0" and 0 of 1 on "rounding" (an item of a skill left out)."""
    c = seeded_class
    world = c.world
    link = world.store.add_link("Decimals", score_maximum=5)
    row = launch_row(world, launch(world, world.browser(), "201", link.id))
    with world.db.session() as s:
        bank = ItemBank(platform_id=c.platform_id, name="Decimals bank")
        s.add(bank)
        s.flush()
        skills = {name: Skill(bank_id=bank.id, name=name)
                  for name in ("skill 0", "decimals", "rounding")}
        s.add_all(skills.values())
        s.flush()
        items = {name: Item(bank_id=bank.id, kind="multichoice", text=f"A {name} question",
                            choices=["right", "wrong"], answer={"choice": 0},
                            skill_ids=[sk.id]) for name, sk in skills.items()}
        s.add_all(items.values())
        activity = Activity(platform_id=c.platform_id, context_id=c.context_id,
                            bank_id=bank.id, title="Decimals", points=5.0, settings={
                                "skills": [skills["skill 0"].id, skills["decimals"].id],
                                "mastery_threshold": 0.9})
        s.add(activity)
        s.flush()
        s.get(ResourceLink, row.resource_link_id).activity_id = activity.id  # type: ignore[union-attr]
        t = c.now - timedelta(hours=1)
        for k, (name, choice) in enumerate([("skill 0", 0), ("skill 0", 0), ("rounding", 1)]):
            answer(s, c.ada, activity.id, items[name], choice, t + timedelta(minutes=k))
        decimals = activity.id
    yield TwoActivities(c, decimals, link.id)


def heatmap(html: str) -> tuple[str, list[list[tuple[str, str]]]]:
    """The page's one heatmap: its caption and rows, no column header twice."""
    (found,) = tables(html, "heatmap")
    header = texts(found[1][0])
    assert len(set(header)) == len(header), header
    return found


def switch(html: str) -> list[tuple[int, bool, str, str]]:
    """The activity links above the heatmap: (id, shown, title, what it says about it)."""
    return [(int(a), bool(cur), title, " ".join(note.split()))
            for a, cur, title, note in SWITCH.findall(html)]


def texts(row: list[tuple[str, str]]) -> list[str]:
    return [text for text, _ in row]


def test_one_heatmap_per_activity_with_its_own_skills_and_numbers(
    two_activities: TwoActivities,
) -> None:
    c = two_activities.c
    decimals_id = two_activities.decimals
    browser, page_url = teacher(c)  # launched from the Practice activity's link
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    html = page.text
    # The launch's activity is shown; the other is one link away; each says its target.
    assert switch(html) == [
        (c.activity_id, True, "Practice", "— 3 skills, target 80%, the activity of this link"),
        (decimals_id, False, "Decimals", "— 3 skills, target 90%")]
    caption, practice = heatmap(html)
    assert caption == "Practice"
    assert texts(practice[0]) == ["Student", "skill 0", "skill 1", "skill 2"]
    assert texts(row_of(practice, "Ada Learner")[1:]) == ["60", "65", "50*"]
    assert texts(row_of(practice, "Ben Learner")[1:]) == ["", "100*", ""]

    page = browser.get(f"{page_url}?activity={decimals_id}")
    assert page.status_code == 200, page.text
    assert [shown for _, shown, _, _ in switch(page.text)] == [False, True]
    caption, decimals = heatmap(page.text)
    assert caption == "Decimals"
    assert "mastery target 90%" in page.text
    # Its bank's two chosen skills, and "rounding" because Ada answered a question on it; the
    # other bank's "skill 0" is not here, and this "skill 0" has this activity's numbers.
    assert texts(decimals[0]) == ["Student", "decimals", "rounding", "skill 0"]
    ada = row_of(decimals, "Ada Learner")
    assert texts(ada[1:]) == ["", "0*", "100*"]
    assert [cls for _, cls in ada[1:]] == ["heat-none", "heat-0", "heat-9"]
    # Everyone on the roster has a row, empty where they have not practised.
    for name in ("Ben Learner", "Cleo Learner"):
        assert all(cls == "heat-none" for _, cls in row_of(decimals, name)[1:])

    # At-risk reasons and the students table say which activity they are about.
    at_risk = html.split('id="at-risk-heading"')[1].split("</section>")[0]
    ada_li = {first_name(li): li for li in at_risk.split("<li>")[1:]}["Ada Learner"]
    assert "Practice: mastery below the target on 3 of 3 skills (skill 2, skill 0, skill 1)" \
        in ada_li
    assert "Practice: mastery of skill 0 fell from 90% to 60%" in ada_li
    assert "Practice: 1 of 3 right on skill 0" in ada_li
    assert "Decimals:" not in ada_li  # three answers there are too few to judge
    students = table_by_caption(html, "Students, why")
    ada_row = row_of(students, "Ada Learner")
    assert "Practice: 1 of 3 right on skill 0" in ada_row[1][0]
    assert "too few answers to judge mastery yet (Decimals: 3 of 5 answers)" in ada_row[1][0]
    assert "skill 0 in Decimals: 100% of 2" in ada_row[2][0]
    assert "skill 0 in Practice: 33% of 3" in ada_row[2][0]


def test_the_launch_activity_comes_first(two_activities: TwoActivities) -> None:
    c = two_activities.c
    browser = c.world.browser()
    page_url = launch(c.world, browser, "201", two_activities.decimals_link)
    html = browser.get(page_url).text
    assert heatmap(html)[0] == "Decimals"
    assert [(a, shown) for a, shown, _, _ in switch(html)] == [
        (two_activities.decimals, True), (c.activity_id, False)]
    # An activity that is not this course's: a plain 404; not an id at all: a 400 that says so.
    r = browser.get(page_url, params={"activity": "999999"})
    assert r.status_code == 404 and "no such activity in this course" in r.text
    for wrong in ("abc", "-1", "\u00b2", str(2**63)):
        r = browser.get(page_url, params={"activity": wrong})
        assert r.status_code == 400, wrong
        assert "The field activity must be an id" in r.text and "Traceback" not in r.text
    assert heatmap(browser.get(page_url, params={"activity": ""}).text)[0] == "Decimals"


def test_student_page_keeps_the_activities_apart(two_activities: TwoActivities) -> None:
    c = two_activities.c
    browser, page_url = teacher(c)
    html = browser.get(f"{page_url}/students/{c.ada}").text
    # One activity at a time, the launch's first, with a link to the other.
    assert 'aria-current="true">Practice</a>' in html and "?activity=" in html
    mastery = table_by_caption(html, "Current mastery per skill in Practice")
    assert texts(mastery[0]) == ["Skill", "Mastery", "Range", "Answers", "Right",
                                 "Estimates over time"]
    assert [texts(r)[:2] for r in mastery[1:]] == [
        ["skill 0", "60%"], ["skill 1", "65%"], ["skill 2", "50%*"]]
    chart = svg(html)
    lines = chart.findall(f".//{SVG}g[@class='series']")
    assert [g.find(f"{SVG}title").text for g in lines] == [  # type: ignore[union-attr]
        "skill 0", "skill 1"]
    words = "".join(chart.itertext())
    assert "target 80%" in words and "practice sets in Practice" in words

    other = browser.get(f"{page_url}/students/{c.ada}",
                        params={"activity": two_activities.decimals})
    assert other.status_code == 200, other.text
    mastery = table_by_caption(other.text, "Current mastery per skill in Decimals")
    assert [texts(r)[:2] for r in mastery[1:]] == [["rounding", "0%*"], ["skill 0", "100%*"]]
    # No set there yet: no chart, so no other activity's target drawn; this one's is stated.
    assert "<svg" not in other.text and "No practice set yet in Decimals" in other.text
    assert "In Decimals, mastery target 90%." in " ".join(
        re.sub(r"<[^>]+>", "", other.text).split())
    assert browser.get(f"{page_url}/students/{c.ada}",
                       params={"activity": "999999"}).status_code == 404
    assert browser.get(f"{page_url}/students/{c.ada}",
                       params={"activity": "x"}).status_code == 400


def test_student_chart_draws_the_shown_activity_target(two_activities: TwoActivities) -> None:
    """Sets in both activities: each chart counts its own sets and draws its own target."""
    c = two_activities.c
    with c.world.db.session() as s:
        decimals_skill = s.scalars(select(Skill).where(Skill.name == "decimals")).one().id
        for n, m in enumerate([0.3, 0.5]):
            s.add(PracticeSet(user_id=c.ada, activity_id=two_activities.decimals,
                              created_at=c.now - timedelta(minutes=30 - n), feedback={"skills": [
                                  {"skill": decimals_skill, "name": "decimals", "mastery": m}]}))
    browser, page_url = teacher(c)
    html = browser.get(f"{page_url}/students/{c.ada}",
                       params={"activity": two_activities.decimals}).text
    chart = svg(html)
    words = "".join(chart.itertext())
    assert "target 90%" in words and "target 80%" not in words
    (line,) = chart.findall(f".//{SVG}g[@class='series']")
    assert line.find(f"{SVG}title").text == "decimals"  # type: ignore[union-attr]
    # Two points, at the first and second set of Decimals (not sets 5 and 6 of the course).
    assert len(line.find(f"{SVG}polyline").get("points", "").split()) == 2  # type: ignore[union-attr]
    ticks = [t for t in chart.iter(f"{SVG}text") if (t.text or "").strip() in {"5", "6"}]
    assert not ticks


def test_csv_has_one_block_per_activity(two_activities: TwoActivities) -> None:
    c = two_activities.c
    browser, page_url = teacher(c)
    r = browser.get(f"{page_url}/export/overview.csv")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.text)))
    ada = {(x["activity"], x["row"], x["name"]): x for x in rows
           if x["student"] == "Ada Learner"}
    assert ada[("Practice", "skill", "skill 0")]["mastery"] == "0.6"
    assert ada[("Practice", "skill", "skill 0")]["mastery_from"] == "model"
    same_name = ada[("Decimals", "skill", "skill 0")]
    assert (same_name["mastery"], same_name["mastery_from"], same_name["attempts"]) == (
        "1", "proportion correct", "2")
    assert ada[("Decimals", "skill", "decimals")]["mastery"] == ""
    assert ada[("Decimals", "skill", "rounding")]["mastery"] == "0"
    assert ada[("Practice", "score", "Practice")]["gradebook_status"] == "failed"
    cleo = [x["activity"] for x in rows if x["student"] == "Cleo Learner"]
    assert sorted(cleo) == ["Decimals"] * 3 + ["Practice"] * 3


def test_two_activities_cost_no_extra_query(two_activities: TwoActivities) -> None:
    c = two_activities.c
    db = c.world.db
    with counted(db) as statements, db.session() as s:
        view = overview(s, c.platform_id, c.context_id, first_activity=two_activities.decimals)
    assert [h.title for h in view.heatmaps] == ["Decimals", "Practice"]
    assert len(statements) <= 8


def test_question_statistics_one_activity_at_a_time(two_activities: TwoActivities) -> None:
    c = two_activities.c
    browser, page_url = teacher(c)  # from the Practice link
    html = browser.get(f"{page_url}/items").text
    assert 'aria-current="true">Practice</a>' in html
    (_, practice), = tables(html, "items")
    assert [r[0][0] for r in practice[1:]] == ["What is 1 + 1?", "What is 2 + 2?",
                                               "What is 3 + 3?"]
    other = browser.get(f"{page_url}/items", params={"activity": two_activities.decimals})
    assert other.status_code == 200
    (caption, decimals), = tables(other.text, "items")
    assert caption.startswith("Questions answered in Decimals")
    assert {r[0][0]: r[2][0] for r in decimals[1:]} == {
        "A skill 0 question": "2", "A rounding question": "1"}
    csv_text = browser.get(f"{page_url}/export/items.csv",
                           params={"activity": two_activities.decimals}).text
    assert "A rounding question" in csv_text and "What is 1 + 1?" not in csv_text
    assert browser.get(f"{page_url}/items", params={"activity": "999999"}).status_code == 404
    assert browser.get(f"{page_url}/items", params={"activity": "x"}).status_code == 400
