"""The student's story in headless Chromium when the browser keeps no cookie of Metis's at all,
as Safari does inside the course page's iframe (it drops even partitioned third-party
cookies): the launch goes through the platform's storage, then the practice page, an answer
with its feedback, the next set by the event stream (a real worker process), and the teacher's
pages, all on the page token alone.

Metis's server is wrapped so that every `Set-Cookie` it sends is dropped before the browser
sees it, and every request that reaches it is checked for a `Cookie` header (none may come).
This is done at the server rather than with Playwright's `route`, whose `fetch` waits for the
whole body (an event stream would never arrive live) and follows redirects itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext

from tests.support.browser import chromium, new_context
from tests.support.cookieless import (  # noqa: F401
    TITLE,
    course_url,
    open_activity,
    practice_link,
)
from tests.support.lti_world import LtiWorld
from tests.support.practice_browser import finish_set
from tests.support.worker import WorkerProcess, worker_env

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
ARTIFACTS = Path(os.environ.get("METIS_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts")


class NoCookies:
    """Metis as a browser that keeps none of its cookies sees it: `Set-Cookie` never arrives.
    `cookies_received` counts requests that came with a cookie anyway (there must be none)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.cookies_received = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("HTTP_COOKIE"):
            self.cookies_received += 1

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != "set-cookie"]
            return start_response(status, kept, exc_info)

        return self.app(environ, start)


@pytest.fixture()
def no_cookies(lti_world: LtiWorld) -> Iterator[NoCookies]:
    server = lti_world.metis.server
    wrapped = NoCookies(server.app)
    server.app = wrapped
    try:
        yield wrapped
    finally:
        server.app = wrapped.app


@pytest.fixture()
def context() -> Iterator[BrowserContext]:
    with chromium() as browser:
        ctx = new_context(browser, width=1000)
        try:
            yield ctx
        finally:
            ctx.close()


def test_student_and_teacher_pages_without_any_cookie(
    lti_world: LtiWorld, course_url: str, practice_link: str,  # noqa: F811
    no_cookies: NoCookies, context: BrowserContext, tmp_path: Path,
) -> None:
    metis = lti_world.metis.url
    context.clear_cookies()
    polled: list[str] = []
    streams: list[str] = []

    def seen(url: str) -> None:
        path = urlsplit(url).path
        if path.endswith("/state"):
            polled.append(url)
        elif path.endswith("/events"):
            streams.append(url)

    context.on("request", lambda request: seen(request.url))
    env = worker_env(lti_world.settings.effective_database_url, lti_world.settings.redis_url,
                     tmp_path)
    with WorkerProcess(env, tmp_path / "worker.log"):
        page = context.new_page()
        tool = open_activity(page, course_url, practice_link)
        frame = page.frame_locator('iframe[name="tool"]')
        frame.get_by_role("heading", name=TITLE).wait_for()
        token = parse_qs(urlsplit(tool.url).query).get("lt", [""])[0]
        assert re.search(r"/student/[^/?]+$", urlsplit(tool.url).path) and token

        # An answer: the verdict and the item's feedback at once.
        first = frame.locator("#practice-set li.item").first
        first.wait_for()
        first.locator("input[type=radio]").first.check()
        first.get_by_role("button", name="Submit answer").click()
        result = frame.locator("#result")
        result.filter(has_text="Correct!").or_(result.filter(has_text="Not quite.")).wait_for()
        frame.locator("#answer-feedback").wait_for()
        first.locator(".answered").wait_for()
        # The rest of the set; the next set, computed by the worker, arrives by the event
        # stream, not by polling.
        finish_set(frame)
        frame.locator("#practice-set:not([data-event-id=''])").wait_for(timeout=60_000)
        assert frame.locator("#practice-set li.item").count() >= 1
        assert frame.locator("#status").is_hidden()
        assert streams and all(f"lt={token}" in url for url in streams)
        assert not polled
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cookieless_student.png"), full_page=True)

        # The teacher's pages, from the same course page, and a link between them.
        teacher = open_activity(page, course_url, practice_link, user="201")
        frame.get_by_role("heading", name="Your course").wait_for()
        assert "lt=" in teacher.url
        frame.get_by_role("navigation", name="Teacher pages").get_by_role(
            "link", name="Question banks").click()
        frame.get_by_role("heading", name="Question banks").wait_for()
        assert urlsplit(teacher.url).path.endswith("/banks") and "lt=" in teacher.url
        page.screenshot(path=str(ARTIFACTS / "cookieless_teacher.png"), full_page=True)

    # Not one cookie was kept for Metis, nor sent to it.
    assert context.cookies(metis) == []
    assert no_cookies.cookies_received == 0
