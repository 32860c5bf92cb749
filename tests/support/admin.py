"""Helpers of the admin tests: an admin is either a real Administrator launch through the demo
platform or a local admin who logged in at /admin/login with a password."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from lti_tool.core.db import Database
from lti_tool.devkit.lti_client import Form, forms, login_and_launch
from lti_tool.web import admin_accounts
from tests.support.lti_world import LtiWorld

ADMIN, INSTRUCTOR, LEARNER = "301", "201", "101"
LOCAL_USER, LOCAL_PASSWORD = "ops-admin", "correct horse battery"


def launch(world: LtiWorld, user: str) -> tuple[requests.Session, str]:
    """A browser that launched as `user` into a new link, and the launch id."""
    link = world.store.add_link("Fractions", score_maximum=10)
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user=user, link=link.id)
    assert r.status_code == 303, r.text
    return browser, r.headers["Location"].rsplit("/", 1)[1]


def create_local_admin(
    db: Database, username: str = LOCAL_USER, password: str = LOCAL_PASSWORD
) -> None:
    with db.session() as s:
        admin_accounts.create_account(s, username, password)


def form_ending(html: str, action_end: str) -> Form:
    found = [f for f in forms(html) if f.action.endswith(action_end)]
    assert found, f"no form posting to ...{action_end}"
    return found[0]


def post(world: LtiWorld, browser: requests.Session, form: Form, **extra: str) -> requests.Response:
    # A browser sends the page as Referer (Referrer-Policy same-origin); Flask-WTF checks it on
    # HTTPS.
    return browser.post(
        world.metis.url + form.action,
        data={**form.fields, **extra},
        headers={"Referer": world.metis.url + "/admin/"},
        allow_redirects=False,
    )


def local_login(
    world: LtiWorld,
    browser: requests.Session | None = None,
    username: str = LOCAL_USER,
    password: str = LOCAL_PASSWORD,
) -> tuple[requests.Session, requests.Response]:
    """Submit the login form as a person would; returns the browser and the answer."""
    browser = browser or world.browser()
    page = browser.get(f"{world.metis.url}/admin/login")
    assert page.status_code == 200, page.text
    form = form_ending(page.text, "/admin/login")
    return browser, post(world, browser, form, username=username, password=password)


@dataclass
class Admin:
    """An admin's browser and the prefix of their admin pages."""

    world: LtiWorld
    browser: requests.Session
    base: str  # "/admin/<launch_id>" or "/admin/local"
    via: str

    def get(self, page: str = "") -> requests.Response:
        return self.browser.get(self.world.metis.url + self.base + page)

    def page(self, page: str = "") -> str:
        r = self.get(page)
        assert r.status_code == 200, r.text
        return r.text

    def submit(self, page: str, action_end: str, **extra: str) -> requests.Response:
        """Post the form on `page` whose action ends with `action_end`."""
        return post(self.world, self.browser, form_ending(self.page(page), action_end), **extra)


def make_admin(world: LtiWorld, via: str) -> Admin:
    if via == "lti":
        browser, launch_id = launch(world, ADMIN)
        return Admin(world, browser, f"/admin/{launch_id}", via)
    create_local_admin(world.db)
    browser, r = local_login(world)
    assert r.status_code == 303, r.text
    return Admin(world, browser, "/admin/local", via)


@pytest.fixture(params=["lti", "local"])
def admin(request: pytest.FixtureRequest, lti_world: LtiWorld) -> Admin:
    """An Administrator launch, or a local admin logged in with a password."""
    return make_admin(lti_world, request.param)
