"""The whole story in headless Chromium, inside the iframe of the demo LMS course page, as
`make demo` serves it: the teacher imports the sample Moodle XML bank and adds an activity by
deep linking with that bank; a student answers a set, sees feedback and the next set arrive
without a reload (a real worker, the real model); the score reaches the LMS gradebook page; the
teacher sees the heatmap and the student's drill-down; an admin approves a pending platform.

Each page is saved as a numbered screenshot under $METIS_ARTIFACTS (default test-artifacts/).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Locator, Page
from sqlalchemy import select

from lti_tool.core.db.models import (
    Activity,
    Deployment,
    Item,
    ItemBank,
    Platform,
    PlatformStatus,
    Skill,
)
from lti_tool.devkit.demo.seed import ACTIVITY_TITLE, seed_demo
from lti_tool.lti.registration import manual
from tests.support.bank_samples import SAMPLES
from tests.support.browser import chromium, new_context
from tests.support.lti_world import LtiWorld
from tests.support.practice_browser import wait_answered
from tests.support.worker import WorkerProcess, worker_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.postgres,
    # PostgreSQL as in production: the web app and the worker write at the same time.
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

SAMPLE = SAMPLES / "sample-moodle.xml"
BANK = "Week 1 sample questions"
TITLE = "Week 1 practice"
DUE = "2099-12-31"
POINTS = 10
ANSWERS = 3  # one set's worth (the set size chosen below), and the completion goal
PENDING = "Example University Moodle"


def artifacts() -> Path:
    path = Path(os.environ.get("METIS_ARTIFACTS")
                or Path(__file__).resolve().parents[2] / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def demo_course(lti_world: LtiWorld) -> int:
    """The course `make demo` seeds (lti_tool.devkit.demo.seed) and the link its LMS shows for it
    (lti_tool.devkit.demo.platform_wsgi); returns the seeded activity's id."""
    store = lti_world.store
    with lti_world.db.session() as s:
        course = seed_demo(s, issuer=store.issuer, client_id=store.client_id,
                           deployment_id=store.deployment_id)
    store.add_link(ACTIVITY_TITLE, custom={"activity_id": str(course.activity_id)},
                   score_maximum=course.points)
    return course.activity_id


@pytest.fixture()
def pending_platform(lti_world: LtiWorld) -> int:
    """Another LMS registered by hand (as `metis platform add` does): it waits for approval."""
    with lti_world.db.session() as s:
        platform = manual.add_platform(
            s, lti_world.settings, issuer="https://moodle.example.edu",
            client_id="metis-at-example", name=PENDING,
            auth_login_url="https://moodle.example.edu/mod/lti/auth.php",
            auth_token_url="https://moodle.example.edu/mod/lti/token.php",
            key_set_url="https://moodle.example.edu/mod/lti/certs.php",
            deployment_ids=("7",))
        return platform.id


@dataclass
class Story:
    """The browser on the demo LMS course page, with Metis in its `tool` iframe."""

    world: LtiWorld
    page: Page
    shots: Path

    @property
    def course_url(self) -> str:
        return self.world.platform.url + "/"

    @property
    def tool(self) -> FrameLocator:
        return self.page.frame_locator("iframe[name=tool]")

    def open_as(self, activity: str, person: str) -> FrameLocator:
        """On the course page, the button of `person` in the row of `activity`."""
        self.page.goto(self.course_url)
        self.page.locator("tr", has_text=activity).get_by_role("button", name=person).click()
        return self.tool

    def shot(self, name: str, focus: Locator | None = None) -> None:
        """The LMS page, or with `focus` (a part of Metis's page) the frame as the user sees
        it, scrolled to that part."""
        path = str(self.shots / name)
        if focus is None:
            self.page.screenshot(path=path, full_page=True)
            return
        focus.scroll_into_view_if_needed()
        frame = self.page.locator("iframe[name=tool]")
        frame.scroll_into_view_if_needed()
        frame.screenshot(path=path)


