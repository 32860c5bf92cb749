"""The teacher's bank pages over a real Instructor launch from the demo platform (HTTPS):
upload with its report, the bank page, the Moodle XML download, hostile and oversized uploads,
CSRF, and scoping to the launch's platform and course."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from lti_tool.core.itembank import moodle_xml
from lti_tool.core.itembank.model import MAX_FILE_BYTES
from lti_tool.web.views.banks import MAX_UPLOAD_BYTES
from tests.support.bank_samples import sample
from tests.support.hostile_banks import (
    XSS,
    billion_laughs,
    injected_moodle_xml,
    oversized_moodle_xml,
    xxe,
)
from tests.support.lti_world import LtiWorld
from tests.support.teacher_pages import csrf, launch


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
