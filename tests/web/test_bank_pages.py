"""The teacher's bank pages over a real Instructor launch from the demo platform (HTTPS):
upload with its report, the bank page, the Moodle XML download, hostile and oversized uploads,
CSRF, and scoping to the launch's platform and course."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Activity, Answer, Item, ItemBank, User
from lti_tool.core.itembank import moodle_xml
from lti_tool.core.itembank.editing import archive_item
from lti_tool.core.itembank.model import MAX_FILE_BYTES
from lti_tool.core.itembank.offered import offered_items
from lti_tool.core.practice.page_state import first_set, place_of, stand_in
from lti_tool.web.views.banks import MAX_UPLOAD_BYTES
from tests.support.bank_samples import sample
from tests.support.course import seed_course
from tests.support.hostile_banks import (
    XSS,
    billion_laughs,
    injected_moodle_xml,
    oversized_moodle_xml,
    xxe,
)
from tests.support.lti_world import LtiWorld
from tests.support.teacher_pages import csrf, launch
from workers import pipeline


def teacher(world: LtiWorld, user: str = "201") -> tuple[requests.Session, str, str]:
    """A browser after an Instructor launch: (browser, banks page URL, its CSRF token)."""
    link = world.store.add_link("Practice", score_maximum=10)
    browser = world.browser()
    banks_url = launch(world, browser, user, link.id) + "/banks"
    page = browser.get(banks_url)
    assert page.status_code == 200, page.text
    return browser, banks_url, csrf(page.text)


def bank_link(html: str) -> str:
    """The first link to a bank page (/teacher/<launch>/banks/<id>) in a page."""
    found = re.search(r'href="(/teacher/[^"/]+/banks/\d+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def upload(browser: requests.Session, banks_url: str, token: str, name: str, data: bytes,
           **fields: str) -> requests.Response:
    return browser.post(f"{banks_url}/import", data={"csrf_token": token, **fields},
                        files={"file": (name, data)}, headers={"Referer": banks_url})


def test_upload_report_bank_page_and_export(lti_world: LtiWorld) -> None:
    browser, banks_url, token = teacher(lti_world)
    empty = browser.get(banks_url)
    assert "No question banks yet" in empty.text
    csp = empty.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp

    r = upload(browser, banks_url, token, "sample-moodle.xml", sample("sample-moodle.xml"),
               bank="Fractions", format="auto")
    assert r.status_code == 200, r.text
    assert '<span class="count" id="imported">5</span>' in r.text
    assert '<span class="count" id="rejected">1</span>' in r.text
    assert "<td>6</td><th scope=\"row\">Explain fractions</th>" in r.text
    assert "essay questions are not supported" in r.text

    again = upload(browser, banks_url, token, "sample-moodle.xml", sample("sample-moodle.xml"),
                   bank="Fractions")
    assert '<span class="count" id="updated">5</span>' in again.text

    listing = browser.get(banks_url).text
    assert ">Fractions</a></th>" in listing and "<td>5</td>" in listing
    bank_path = bank_link(listing)
    bank_page = browser.get(lti_world.metis.url + bank_path)
    assert bank_page.status_code == 200
    assert "Adding halves and quarters" in bank_page.text
    assert 'src="data:image/png;base64,' in bank_page.text
    assert "How many quarters make a half?" in bank_page.text
    # Moodle's fractions shown where the page marks the right answers: a wrong tick costs all.
    assert "(-100% of the marks)" in bank_page.text

    exported = browser.get(f"{lti_world.metis.url}{bank_path}/export.xml")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"] == 'attachment; filename="Fractions.xml"'
    assert moodle_xml.parse(exported.content).questions == \
        moodle_xml.parse(sample("sample-moodle.xml")).questions


def test_gift_and_csv_uploads_are_detected_by_extension(lti_world: LtiWorld) -> None:
    browser, banks_url, token = teacher(lti_world)
    gift = upload(browser, banks_url, token, "unit 1.gift", sample("sample.gift"))
    assert '<span class="count" id="imported">7</span>' in gift.text
    assert "unit 1</a>" in gift.text  # bank named after the file
    csv = upload(browser, banks_url, token, "bank.txt", sample("sample.csv"), format="csv")
    assert '<span class="count" id="imported">5</span>' in csv.text


def test_hostile_uploads(lti_world: LtiWorld, tmp_path: Path) -> None:
    browser, banks_url, token = teacher(lti_world)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for name, data in (("xxe.xml", xxe(secret)), ("bomb.xml", billion_laughs())):
        r = upload(browser, banks_url, token, name, data)
        assert r.status_code == 400 and "DTD or XML entities" in r.text
        assert "TOP-SECRET" not in r.text and "Traceback" not in r.text

    r = upload(browser, banks_url, token, "xss.xml", injected_moodle_xml(), bank="Hostile")
    assert r.status_code == 200 and f'id="imported">{len(XSS)}</span>' in r.text
    bank_path = bank_link(r.text)
    page = browser.get(lti_world.metis.url + bank_path).text
    assert page.count('class="bank-item"') == len(XSS)
    items = page.split('<ol class="bank-items">')[1].lower()
    # The page's own delete buttons are forms; nothing else may be.
    ours = re.compile(r'<form method="post" class="inline" action="/teacher/[^"/]+/banks/\d+/'
                      r'items/\d+/delete">')
    assert len(ours.findall(items)) == len(XSS)
    items = ours.sub("", items)
    for _html, marker in XSS.values():
        assert marker not in items

    unknown = upload(browser, banks_url, token, "bank.docx", b"PK")
    assert unknown.status_code == 400 and "format could not be told" in unknown.text
    no_token = browser.post(f"{banks_url}/import", files={"file": ("a.gift", b"Q {T}")},
                            headers={"Referer": banks_url})
    assert no_token.status_code == 400 and "could not be verified" in no_token.text


def test_oversized_uploads_get_a_clear_413(lti_world: LtiWorld) -> None:
    browser, banks_url, token = teacher(lti_world)
    just_over = upload(browser, banks_url, token, "big.xml",
                       oversized_moodle_xml(MAX_FILE_BYTES + 1))
    assert just_over.status_code == 413 and "up to 5 MB" in just_over.text
    far_over = upload(browser, banks_url, token, "huge.xml",
                      oversized_moodle_xml(MAX_UPLOAD_BYTES + 1024))
    assert far_over.status_code == 413 and "up to 5 MB" in far_over.text
    assert "Traceback" not in far_over.text
    # Within 5 MB but 12,000 questions: refused in the request, before any question is read.
    one = ('<question type="truefalse"><name><text>Q</text></name><questiontext><text>Q</text>'
           '</questiontext><answer fraction="100"><text>true</text></answer></question>')
    many = upload(browser, banks_url, token, "many.xml",
                  f"<quiz>{one * 12_000}</quiz>".encode())
    assert many.status_code == 400 and "holds 12,000 questions; up to 2,000" in many.text


def test_learners_and_other_courses_see_no_bank(lti_world: LtiWorld) -> None:
    world = lti_world
    browser, banks_url, token = teacher(world)
    r = upload(browser, banks_url, token, "sample-moodle.xml", sample("sample-moodle.xml"))
    bank_path = bank_link(r.text)
    bank_id = bank_path.rsplit("/", 1)[1]

    link = world.store.add_link("Practice", score_maximum=10)
    learner = world.browser()
    learner_url = launch(world, learner, "101", link.id)
    learner_launch = learner_url.rsplit("/", 1)[1]
    assert learner.get(f"{world.metis.url}/teacher/{learner_launch}/banks").status_code == 403
    assert learner.get(f"{world.metis.url}/teacher/{learner_launch}/banks/{bank_id}"
                       "/export.xml").status_code == 403

    world.store.context_id = "course-202"  # the same platform, another course
    other, other_url, _token = teacher(world)
    assert "Fractions" not in other.get(other_url).text
    assert other.get(f"{other_url}/{bank_id}").status_code == 404
    assert other.get(f"{other_url}/{bank_id}/export.xml").status_code == 404


GIFT_BANK = b"""::Q1:: What is 1/2 + 1/4? {=3/4 ~2/6 ~1/6}