@pytest.fixture()
def story(lti_world: LtiWorld, default_model_dir: Path, tmp_path: Path) -> Iterator[Story]:
    env = worker_env(lti_world.settings.effective_database_url, lti_world.settings.redis_url,
                     default_model_dir.parent, METIS_TEST_ENGINE="real")
    with chromium() as browser, WorkerProcess(env, tmp_path / "worker.log"):
        context = new_context(browser, width=1100)
        yield Story(lti_world, context.new_page(), artifacts())


def test_the_whole_story(story: Story, demo_course: int, pending_platform: int) -> None:
    story.page.goto(story.course_url)
    story.page.get_by_role("heading", name="Activities").wait_for()
    assert story.page.locator("tr", has_text=ACTIVITY_TITLE).get_by_role(
        "button", name="Teacher tools (Tess Teacher)").is_visible()
    story.shot("01-course-page.png")

    bank_id = import_bank(story)
    add_activity(story, bank_id)
    item_ids = answer_a_set(story, bank_id)
    score_in_gradebook(story)
    teacher_sees_the_class(story, bank_id, item_ids)
    admin_approves(story, pending_platform)

    for png in sorted(story.shots.glob("[01][0-9]-*.png")):
        assert png.stat().st_size > 10_000, png


def import_bank(story: Story) -> int:
    """Teacher tools on the seeded activity, then the item banks page and its upload form."""
    tool = story.open_as(ACTIVITY_TITLE, "Tess Teacher")
    tool.get_by_role("heading", name="Your course").wait_for()
    tool.get_by_role("navigation", name="Teacher pages").get_by_role(
        "link", name="Question banks").click()
    tool.get_by_role("heading", name="Question banks").wait_for()
    tool.locator("input[type=file][name=file]").set_input_files(SAMPLE)
    tool.locator("input[name=bank]").fill(BANK)
    tool.get_by_role("button", name="Import").click()

    tool.get_by_role("heading", name="Import report").wait_for()
    report = tool.get_by_role("status")
    assert BANK in report.inner_text()
    # Five questions of the five supported types; the essay is listed as not imported.
    assert tool.locator("#imported").inner_text() == "5"
    assert tool.locator("#rejected").inner_text() == "1"
    assert "Explain fractions" in tool.locator("table.rejected").inner_text()
    story.shot("02-bank-import.png", report)
    with story.world.db.session() as s:
        bank = s.scalars(select(ItemBank).where(ItemBank.name == BANK)).one()
        return bank.id


def add_activity(story: Story, bank_id: int) -> None:
    """Content selection: the teacher picks the imported bank and the practice settings; the
    LMS verifies the signed answer and lists the new activity with its gradebook column."""
    page = story.page
    page.goto(story.course_url)
    page.get_by_role("button", name="Add a Metis activity").click()
    tool = story.tool
    tool.get_by_role("heading", name="Add a practice activity").wait_for()
    tool.get_by_label("Title").fill(TITLE)
    tool.get_by_label("Maximum points in the gradebook").fill(str(POINTS))
    tool.get_by_label("Due date (optional)").fill(DUE)
    tool.get_by_label("Item bank").select_option(label=BANK)
    tool.get_by_label("Questions per practice set").fill(str(ANSWERS))
    tool.get_by_label("Target success rate, from (%)").fill("50")
    tool.get_by_label("Target success rate, to (%)").fill("90")
    tool.get_by_label("The grade sent to the gradebook").select_option("completion")
    tool.get_by_label("Completion goal (answers for full points)").fill(str(ANSWERS))
    story.shot("03-deep-linking.png", tool.get_by_label("Item bank"))
    tool.get_by_role("button", name="Add to course").click()

    # The LMS's own page, in the frame: it accepted the deep linking response.
    tool.get_by_role("heading", name="Activity added").wait_for()
    assert TITLE in tool.get_by_role("list").inner_text()
    tool.get_by_role("link", name="Back to the course").click()  # target=_top
    row = page.locator("tr", has_text=TITLE)
    row.wait_for()
    assert f"Graded out of {POINTS}, due {DUE}" in row.inner_text()
    story.shot("04-activity-added.png")

    world = story.world
    (link,) = [x for x in world.store.links.values() if x.title == TITLE]
    assert link.lineitem_id is not None
    column = world.store.lineitems[link.lineitem_id]
    assert (column.label, column.score_maximum) == (TITLE, POINTS)
    assert column.end_date_time == f"{DUE}T23:59:59Z"
    with world.db.session() as s:
        activity = s.scalars(select(Activity).where(Activity.title == TITLE)).one()
        assert activity.bank_id == bank_id and activity.points == POINTS
        assert activity.settings["set_size"] == ANSWERS
        assert activity.settings["band"] == [0.5, 0.9]
        assert activity.settings["grading"] == "completion"


