"""The cookie-less world in headless Chromium: the course page served on another site than Metis
(https://localhost against https://127.0.0.1), a practice link, the two browser contexts of
tests/support/browser.py (third-party cookies blocked; Safari's frames that keep no cookie),
and `CookieTrace`, which shows on the wire which cookies came back to Metis."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Frame, Page, Response
from sqlalchemy import select

from lti_tool.core.db.models import Platform
from lti_tool.lti.login import STATE_COOKIE_PREFIX
from lti_tool.web.security import forget_platform_origins
from tests.support.browser import (
    NO_THIRD_PARTY_COOKIES,
    chromium,
    frames_keep_no_cookies,
    new_context,
)
from tests.support.lti_world import LtiWorld
from tests.support.practice import seeded_practice_link

SCREENSHOTS = os.environ.get("METIS_SCREENSHOT_DIR")
TITLE = "Fractions practice"
STUDENT_PAGE = re.compile(r"/student/[^/]+")


@pytest.fixture()
def course_url(lti_world: LtiWorld) -> str:
    """The demo LMS on another site than Metis, as Moodle is: the whole platform (issuer,
    course page, login, keys, services) is addressed as https://localhost:<port>, Metis stays
    https://127.0.0.1:<port>. Every client, Chromium and `requests` alike, then uses that name,
    so the platform's session cookie is always on the host that checks it."""
    old = lti_world.platform.url
    lti_world.platform.host = "localhost"
    origin = lti_world.platform.url
    lti_world.store.issuer = origin
    with lti_world.db.session() as s:
        row = s.scalars(select(Platform).where(Platform.id == lti_world.platform_pk)).one()
        for column in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
            setattr(row, column, getattr(row, column).replace(old, origin))
    forget_platform_origins(lti_world.app)
    return origin + "/"


@pytest.fixture()
def practice_link(lti_world: LtiWorld) -> str:
    """A link whose activity has a bank, so the student page renders (a first launch by a
    classmate creates the course rows)."""
    return seeded_practice_link(lti_world, TITLE, items=4, activity={"title": TITLE}).link_id


@pytest.fixture()
def context() -> Iterator[BrowserContext]:
    """Chromium blocking third-party cookies: Metis's partitioned cookies are kept in the
    course page's iframe, unpartitioned ones are not."""
    with chromium(NO_THIRD_PARTY_COOKIES) as browser:
        ctx = new_context(browser)
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture()
def safari_context(lti_world: LtiWorld, course_url: str) -> Iterator[BrowserContext]:
    """Chromium keeping no cookie of Metis's at all inside the course page, as Safari does,
    and keeping them in Metis's own window."""
    with frames_keep_no_cookies(lti_world.metis.url, course_url.rstrip("/")) as ctx:
        yield ctx


CONTROL_COOKIE = "metis-control"


@dataclass
class CookieTrace:
    """Metis's server as the wire sees it: the cookie names each request carried. Every login
    answer also sets an unpartitioned control cookie, which a browser that blocks third-party
    cookies must never send back from inside the course page."""

    app: Callable[..., Any]
    requests: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        names = frozenset(part.split("=", 1)[0].strip()
                          for part in environ.get("HTTP_COOKIE", "").split(";") if "=" in part)
        self.requests.append((environ.get("REQUEST_METHOD", ""), path, names))

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if path == "/lti/login":
                headers = [*headers,
                           ("Set-Cookie", f"{CONTROL_COOKIE}=1; Secure; SameSite=None; Path=/")]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def cookies(self, method: str, path: str) -> list[frozenset[str]]:
        """The cookie names of each request for `path` (a prefix), in order."""
        return [names for m, p, names in self.requests if m == method and p.startswith(path)]

    def state_cookie_came_back(self, method: str, path: str) -> list[bool]:
        return [any(n.startswith(STATE_COOKIE_PREFIX) for n in names)
                for names in self.cookies(method, path)]


@pytest.fixture()
def cookie_trace(lti_world: LtiWorld) -> Iterator[CookieTrace]:
    server = lti_world.metis.server
    trace = CookieTrace(server.app)
    server.app = trace
    try:
        yield trace
    finally:
        server.app = trace.app


def record_launches(context: BrowserContext) -> list[int]:
    """Statuses of Metis's answers to POST /lti/launch and GET /student/<id>, in order."""
    statuses: list[int] = []

    def seen(response: Response) -> None:
        if response.url.endswith("/lti/launch") and response.request.method == "POST":
            statuses.append(response.status)
        elif STUDENT_PAGE.fullmatch(urlsplit(response.url).path):
            statuses.append(response.status)

    context.on("response", seen)
    return statuses


def open_activity_page(page: Page, course_url: str, link_id: str, user: str = "101") -> Frame:
    """The activity's own page with Metis embedded (the demo LMS's /view, like Moodle's
    mod/lti/view.php): the frame where Metis's login and launch run."""
    page.goto(f"{course_url}view?user={user}&link={link_id}")
    frame = page.frame(name="tool")
    assert frame is not None
    return frame


def add_activity(page: Page, course_url: str) -> Frame:
    """The course page's "Add a Metis activity" button (deep linking, in the frame)."""
    page.goto(course_url)
    page.get_by_role("button", name="Add a Metis activity").click()
    frame = page.frame(name="tool")
    assert frame is not None
    return frame


def open_activity(page: Page, course_url: str, link_id: str, user: str = "101") -> Frame:
    page.goto(course_url)
    form = page.locator(
        f'form:has(input[name="link"][value="{link_id}"]):has(input[name="user"][value="{user}"])'
    )
    form.get_by_role("button").click()
    frame = page.frame(name="tool")
    assert frame is not None
    return frame


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def state_cookies(context: BrowserContext, url: str) -> list[str]:
    return [c["name"] for c in context.cookies(url) if c["name"].startswith("metis-lti-state-")]
