"""The teacher dashboards after real Instructor launches, on a class seeded in the database:
heatmap numbers, at-risk reasons, the student drill-down with its SVG chart, the cached and the
failing roster, CSV exports, and who may see what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from lti_tool.core.db.models import (
    Activity,
    Answer,
    Context,
    Item,
    Launch,
    PassbackStatus,
    ScorePassback,
)
from lti_tool.devkit.demo_lms.store import LEARNER, Member
from lti_tool.lms.roster import ROSTER_KEY
from tests.support.teacher_class import (  # noqa: F401 - seeded_class is a fixture
    SVG,
    Class,
    answer,
    first_name,
    seeded_class,
    teacher,
)
from tests.support.teacher_pages import (
    csrf,
    launch,
    launch_row,
    row_of,
    svg,
    table,
    table_by_caption,
)


def test_heatmap_and_at_risk_show_the_right_numbers_and_reasons(seeded_class: Class) -> None:
    c = seeded_class
    browser, page_url = teacher(c)
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    html = page.text
    rows = table(html, "heatmap")
    assert [cell for cell, _ in rows[0]] == ["Student", "skill 0", "skill 1", "skill 2"]
    assert 'class="activity-switch"' not in html  # one activity: nothing to choose
    assert "mastery target 80%" in html
    ada = row_of(rows, "Ada Learner")
    # Latest set's estimates for skills 0 and 1; share right (1 of 2) for skill 2.
    assert [cell for cell, _ in ada[1:]] == ["60", "65", "50*"]
    assert [cls for _, cls in ada[1:]] == ["heat-6", "heat-6", "heat-5"]
    ben = row_of(rows, "Ben Learner")
    assert [cell for cell, _ in ben[1:]] == ["", "100*", ""]
    assert [cls for _, cls in ben[1:]] == ["heat-none", "heat-9", "heat-none"]
    cleo = row_of(rows, "Cleo Learner")
    assert all(cls == "heat-none" for _, cls in cleo[1:])
    assert "Tess Teacher" not in html

    at_risk = html.split('id="at-risk-heading"')[1].split("</section>")[0]
    items = {first_name(li): li for li in at_risk.split("<li>")[1:]}
    ada_li = items["Ada Learner"]
    assert "mastery below the target on 3 of 3 skills (skill 2, skill 0, skill 1)" in ada_li
    assert "mastery of skill 0 fell from 90% to 60% over the last practice sets" in ada_li
    assert "no answer for" not in ada_li
    assert "1 of 3 right on skill 0" in ada_li
    assert "no answer for 10 days" in items["Ben Learner"]
    assert "mastery below" not in items["Ben Learner"]
    assert "has not opened the activity yet" in items["Cleo Learner"]
    # One definition: the students table gives every student exactly the list's reasons.
    for name in ("Ada Learner", "Ben Learner", "Cleo Learner"):
        assert reasons_in(student_cell(html, name)) == reasons_in(items[name]), name
    assert len(reasons_in(items["Ada Learner"])) == 3
    # Ben's two answers are too few to judge his mastery; the table says so, and why.
    assert "too few answers to judge mastery yet (2 of 5 answers)" in student_cell(html,
                                                                                 "Ben Learner")
    assert "at least 5 answers in an activity" in " ".join(at_risk.split())
    # The students table keeps the gradebook with its resend button, and links to details.
    students = table_by_caption(html, "Students, why")
    assert "failed" in row_of(students, "Ada Learner")[3][0]
    assert f"/teacher/{page_url.rsplit('/', 1)[1]}/students/{c.ada}" in html


def reasons_in(html: str) -> list[str]:
    return re.findall(r'<span class="risk-reason">([^<]*)</span>', html)


def student_cell(html: str, name: str) -> str:
    """The "May need help" cell of the students table's row for `name`, as HTML."""
    table_html = html.split('id="students-heading"')[1].split("</table>")[0]
    row = table_html.split(f'<th scope="row">{name}</th>')[1].split("</tr>")[0]
    return row.split("<td>")[1].split("</td>")[0]