def answer(item: Locator) -> None:
    """Some answer to whatever kind of question it is (right or wrong does not matter)."""
    if item.locator("input[type=radio]").count():
        item.locator("input[type=radio]").first.check()
    elif item.locator("input[type=checkbox]").count():
        item.locator("input[type=checkbox]").first.check()
    elif item.locator("input[name=value]").count():
        item.locator("input[name=value]").fill("3.14")
    else:
        item.locator("input[name=text]").fill("numerator")
    item.get_by_role("button", name="Submit answer").click()


def answer_a_set(story: Story, bank_id: int) -> list[int]:
    """Ada answers the set one question after another; each answer shows its feedback at once
    and closes its question, the others stay as they are; when the set is finished, the next
    set, computed by the worker, replaces it without a page load, under a summary of the set
    just finished."""
    tool = story.open_as(TITLE, "Ada Learner")
    tool.get_by_role("heading", name=TITLE).wait_for()
    with story.world.db.session() as s:
        bank_items = set(s.scalars(select(Item.id).where(Item.bank_id == bank_id)))
    practice = tool.locator("#practice-set")
    first = practice.locator("li.item").first
    first.wait_for()
    assert practice.locator("li.item").count() == ANSWERS
    tool.locator("body").evaluate("() => { window.__sameDocument = true; }")
    shown = {int(x) for x in practice.locator("li.item").evaluate_all(
        "items => items.map(i => i.dataset.itemId)")}
    assert shown <= bank_items  # questions from the bank the teacher imported

    assert f"Question 1 of {ANSWERS}" in tool.locator("#set-position").inner_text()
    answered: list[int] = []
    for n in range(ANSWERS):
        item = practice.locator("li.item:not(.answered-item)").first
        answered.append(int(item.get_attribute("data-item-id") or 0))
        question = item.locator(".question").inner_text().strip().splitlines()[0]
        answer(item)
        reveal = tool.locator("#answer-feedback")
        reveal.locator(".reveal-question", has_text=question).wait_for()
        heading = reveal.get_by_role("heading").first.inner_text()
        assert heading.strip(), "the feedback says whether the answer was right"
        assert reveal.locator(".reveal-yours").count() == 1  # the student's own answer
        if n == 0:
            story.shot("05-student-feedback.png", reveal)
        wait_answered(tool.locator(f"#item-{answered[-1]}"))
    # The next set arrives by the event stream: a new event id, same document.
    tool.locator("#practice-set:not([data-event-id=''])").wait_for(timeout=60_000)
    tool.locator("#feedback .summary").wait_for()
    summary = tool.locator("#set-summary")
    summary.wait_for()
    assert f"of {ANSWERS} right." in summary.inner_text()
    assert tool.locator("body").evaluate("() => window.__sameDocument === true")
    assert practice.locator("li.item").count() == ANSWERS
    assert practice.locator("li.answered-item").count() == 0  # a new set, all open
    assert "predicted success" in practice.locator(".why").first.inner_text()
    tool.locator("#goal-text", has_text=f"{ANSWERS} of {ANSWERS} questions done").wait_for()
    story.shot("06-next-set.png", tool.locator("main"))
    return answered


