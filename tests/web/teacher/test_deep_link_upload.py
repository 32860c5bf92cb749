"""A first-time teacher on the content selection page (a real deep-linking launch from the demo
LMS) uploads their own bank there, gets it chosen, and adds an activity that practises it."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import requests
from sqlalchemy import select

from lti_tool.core.db.models import Activity, Item, ItemBank
from lti_tool.core.itembank.model import MAX_FILE_BYTES
from lti_tool.devkit.lti_client import Form, forms, login_and_launch, submit
from tests.support.bank_samples import sample
from tests.support.lti_world import LtiWorld


def _selection_page(world: LtiWorld) -> tuple[requests.Session, str, str]:
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user="201", deep_link=True)
    assert r.status_code == 303, r.text
    location = urljoin(world.metis.url, r.headers["Location"])
    page = browser.get(location)
    assert page.status_code == 200, page.text
    return browser, location, page.text


def _upload_form(html: str, base: str) -> Form:
    [form] = [f for f in forms(html, base) if f.action.endswith("/bank")]
    return form


def _upload(browser: requests.Session, form: Form, name: str, data: bytes,
            **fields: str) -> requests.Response:
    return browser.post(form.action, data={**form.fields, **fields},
                        files={"file": (name, data)}, headers={"Referer": form.page})


def test_a_teacher_uploads_a_bank_on_the_selection_page_and_practises_it(
        lti_world: LtiWorld) -> None:
    browser, location, html = _selection_page(lti_world)
    assert "Only the demo questions so far?" in html
    assert re.findall(r'<option value="([^"]+)"', html).count("demo") == 1

    r = _upload(browser, _upload_form(html, location), "sample-moodle.xml",
                sample("sample-moodle.xml"), bank="Fractions", format="auto")
    assert r.status_code == 200, r.text
    assert '<span class="count" id="imported">5</span>' in r.text
    assert "essay questions are not supported" in r.text  # the report, with its reasons
    with lti_world.db.session() as s:
        bank = s.scalars(select(ItemBank).where(ItemBank.name == "Fractions")).one()
        bank_id = bank.id
    # Back on the selection page with the new bank chosen, ready to add the activity.
    assert f'<option value="{bank_id}" selected>Fractions</option>' in r.text
    activity_form = forms(r.text, location)[0]
    assert activity_form.action == location
    answer = submit(browser, activity_form, title="Fractions practice", points="10",
                    bank=str(bank_id))
    assert answer.status_code == 200, answer.text
    assert forms(answer.text)[0].action == f"{lti_world.platform.url}/deep_link_return"
    with lti_world.db.session() as s:
        activity = s.scalar(select(Activity).order_by(Activity.id.desc()))
        assert activity is not None and activity.bank_id == bank_id
        assert s.scalar(select(Item).where(Item.bank_id == bank_id)) is not None


def test_a_refused_upload_says_why_on_the_selection_page(lti_world: LtiWorld) -> None:
    browser, location, html = _selection_page(lti_world)
    form = _upload_form(html, location)
    bad = _upload(browser, form, "notes.xml", b"<quiz><question type=")
    assert bad.status_code == 400
    assert "notes.xml cannot be imported" in bad.text and 'id="upload-error"' in bad.text
    assert "Add to course" in bad.text  # the page itself is still there to use
    big = _upload(browser, form, "big.csv", b"x" * (MAX_FILE_BYTES + 1))
    assert big.status_code == 413 and "the file is too large" in big.text
    none = browser.post(form.action, data=form.fields, headers={"Referer": location})
    assert none.status_code == 400 and "please choose a file" in none.text
    # Like every form, it needs the page's CSRF token.
    forged = _upload(browser, form, "sample.gift", sample("sample.gift"), csrf_token="forged")
    assert forged.status_code == 400 and "could not be verified" in forged.text
    with lti_world.db.session() as s:  # nothing refused became a bank
        assert not {"notes", "big", "sample"} & set(s.scalars(select(ItemBank.name)))