::Q2:: What is 2 + 2? {#4:0}

::Q3:: The top number of a fraction is its ... {=numerator}
"""


def bank_items(world: LtiWorld, bank_id: int) -> dict[str, Item]:
    """The bank's rows by name, archived ones too (detached from the session)."""
    with world.db.session() as s:
        rows = list(s.scalars(select(Item).where(Item.bank_id == bank_id).order_by(Item.id)))
        s.expunge_all()
    return {f"{i.name}#{n}": i for n, i in enumerate(rows)}


def offered(world: LtiWorld, bank_id: int) -> list[str]:
    with world.db.session() as s:
        return [i.name for i in s.scalars(offered_items(bank_id).order_by(Item.id))]


def test_edit_and_delete_questions_keep_the_answers_history(lti_world: LtiWorld) -> None:
    world = lti_world
    browser, banks_url, token = teacher(world)
    r = upload(browser, banks_url, token, "unit.gift", GIFT_BANK, bank="Unit")
    bank_path = bank_link(r.text)
    bank_id = int(bank_path.rsplit("/", 1)[1])
    page_url = world.metis.url + bank_path
    with world.db.session() as s:
        q1, q2, q3 = s.scalars(select(Item).where(Item.bank_id == bank_id).order_by(Item.id))
        ids = (q1.id, q2.id, q3.id)
        bank = s.get(ItemBank, bank_id)
        assert bank is not None
        activity = Activity(platform_id=bank.platform_id, context_id=bank.context_id,
                            bank_id=bank_id, title="Unit practice", settings={})
        user = User(platform_id=bank.platform_id, sub="learner-x", name="X")
        s.add_all([activity, user])
        s.flush()
        # Someone answered Q1 (rightly) before the teacher changed it.
        s.add(Answer(user_id=user.id, activity_id=activity.id, item_id=q1.id,
                     response={"choice": 0}, correct=True, credit=1.0))

    # The form shows the question as stored; the page links to it.
    assert f"/items/{ids[0]}/edit" in browser.get(page_url).text
    form = browser.get(f"{page_url}/items/{ids[0]}/edit")
    assert form.status_code == 200 and 'value="Q1"' in form.text
    assert "has 1 answer" in form.text
    fields = {"csrf_token": csrf(form.text), "name": "Q1 (halves)",
              "text": "What is 1/2 + 1/4?<script>alert(1)</script>", "skills": "fractions, adding",
              "choice-0": "3/4", "choice-1": "2/6", "choice-2": "1/6", "right": "1",
              "general": "Find a common denominator.", "solution": "1/2 = 2/4."}
    saved = browser.post(f"{page_url}/items/{ids[0]}/edit", data=fields,
                         headers={"Referer": page_url})
    assert saved.status_code == 200 and "keep the question as it was" in saved.text
    rows = bank_items(world, bank_id)
    old, new = rows["Q1#0"], rows["Q1 (halves)#3"]
    # The answered version is kept as it was and archived; the edit is a new question.
    assert old.archived_at is not None and old.answer["choice"] == 0 and old.text.startswith(
        "What is 1/2 + 1/4?")
    assert new.archived_at is None and new.answer["choice"] == 1
    assert "<script" not in new.text and new.feedback["general"] == "Find a common denominator."
    assert offered(world, bank_id) == ["Q2", "Q3", "Q1 (halves)"]
    with world.db.session() as s:
        answer = s.scalars(select(Answer).where(Answer.item_id == ids[0])).one()
        assert answer.item_id == old.id  # the history points at the question as answered

    # Unanswered: changed in place. Bad input: a 400 naming the field, nothing changed.
    token = csrf(browser.get(f"{page_url}/items/{ids[1]}/edit").text)
    base = {"csrf_token": token, "name": "Q2", "text": "What is 2 + 3?"}
    for bad, words in ((dict(base, value="five"), "the right answer must be a number"),
                       (dict(base, value="5", name=" "), "the question needs a name"),
                       (dict(base, value="nan"), "the right answer must be a number"),
                       (dict(base, value="5", skills=",".join(f"s{n}" for n in range(21))),
                        "up to 20 skills"),
                       (dict(base, value="5", text="2 + 3\x00"), "NUL")):
        r = browser.post(f"{page_url}/items/{ids[1]}/edit", data=bad,
                         headers={"Referer": page_url})
        assert r.status_code == 400 and words in r.text and "Traceback" not in r.text
    ok = browser.post(f"{page_url}/items/{ids[1]}/edit", data=dict(base, value="5",
                      tolerance="0.5"), headers={"Referer": page_url})
    assert ok.status_code == 200
    q2 = bank_items(world, bank_id)["Q2#1"]
    assert (q2.id, q2.text, q2.answer["value"], q2.answer["tolerance"]) == (
        ids[1], "What is 2 + 3?", 5.0, 0.5)
    no_choice = browser.post(f"{page_url}/items/{new.id}/edit", data=dict(
        fields, csrf_token=token, right="7"), headers={"Referer": page_url})
    assert no_choice.status_code == 400 and "choose the right answer" in no_choice.text

    # Delete: gone from the bank page, its export and new sets; its row stays.
    page = browser.get(page_url).text
    deleted = browser.post(f"{page_url}/items/{ids[2]}/delete",
                           data={"csrf_token": csrf(page)}, headers={"Referer": page_url})
    assert deleted.status_code == 200 and "no longer offered" in deleted.text
    assert "The top number of a fraction" not in deleted.text
    assert offered(world, bank_id) == ["Q2", "Q1 (halves)"]
    assert bank_items(world, bank_id)["Q3#2"].archived_at is not None
    assert b"top number" not in browser.get(f"{page_url}/export.xml").content
    # A deleted question cannot be edited or deleted again; another bank's id is a 404.
    assert browser.get(f"{page_url}/items/{ids[2]}/edit").status_code == 404
    assert browser.post(f"{page_url}/items/{ids[2]}/delete", data={"csrf_token": csrf(page)},
                        headers={"Referer": page_url}).status_code == 404
    assert browser.post(f"{page_url}/items/{ids[1]}/delete", data={},
                        headers={"Referer": page_url}).status_code == 400  # no CSRF token


def test_delete_a_bank_after_a_confirmation(lti_world: LtiWorld) -> None:
    world = lti_world
    browser, banks_url, token = teacher(world)
    r = upload(browser, banks_url, token, "unit.gift", GIFT_BANK, bank="Unit")
    bank_path = bank_link(r.text)
    bank_id = int(bank_path.rsplit("/", 1)[1])
    with world.db.session() as s:
        bank = s.get(ItemBank, bank_id)
        assert bank is not None
        s.add(Activity(platform_id=bank.platform_id, context_id=bank.context_id,
                       bank_id=bank_id, title="Unit practice", settings={}))
    page_url = world.metis.url + bank_path
    confirm = browser.get(f"{page_url}/delete")
    assert confirm.status_code == 200
    text = " ".join(confirm.text.split())
    assert "Its 3 questions will no longer be offered" in text
    assert "1 activity practises this bank: Unit practice" in text
    gone = browser.post(f"{page_url}/delete", data={"csrf_token": csrf(confirm.text)},
                        headers={"Referer": page_url})
    assert gone.status_code == 200 and "The bank “Unit” was deleted" in gone.text
    assert ">Unit</a></th>" not in gone.text and "No question banks yet" in gone.text
    assert browser.get(page_url).status_code == 404
    assert browser.get(f"{page_url}/export.xml").status_code == 404
    assert offered(world, bank_id) == []
    assert len(bank_items(world, bank_id)) == 3  # kept for the answers' history
    # A new import under the same name starts a new bank instead of the hidden one.
    again = upload(browser, banks_url, token, "unit.gift", GIFT_BANK, bank="Unit")
    assert int(bank_link(again.text).rsplit("/", 1)[1]) != bank_id
    assert '<span class="count" id="imported">3</span>' in again.text


def test_deleted_questions_are_never_offered_in_new_sets(db: Database) -> None:
    """The planners all go through offered_items: the first set, the stand-in while the next
    set is late, and the worker's bank load skip an archived question."""
    course = seed_course(db, items=6)
    with db.session() as s:
        archived = s.get(Item, course.item_ids[0])
        assert archived is not None
        archive_item(archived)
    with db.session() as s:
        place = place_of(s, course.platform_id, course.resource_link_id)
        assert place is not None
        first = [i.id for i in first_set(s, place)]
        assert first and course.item_ids[0] not in first
        stand = stand_in(s, place, course.user_ids[0], avoid=set())
        assert stand is not None and stand.id != course.item_ids[0]  # else the lowest id
        loaded, _ = pipeline._bank_items(s, place.bank_id or 0)
        assert [b.item_id for b in loaded] == course.item_ids[1:]