def score_in_gradebook(story: Story) -> None:
    """The LMS's gradebook page: the activity's column, Ada's row, her score out of the max."""
    page = story.page
    page.goto(story.course_url)
    page.get_by_role("navigation", name="Course").get_by_role("link", name="Gradebook").click()
    page.get_by_role("heading", name="Gradebook").wait_for()
    column = page.locator("#gradebook thead th", has_text=TITLE)
    assert f"out of {POINTS}" in column.inner_text()
    headers = page.locator("#gradebook thead th").all_inner_texts()
    index = next(i for i, text in enumerate(headers) if TITLE in text)
    full = f"{POINTS} / {POINTS}"  # completion: all the answers of the goal
    deadline = time.monotonic() + 30
    while True:
        cell = page.locator("#gradebook tbody tr", has_text="Ada Learner").locator(
            "th, td").nth(index)
        if cell.inner_text().strip() == full or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        page.reload()
    assert cell.inner_text().strip() == full
    others = page.locator("#gradebook tbody tr", has_text="Ben Learner").locator("th, td")
    assert others.nth(index).inner_text().strip() == "—"  # Ben has not practised
    story.shot("07-gradebook.png")


def teacher_sees_the_class(story: Story, bank_id: int, item_ids: list[int]) -> None:
    """Teacher tools on the new activity: the mastery heatmap over the imported bank's skills
    with Ada's row filled, then Ada's drill-down with the mastery chart and her answers."""
    tool = story.open_as(TITLE, "Tess Teacher")
    tool.get_by_role("heading", name="Your course").wait_for()
    heatmap = tool.locator("table.heatmap")
    heatmap.wait_for()
    skills = [x.strip() for x in heatmap.locator("thead th").all_inner_texts()[1:]]
    with story.world.db.session() as s:
        rows = s.execute(select(Skill.id, Skill.name).where(Skill.bank_id == bank_id))
        bank_skills = {skill_id: name for skill_id, name in rows}
    # The course's skills (the seeded bank's too), among them every skill of the imported bank.
    assert set(bank_skills.values()) <= set(skills)
    ada = heatmap.locator("tbody tr", has_text="Ada Learner")
    filled = {int(cell.get_attribute("data-skill") or 0): cell.inner_text()
              for cell in ada.locator("td").all() if re.search(r"\d", cell.inner_text())}
    # Ada's mastery shows for the skills of the questions she answered, all from that bank.
    assert filled and set(filled) <= set(bank_skills), filled
    story.shot("08-teacher-heatmap.png", heatmap)

    heatmap.get_by_role("link", name="Ada Learner").click()
    tool.get_by_role("heading", name="Ada Learner", exact=True).wait_for()
    chart = tool.locator("figure.chart svg")
    chart.wait_for()
    assert "Mastery of Ada Learner" in (chart.locator("title").first.text_content() or "")
    assert chart.locator("circle").count() >= 1  # a point per practice set and skill
    answers = tool.locator("table.answers tbody tr")
    assert answers.count() == len(item_ids)
    assert TITLE in answers.first.inner_text()
    story.shot("09-student-drilldown.png", chart)


def admin_approves(story: Story, platform_id: int) -> None:
    """Sam Admin opens the admin pages from the course and approves the waiting platform."""
    tool = story.open_as(TITLE, "Sam Admin")
    waiting = tool.locator("section", has=tool.get_by_role(
        "heading", name=re.compile(r"^Waiting for approval")))
    waiting.get_by_role("heading", name="Waiting for approval (1)").wait_for()
    row = waiting.locator("tr.platform", has_text=PENDING)  # its deployments have rows too
    assert "moodle.example.edu" in row.inner_text()
    row.get_by_role("button", name=re.compile(r"^Approve platform")).click()

    tool.get_by_role("heading", name="Waiting for approval (0)").wait_for()
    active = tool.locator("section", has=tool.get_by_role("heading",
                                                           name=re.compile(r"^Active")))
    assert PENDING in active.inner_text()
    assert f"(platform {platform_id}) approved" in tool.locator("body").inner_text()
    story.shot("10-admin-approve.png", active)
    with story.world.db.session() as s:
        platform = s.get(Platform, platform_id)
        assert platform is not None and platform.status == PlatformStatus.active
        deployment = s.scalars(select(Deployment).where(
            Deployment.platform_id == platform_id)).one()
        assert deployment.deployment_id == "7" and deployment.active
