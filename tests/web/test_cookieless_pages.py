"""The pages after a launch in a browser that keeps no cookie of Metis's at all (Safari inside
the LMS's iframe), driven with `requests`: the launch goes through the platform's storage, its
redirect carries the page token, and with that token alone the student, teacher, admin and
content selection pages work, forms included. Without it, with another launch's token, or with
the token only in the query string of a POST (what a forged cross-site form could carry), the
request is refused as before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from sqlalchemy import update

from lti_tool.core.db.models import Item
from lti_tool.devkit.lti_client import (
    Form,
    first_form,
    follow_cookie_check,
    forms,
    login_and_launch,
    submit,
)
from tests.support.bank_samples import SAMPLES
from tests.support.cookieless import practice_link  # noqa: F401
from tests.support.lti_world import LtiWorld

STORAGE = "post_message_forwarding"
SAMPLE = SAMPLES / "sample-moodle.xml"
LEARNER, OTHER_LEARNER, INSTRUCTOR, ADMIN = "101", "103", "201", "301"


@dataclass
class Cookieless:
    """The LMS's course page (a normal browser session) and Metis inside it, which keeps and
    sends no cookie; `url` is where Metis's launch redirected to."""

    lms: requests.Session
    tool: requests.Session
    url: str

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.url).query)["lt"][0]

    @property
    def launch_id(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[1]

    def get(self, url: str, **kwargs: object) -> requests.Response:
        return self.tool.get(url, allow_redirects=False, **kwargs)  # type: ignore[arg-type]

    def post(self, form: Form, **fields: str) -> requests.Response:
        return submit(self.tool, form, **fields)


def no_cookies(world: LtiWorld) -> requests.Session:
    browser = world.browser()
    browser.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keeps none
    return browser


def cookieless_launch(world: LtiWorld, user: str, *, link: str | None = None,
                      deep_link: bool = False) -> Cookieless:
    """The platform-storage launch (as the course page's scripts do it), with every request to
    Metis made by a browser that has no cookie for it."""
    lms, tool = world.browser(), no_cookies(world)
    params = {"user": user, "storage_target": STORAGE}
    if link:
        params["link"] = link
    if deep_link:
        params["deep_link"] = "1"
    r = lms.get(f"{world.platform.url}/launch", params=params)
    # The login at Metis, then its cookie check: no cookie came back, so the page that keeps
    # the state in the platform's storage.
    r = follow_cookie_check(tool, submit(tool, first_form(r.text)))
    assert r.status_code == 200 and "lti.put_data" in r.text, r.text[:300]
    auth_url = r.text.split('href="', 2)[2].split('"', 1)[0].replace("&amp;", "&")
    auth = lms.get(auth_url, allow_redirects=False)
    r = submit(tool, first_form(auth.text))  # the launch POST, without the login cookie
    assert r.status_code == 200 and "lti.get_data" in r.text, r.text[:300]
    relaunch = first_form(r.text)
    r = submit(tool, relaunch, lti_storage_state=relaunch.fields["state"])
    assert r.status_code == 303, r.text[:300]
    assert not tool.cookies  # nothing was kept, so nothing was sent either
    return Cookieless(lms, tool, urljoin(world.metis.url, r.headers["Location"]))


def form_to(html: str, base: str, path_end: str) -> Form:
    found = [f for f in forms(html, base) if urlsplit(f.action).path.endswith(path_end)]
    assert found, f"no form posting to ...{path_end}"
    return found[0]


def selected(html: str, name: str) -> str:
    """The selected option of a <select> (the form helper reads only <input>s)."""
    block = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert block is not None, name
    options = re.findall(r'<option value="([^"]*)"\s*(selected)?', block.group(0))
    return next((value for value, chosen in options if chosen), options[0][0])


def without(form: Form, *names: str) -> Form:
    return Form(form.action, form.method, {k: v for k, v in form.fields.items()
                                           if k not in names}, form.page)


def strip_query(form: Form) -> Form:
    return Form(form.action.split("?", 1)[0], form.method, dict(form.fields), form.page)


def test_student_pages_and_answers_without_any_cookie(lti_world: LtiWorld,
                                                      practice_link: str) -> None:  # noqa: F811
    world = lti_world
    ada = cookieless_launch(world, LEARNER, link=practice_link)
    assert re.fullmatch(r"/student/[^/]+", urlsplit(ada.url).path)
    page = ada.get(ada.url)
    assert page.status_code == 200, page.text[:500]
    # Hints on every question shown, for the hint form without the script.
    shown_ids = [int(f.fields["item_id"]) for f in forms(page.text) if "item_id" in f.fields]
    with world.db.session() as s:
        s.execute(update(Item).where(Item.id.in_(shown_ids)).values(hints=["<p>HINT-A</p>"]))
    page = ada.get(ada.url)
    assert page.headers["Referrer-Policy"] == "same-origin"
    # Every URL the page builds for this launch, and every form, carries the token.
    answer = form_to(page.text, ada.url, "/answer")
    assert answer.fields["lt"] == ada.token and f"lt={ada.token}" in answer.action
    config = re.search(r'<script id="practice-config" type="application/json">(.*?)</script>',
                       page.text, re.S)
    assert config is not None
    for key in ("events", "state", "answer", "hint", "page"):
        assert f"lt={ada.token}" in re.search(rf'"{key}": "([^"]+)"', config.group(1)).group(1)
    assert f'"lt": "{ada.token}"' in config.group(1)

    # The page's fetches: the token in the URL, or in the header alone.
    state_url = f"{world.metis.url}/student/{ada.launch_id}/state"
    assert ada.get(state_url, params={"lt": ada.token}).status_code == 200
    by_header = ada.get(state_url, headers={"X-Metis-Launch": ada.token})
    assert by_header.status_code == 200 and by_header.json()["items"]

    # An answer with the token in the form (as the page's form and script send it): taken,
    # its feedback page comes back with the token, and the token alone shows it.
    item_id = answer.fields["item_id"]
    taken = ada.post(answer, choice="0", csrf_token="")
    assert taken.status_code == 303, taken.text[:500]
    feedback_url = urljoin(world.metis.url, taken.headers["Location"])
    assert f"lt={ada.token}" in feedback_url and "answered=" in feedback_url
    shown = ada.get(feedback_url)
    assert shown.status_code == 200 and 'id="answer-feedback"' in shown.text
    # A hint without the script (on a question still open): a GET form, whose own fields
    # replace the query string of its action in a browser, so the token is one of them.
    hint = next(f for f in forms(shown.text, feedback_url) if f.method == "get")
    assert hint.fields["lt"] == ada.token
    with_hint = ada.post(strip_query(hint))
    assert with_hint.status_code == 200 and "HINT-A" in with_hint.text
    # The script's way: the token in the body only (plain URL), JSON back.
    open_forms = [f for f in forms(shown.text, feedback_url)
                  if f.fields.get("item_id") not in (None, item_id)]
    second, third = open_forms[0], open_forms[1]
    as_json = ada.tool.post(second.action.split("?", 1)[0], allow_redirects=False,
                            data={**second.fields, "choice": "0"},
                            headers={"Accept": "application/json", "Referer": feedback_url})
    assert as_json.status_code == 202, as_json.text[:500]
    assert as_json.json()["message"] in ("Correct!", "Not quite.")
    # Its JSON twin with the token in the header only (another question: each is graded once).
    by_header_post = ada.tool.post(
        third.action.split("?", 1)[0], allow_redirects=False,
        data={k: v for k, v in third.fields.items() if k != "lt"} | {"choice": "1"},
        headers={"Accept": "application/json", "X-Metis-Launch": ada.token})
    assert by_header_post.status_code == 202, by_header_post.text[:500]
    # The event stream (SSE) opens with the token in its URL.
    with ada.tool.get(f"{world.metis.url}/student/{ada.launch_id}/events",
                      params={"lt": ada.token}, stream=True, timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert not ada.tool.cookies


def test_without_the_right_token_the_pages_are_refused(lti_world: LtiWorld,
                                                       practice_link: str) -> None:  # noqa: F811
    world = lti_world
    ada = cookieless_launch(world, LEARNER, link=practice_link)
    cleo = cookieless_launch(world, OTHER_LEARNER, link=practice_link)
    plain = ada.url.split("?", 1)[0]
    page = ada.get(ada.url).text
    answer = form_to(page, ada.url, "/answer")

    refused = "this page belongs to a launch this browser did not make"
    for response in (
        ada.get(plain),  # no token
        ada.get(plain, params={"lt": cleo.token}),  # another launch's token
        ada.get(plain, params={"lt": ada.token[:-3] + "abc"}),  # altered
        ada.get(plain, headers={"X-Metis-Launch": cleo.token}),
        ada.get(f"{plain}/state", params={"lt": cleo.token}),
    ):
        assert response.status_code == 403 and refused in response.text, response.text[:300]
    # A POST without it, or with Cleo's, does not even pass the CSRF check (no session).
    for response in (ada.post(strip_query(without(answer, "lt")), choice="0"),
                     ada.post(strip_query(answer), choice="0", lt=cleo.token)):
        assert response.status_code == 400 and "could not be verified" in response.text
    # Cleo's own page opens with her token, not with Ada's.
    assert cleo.get(cleo.url).status_code == 200
    assert cleo.get(cleo.url.split("?")[0], params={"lt": ada.token}).status_code == 403

    # A cross-site form can only carry the token in the URL it posts to (it cannot read the
    # page): that opens the launch but is not proof against CSRF, so it is refused (400).
    forged = ada.tool.post(answer.action, allow_redirects=False,
                           data={"item_id": answer.fields["item_id"], "choice": "0"},
                           headers={"Referer": "https://evil.example/"})
    assert forged.status_code == 400 and "could not be verified" in forged.text
    assert "Ada" not in forged.text


def test_teacher_pages_and_forms_without_any_cookie(lti_world: LtiWorld,
                                                    practice_link: str) -> None:  # noqa: F811
    world = lti_world
    tess = cookieless_launch(world, INSTRUCTOR, link=practice_link)
    assert urlsplit(tess.url).path.startswith("/teacher/")
    home = tess.get(tess.url)
    assert home.status_code == 200, home.text[:500]
    # The pages' own links carry the token and open with it alone.
    links = set(re.findall(r'href="(/teacher/[^"#]+)"', home.text))
    assert links and all(f"lt={tess.token}" in link.replace("&amp;", "&") for link in links)
    banks_link = next(link for link in links if urlsplit(link).path.endswith("/banks"))
    banks_url = urljoin(world.metis.url, banks_link.replace("&amp;", "&"))
    banks = tess.get(banks_url)
    assert banks.status_code == 200 and "Import questions" in banks.text

    # The upload form (its view checks CSRF itself, after raising the size limit).
    upload = form_to(banks.text, banks_url, "/banks/import")
    assert upload.fields["lt"] == tess.token
    files = {"file": ("sample-moodle.xml", SAMPLE.read_bytes(), "application/xml")}
    data = {**upload.fields, "bank": "Cookieless bank", "format": "auto"}
    report = tess.tool.post(upload.action, data=data, files=files, allow_redirects=False,
                            headers={"Referer": banks_url})
    assert report.status_code == 200 and "Import report" in report.text, report.text[:500]
    # The same upload with the token only in the URL: refused by the CSRF check.
    forged = tess.tool.post(upload.action, files=files, allow_redirects=False,
                            data={k: v for k, v in data.items() if k != "lt"})
    assert forged.status_code == 400 and "could not be verified" in forged.text

    # The activity settings form: saved, and back to the page with the token.
    settings_url = f"{world.metis.url}/teacher/{tess.launch_id}/activity?lt={tess.token}"
    settings_page = tess.get(settings_url)
    assert settings_page.status_code == 200, settings_page.text[:500]
    # (Every skill and category: the form helper would tick every box, of every bank.)
    save = without(form_to(settings_page.text, settings_url, "/activity"), "skills", "categories")
    saved = tess.post(save, **{name: selected(settings_page.text, name)
                               for name in ("bank", "grading")})
    assert saved.status_code == 303, saved.text[saved.text.find("<main"):][:3000]
    assert f"lt={tess.token}" in saved.headers["Location"]
    back = tess.get(urljoin(world.metis.url, saved.headers["Location"]))
    assert back.status_code == 200
    # The notice rode in the redirect (signed), since no session cookie could carry it.
    assert "Your settings were saved." in back.text
    assert not tess.tool.cookies


def test_admin_and_content_selection_without_any_cookie(lti_world: LtiWorld) -> None:
    world = lti_world
    admin = cookieless_launch(world, ADMIN, link=world.store.add_link("Fractions").id)
    assert urlsplit(admin.url).path.startswith("/admin/")
    home = admin.get(admin.url)
    assert home.status_code == 200 and "Metis administration" in home.text
    keys_url = f"{world.metis.url}/admin/{admin.launch_id}/keys?lt={admin.token}"
    keys = admin.get(keys_url)
    assert keys.status_code == 200
    # Rotation asks first: the keys page links to a confirmation page with the form.
    confirm_url = f"{world.metis.url}/admin/{admin.launch_id}/keys/rotate?lt={admin.token}"
    assert f"/admin/{admin.launch_id}/keys/rotate" in keys.text
    confirm = admin.get(confirm_url)
    assert confirm.status_code == 200
    rotate = form_to(confirm.text, confirm_url, "/keys/rotate")
    assert rotate.fields["lt"] == admin.token and rotate.fields.get("confirm") == "rotate"
    done = admin.post(rotate)
    assert done.status_code == 303 and f"lt={admin.token}" in done.headers["Location"]
    shown = admin.get(urljoin(world.metis.url, done.headers["Location"]))
    assert shown.status_code == 200 and "new signing key" in shown.text
    # A notice whose signature does not match shows nothing.
    forged = re.sub(r"notice=[^&]+", "notice=eyJmb3JnZWQiOjF9.AAAA.BBBB", done.headers["Location"])
    assert "new signing key" not in admin.get(urljoin(world.metis.url, forged)).text
    assert admin.post(strip_query(without(rotate, "lt"))).status_code == 400
    assert admin.get(keys_url.split("?")[0]).status_code == 403

    tess = cookieless_launch(world, INSTRUCTOR, deep_link=True)
    assert urlsplit(tess.url).path.startswith("/lti/deep-link/")
    selection = tess.get(tess.url)
    assert selection.status_code == 200 and "Add a practice activity" in selection.text
    form = first_form(selection.text, tess.url)
    assert form.fields["lt"] == tess.token
    answer = tess.post(form, title="Cookieless practice", points="5", bank="demo")
    assert answer.status_code == 200, answer.text[:500]
    assert first_form(answer.text).action == f"{world.platform.url}/deep_link_return"


def test_a_browser_that_keeps_cookies_sees_no_token(lti_world: LtiWorld,
                                                    practice_link: str) -> None:  # noqa: F811
    world = lti_world
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user=LEARNER, link=practice_link)
    assert r.status_code == 303 and "lt=" not in r.headers["Location"]
    page = browser.get(world.metis.url + r.headers["Location"])
    assert page.status_code == 200
    assert "lt=" not in page.text and 'name="lt"' not in page.text
    assert '"lt": ""' in page.text  # the script sends no token
