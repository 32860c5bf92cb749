"""The cookie-less world in headless Chromium: the course page served on another site than Metis
(https://localhost against https://127.0.0.1), a practice link, and a browser context that
blocks third-party cookies."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Frame, Page, Response
from sqlalchemy import select

from lti_tool.core.db.models import Platform
from lti_tool.web.security import forget_platform_origins
from tests.support.browser import NO_THIRD_PARTY_COOKIES, chromium, new_context
from tests.support.lti_world import LtiWorld
from tests.support.practice import seeded_practice_link

SCREENSHOTS = os.environ.get("METIS_SCREENSHOT_DIR")
TITLE = "Fractions practice"
STUDENT_PAGE = re.compile(r"/student/[^/]+")


@pytest.fixture()
def course_url(lti_world: LtiWorld) -> str:
    """The course page on another site than Metis; the registration names that origin."""
    origin = lti_world.platform.url.replace("127.0.0.1", "localhost")
    with lti_world.db.session() as s:
        row = s.scalars(select(Platform).where(Platform.id == lti_world.platform_pk)).one()
        row.auth_login_url = f"{origin}/auth"
    forget_platform_origins(lti_world.app)
    return origin + "/"


@pytest.fixture()
def practice_link(lti_world: LtiWorld) -> str:
    """A link whose activity has a bank, so the student page renders (a first launch by a
    classmate creates the course rows)."""
    return seeded_practice_link(lti_world, TITLE, items=4, activity={"title": TITLE}).link_id


@pytest.fixture()
def context() -> Iterator[BrowserContext]:
    with chromium(NO_THIRD_PARTY_COOKIES) as browser:
        ctx = new_context(browser)
        try:
            yield ctx
        finally:
            ctx.close()


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