def test_student_page_lists_answers_chart_and_gradebook(seeded_class: Class) -> None:
    c = seeded_class
    browser, page_url = teacher(c)
    url = f"{page_url}/students/{c.ada}"
    page = browser.get(url)
    assert page.status_code == 200, page.text
    html = page.text
    answers = table(html, "answers")
    assert len(answers) == 1 + 7
    newest = answers[1]
    assert newest[1][0] == "What is 2 + 2?" and newest[2][0] == "5"  # choice text, not index
    assert newest[3][0] == "wrong"
    results = [r[3][0] for r in answers[1:]]
    assert results.count("right") == 3 and results.count("wrong") == 4
    assert answers[-1][2][0] == "7" and answers[-1][1][0] == "What is 3 + 3?"

    chart = svg(html)
    assert chart.get("role") == "img"
    assert chart.find(f"{SVG}title") is not None
    assert "Ada Learner" in (chart.find(f"{SVG}title").text or "")  # type: ignore[union-attr]
    lines = chart.findall(f".//{SVG}g[@class='series']")
    assert [g.find(f"{SVG}title").text for g in lines] == ["skill 0", "skill 1"]  # type: ignore[union-attr]
    for g in lines:
        assert len(g.find(f"{SVG}polyline").get("points", "").split()) == 4  # type: ignore[union-attr]
    tips = [t.text for t in chart.iter(f"{SVG}title")]
    assert any(t and t.startswith("skill 0: 60%") for t in tips)
    assert "target 80%" in "".join(t or "" for t in chart.itertext())
    mastery = table_by_caption(html, "Current mastery per skill")
    assert [r[1][0] for r in mastery[1:]] == ["60%", "65%", "50%*"]
    assert row_of(mastery, "skill 0")[5][0] == "90% → 85% → 70% → 60%"

    # Resend from the student's page comes back to it.
    assert "score refused: HTTP 500" in html and "Resend" in html
    r = browser.post(
        f"{page_url}/passback/{c.ada_passback}/resend",
        data={"csrf_token": csrf(html), "student": str(c.ada)},
        headers={"Referer": url}, allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/students/{c.ada}")
    with c.world.db.session() as s:
        row = s.get(ScorePassback, c.ada_passback)
        assert row is not None and row.status == PassbackStatus.pending


def test_student_page_without_sets_says_so(seeded_class: Class) -> None:
    browser, page_url = teacher(seeded_class)
    html = browser.get(f"{page_url}/students/{seeded_class.ben}").text
    assert "<svg" not in html and "chart appears after the first one" in html
    assert "verified: the gradebook holds this score" in html and "Resend" not in html


@pytest.mark.parametrize(("status", "lms_score", "words"), [
    (PassbackStatus.sent, None, "sent, not yet checked against the gradebook"),
    (PassbackStatus.mismatch, 3.3, "mismatch: the gradebook holds another score (3.3 / 10)"),
    (PassbackStatus.mismatch, None, "mismatch: the gradebook holds another score (no grade)"),
    (PassbackStatus.pending, None, "waiting to be sent"),
])
def test_gradebook_status_says_where_the_score_stands(
    seeded_class: Class, status: PassbackStatus, lms_score: float | None, words: str
) -> None:
    """Only a score read back from the LMS is "verified"; every other state says what it is
    and offers the resend."""
    c = seeded_class
    with c.world.db.session() as s:
        row = s.get(ScorePassback, c.ada_passback)
        assert row is not None
        row.status, row.lms_score, row.last_error = status, lms_score, None
    browser, page_url = teacher(c)
    html = browser.get(f"{page_url}/students/{c.ada}").text
    section = html.split('id="gradebook-heading"')[1].split("</section>")[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split()).replace(" )", ")")
    assert words in text and "Resend" in text


def test_roster_is_cached_and_a_failing_lms_gives_a_notice(
    seeded_class: Class, redis_url: str
) -> None:
    c = seeded_class
    browser, page_url = teacher(c)
    assert "Cleo Learner" in browser.get(page_url).text
    client = redis.Redis.from_url(redis_url)
    key = ROSTER_KEY.format(platform=c.platform_id, context=c.context_id)
    assert 0 < client.ttl(key) <= 60
    c.world.store.members["104"] = Member("104", "Dan Learner", "d@example.edu", [LEARNER])
    assert "Dan Learner" not in browser.get(page_url).text
    client.delete(key)
    assert "Dan Learner" in browser.get(page_url).text

    with c.world.db.session() as s:  # the LMS now answers the roster call with 404
        s.execute(update(Context).where(Context.id == c.context_id).values(
            memberships_url=f"{c.world.platform.url}/nrps/gone/memberships"))
    client.delete(key)
    page = browser.get(page_url)
    assert page.status_code == 200
    assert "class list could not be loaded" in page.text
    rows = table(page.text, "heatmap")
    names = [r[0][0] for r in rows[1:]]
    assert names == ["Ada Learner", "Ben Learner"]  # who answered; Cleo is unknown now
    assert 0 < client.ttl(key) <= 15  # the failure is remembered briefly, not for a minute


def test_overview_csv(seeded_class: Class) -> None:
    c = seeded_class
    with c.world.db.session() as s:  # a title a spreadsheet would run as a formula
        s.execute(update(Activity).where(Activity.id == c.activity_id)
                  .values(title="=HYPERLINK(\"http://x\")"))
    browser, page_url = teacher(c)
    r = browser.get(f"{page_url}/export/overview.csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    ada = {(x["row"], x["name"]): x for x in rows if x["student"] == "Ada Learner"}
    assert {x["activity"] for x in rows} == {"'=HYPERLINK(\"http://x\")"}
    assert ada[("skill", "skill 0")]["mastery"] == "0.6"
    assert ada[("skill", "skill 0")]["mastery_from"] == "model"
    assert ada[("skill", "skill 0")]["attempts"] == "3"
    assert ada[("skill", "skill 2")]["mastery"] == "0.5"
    assert ada[("skill", "skill 2")]["mastery_from"] == "proportion correct"
    assert "fell from 90% to 60%" in ada[("skill", "skill 0")]["at_risk"]
    score = ada[("score", "'=HYPERLINK(\"http://x\")")]
    assert (score["score"], score["score_maximum"], score["gradebook_status"]) == (
        "4", "10", "failed")
    cleo = [x for x in rows if x["student"] == "Cleo Learner"]
    assert len(cleo) == 3 and all(x["mastery"] == "" for x in cleo)
    assert cleo[0]["lms_user_id"] == "103"
    ben_score = [x for x in rows if x["student"] == "Ben Learner" and x["row"] == "score"]
    assert ben_score[0]["gradebook_status"] == "verified"


def test_pages_are_for_instructors_of_this_course_only(seeded_class: Class) -> None:
    c = seeded_class
    learner = c.world.browser()
    learner_url = launch(c.world, learner, "103", c.link)
    launch_id = learner_url.rsplit("/", 1)[1]
    root = f"{c.world.metis.url}/teacher/{launch_id}"
    for path in ("", f"/students/{c.ada}", "/items", "/export", "/export/overview.csv",
                 "/export/items.csv"):
        assert learner.get(root + path).status_code == 403, path

    # An instructor of another course on the same platform: Ada's page is a 404, and the
    # pages and files show nothing of this course.
    c.world.store.context_id = "course-202"
    other = c.world.browser()
    other_link = c.world.store.add_link("Decimals", score_maximum=10)
    other_url = launch(c.world, other, "201", other_link.id)
    assert launch_row(c.world, other_url).context_id != c.context_id
    assert other.get(f"{other_url}/students/{c.ada}").status_code == 404
    assert other.get(f"{other_url}/students/999999").status_code == 404
    items = other.get(f"{other_url}/items").text
    assert "What is" not in items and "No question has been answered" in items
    data = other.get(f"{other_url}/export/overview.csv").text
    assert "skill 0" not in data and "Fractions" not in data
    assert other.get(f"{other_url}/export/items.csv").text.strip().count("\n") == 0


def test_items_page_and_csv_show_this_course_numbers(seeded_class: Class) -> None:
    browser, page_url = teacher(seeded_class)
    page = browser.get(f"{page_url}/items")
    assert page.status_code == 200, page.text
    rows = table(page.text, "items")
    assert [c for c, _ in rows[0]] == ["Question", "Skills", "Answers", "Students", "Right",
                                       "Difficulty", "Discrimination", "Needs a look"]
    # Ada: 3 answers on 3 + 3 (1 right); 2 + 2 (1 of 2); 1 + 1 by Ada (1 of 2) and Ben (2 of 2).
    three = row_of(rows, "What is 3 + 3?")
    # The share right with its Wilson 95% range, in words: 1 of 3 says little yet.
    assert [c for c, _ in three[1:5]] == ["skill 0", "3", "1", "33% right (likely 6-79%)"]
    one = row_of(rows, "What is 1 + 1?")
    assert [c for c, _ in one[1:5]] == ["skill 1", "4", "2", "75% right (likely 30-95%)"]
    assert one[6][0] == "too few students"  # two students cannot show a correlation
    assert one[7][0] == "too few answers to judge"  # no flag under the minimum
    assert float(three[5][0]) > float(one[5][0])  # the harder question is harder
    assert [r[0][0] for r in rows[1:]] == ["What is 1 + 1?", "What is 2 + 2?",
                                           "What is 3 + 3?"]
    assert "3 questions in the activity's bank have not been answered yet" in page.text
    assert "flagged only once it has 20 answers or more" in " ".join(page.text.split())
    assert 'aria-current="page">Questions' in page.text

    r = browser.get(f"{page_url}/export/items.csv")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    parsed = list(csv.DictReader(io.StringIO(r.text)))
    assert {x["question"]: (x["attempts"], x["students"]) for x in parsed} == {
        "What is 1 + 1?": ("4", "2"), "What is 2 + 2?": ("2", "1"), "What is 3 + 3?": ("3", "1")}
    three_csv = next(x for x in parsed if x["question"] == "What is 3 + 3?")
    assert (three_csv["activity"], three_csv["archived"]) == ("Practice", "no")
    assert 0.06 < float(three_csv["proportion_correct_low"]) < 0.07
    assert 0.79 < float(three_csv["proportion_correct_high"]) < 0.80
    assert f"export/items.csv?activity={seeded_class.activity_id}" in page.text
    export = browser.get(f"{page_url}/export").text
    assert "export/overview.csv" in export and "export/items.csv" in export


def test_opening_without_answering_is_a_reason_only_after_a_week(seeded_class: Class) -> None:
    c = seeded_class
    cleo_launch = launch_row(c.world, launch(c.world, c.world.browser(), "103", c.link))
    browser, page_url = teacher(c)

    def cleo_reasons() -> list[str]:
        return reasons_in(student_cell(browser.get(page_url).text, "Cleo Learner"))

    assert cleo_reasons() == []  # just opened it: starting, not at risk
    with c.world.db.session() as s:
        s.execute(update(Launch).where(Launch.user_id == cleo_launch.user_id)
                  .values(created_at=c.now - timedelta(days=9)))
    assert cleo_reasons() == [
        "opened the activity 9 days ago but has not answered a question yet"]


def test_answers_keep_a_question_deleted_since(seeded_class: Class) -> None:
    c = seeded_class
    with c.world.db.session() as s:
        first = s.scalars(select(Answer).where(Answer.user_id == c.ada)
                          .order_by(Answer.id)).first()
        assert first is not None
        item = s.get(Item, first.item_id)
        assert item is not None
        item.archived_at = c.now
        text = item.text
    browser, page_url = teacher(c)
    html = browser.get(f"{page_url}/students/{c.ada}").text
    answers = table(html, "answers")
    oldest = answers[-1]
    assert oldest[1][0].startswith(text) and "since edited or deleted" in oldest[1][0]
    assert all("since edited" not in r[1][0] for r in answers[1:] if not r[1][0].startswith(text))
    items = browser.get(f"{page_url}/items").text
    assert "deleted from its bank" in items


def test_answers_table_shows_partial_credit(seeded_class: Class) -> None:
    c = seeded_class
    with c.world.db.session() as s:
        first = s.scalars(select(Answer).where(Answer.user_id == c.ada, Answer.correct.is_(False))
                          .order_by(Answer.id)).first()
        assert first is not None
        first.credit = 0.5
    browser, page_url = teacher(c)
    html = browser.get(f"{page_url}/students/{c.ada}").text
    answers = html.split('id="answers-heading"')[1].split("</section>")[0]
    assert "partly right (50%)" in answers and "wrong" in answers
