"""Launches in headless Chromium that keeps third-party cookies out of the course page's iframe,
against the demo LMS, which (like Moodle) accepts each login's message hint once.

The course page is served as https://localhost:<port> and Metis as https://127.0.0.1:<port>:
two sites. Two browsers (tests/support/browser.py):
- third-party cookies blocked (Debian's Chromium, Chrome): Metis's cookies are Partitioned, so
  the launch, the practice and the deep linking all happen inside the frame; an unpartitioned
  control cookie set at the same login never comes back, which proves the blocking is on;
- Safari's rule (no cookie of Metis's kept in the frame at all): the login's cookie check finds
  that out before the platform sees the hint, and the new window starts the login again from
  Metis's login URL, so the hint is used once, in that window. With the platform's storage
  (which Moodle does not offer) the frame launch goes through it instead.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import BrowserContext, Frame, FrameLocator, Page

from tests.support.browser import CHROMIUM
from tests.support.cookieless import (  # noqa: F401 - fixtures
    CONTROL_COOKIE,
    TITLE,
    CookieTrace,
    add_activity,
    context,
    cookie_trace,
    course_url,
    open_activity,
    open_activity_page,
    practice_link,
    record_launches,
    safari_context,
    screenshot,
    state_cookies,
)
from tests.support.lti_world import LtiWorld

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs {CHROMIUM}"),
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
NEW_WINDOW = "Open Metis in its own window"
ADDED_TITLE = "Added from a blocked frame"


def _answer(frame: Frame | FrameLocator | Page) -> None:
    first = frame.locator("#practice-set li.item").first
    first.locator("input[type=radio]").first.check()
    first.get_by_role("button", name="Submit answer").click()
    result = frame.locator("#result")
    result.filter(has_text="Correct!").or_(result.filter(has_text="Not quite.")).wait_for()


def _add_activity(frame: Frame | FrameLocator | Page) -> None:
    frame.get_by_role("heading", name="Add a practice activity").wait_for()
    frame.get_by_label("Title").fill(ADDED_TITLE)
    frame.get_by_label("Maximum points in the gradebook").fill("5")
    frame.get_by_role("button", name="Add to course").click()
    frame.get_by_role("heading", name="Activity added").wait_for()


def _hints_used(world: LtiWorld) -> list[bool]:
    return [accepted for _, accepted in world.store.auth_requests]


def _fresh(world: LtiWorld, trace: CookieTrace | None = None) -> None:
    """Forget what the fixtures' own launch (the practice link's first one) left behind."""
    world.store.auth_requests.clear()
    if trace is not None:
        trace.requests.clear()


def test_blocked_third_party_cookies_launch_and_practise_in_the_frame(
    lti_world: LtiWorld, course_url: str, practice_link: str, context: BrowserContext,
    cookie_trace: CookieTrace,
) -> None:
    _fresh(lti_world, cookie_trace)
    lti_world.store.storage_target = None  # Moodle offers no platform storage
    launches = record_launches(context)
    page = context.new_page()
    tool = open_activity_page(page, course_url, practice_link)
    frame = page.frame_locator('iframe[name="tool"]')
    frame.get_by_role("heading", name=TITLE).wait_for()
    screenshot(page, "partitioned-launch.png")
    assert "/student/" in tool.url and "lt=" not in tool.url  # the cookies did the work
    assert launches == [303, 200] and _hints_used(lti_world) == [True]
    # The partitioned state cookie came back at the check and at the launch POST...
    assert cookie_trace.state_cookie_came_back("GET", "/lti/login/check") == [True]
    assert cookie_trace.state_cookie_came_back("POST", "/lti/launch") == [True]
    # ...while the unpartitioned control cookie of the same login answer never did.
    assert not any(CONTROL_COOKIE in names for _, _, names in cookie_trace.requests)
    # The session (partitioned too) and its CSRF token hold for an answer.
    _answer(frame)


def test_blocked_third_party_cookies_deep_link_in_the_frame(
    lti_world: LtiWorld, course_url: str, context: BrowserContext, cookie_trace: CookieTrace,
) -> None:
    lti_world.store.storage_target = None
    page = context.new_page()
    add_activity(page, course_url)
    _add_activity(page.frame_locator('iframe[name="tool"]'))
    assert [link.title for link in lti_world.store.links.values()] == [ADDED_TITLE]
    assert cookie_trace.state_cookie_came_back("POST", "/lti/launch") == [True]
    assert not any(CONTROL_COOKIE in names for _, _, names in cookie_trace.requests)


def test_frames_without_cookies_restart_the_launch_in_a_new_window(
    lti_world: LtiWorld, course_url: str, practice_link: str, safari_context: BrowserContext,
    cookie_trace: CookieTrace,
) -> None:
    _fresh(lti_world, cookie_trace)
    lti_world.store.storage_target = None
    launches = record_launches(safari_context)
    page = safari_context.new_page()
    open_activity(page, course_url, practice_link)
    frame = page.frame_locator('iframe[name="tool"]')
    frame.get_by_role("heading", name=NEW_WINDOW).wait_for()
    screenshot(page, "new-window.png")
    # Found out at the login's check: no cookie came back, and the platform never saw the hint.
    assert cookie_trace.state_cookie_came_back("GET", "/lti/login/check") == [False]
    assert launches == [] and _hints_used(lti_world) == []
    with safari_context.expect_page() as opened:
        frame.get_by_role("button", name="Open in a new window").click()
    window = opened.value
    window.get_by_role("heading", name=TITLE).wait_for()
    screenshot(window, "new-window-launched.png")
    assert "/student/" in window.url
    # One use of the hint, in the new window, where Metis is first-party and keeps its cookie.
    assert _hints_used(lti_world) == [True] and launches == [303, 200]
    assert state_cookies(safari_context, lti_world.metis.url) == []  # dropped after the launch
    _answer(window)


def test_frames_without_cookies_deep_link_in_a_new_window(
    lti_world: LtiWorld, course_url: str, safari_context: BrowserContext,
) -> None:
    lti_world.store.storage_target = None
    page = safari_context.new_page()
    add_activity(page, course_url)
    frame = page.frame_locator('iframe[name="tool"]')
    frame.get_by_role("heading", name=NEW_WINDOW).wait_for()
    assert _hints_used(lti_world) == []
    with safari_context.expect_page() as opened:
        frame.get_by_role("button", name="Open in a new window").click()
    _add_activity(opened.value)
    assert _hints_used(lti_world) == [True]
    assert [link.title for link in lti_world.store.links.values()] == [ADDED_TITLE]


def test_frames_without_cookies_use_the_platform_storage_when_offered(
    lti_world: LtiWorld, course_url: str, practice_link: str, safari_context: BrowserContext,
    cookie_trace: CookieTrace,
) -> None:
    _fresh(lti_world, cookie_trace)
    launches = record_launches(safari_context)
    page = safari_context.new_page()
    tool = open_activity(page, course_url, practice_link)
    frame = page.frame_locator('iframe[name="tool"]')
    frame.get_by_role("heading", name=TITLE).wait_for()
    screenshot(page, "storage-launch.png")
    assert "/student/" in tool.url and "lt=" in tool.url  # the page token, not a cookie
    # The launch POST came without the cookie and was answered with the page that reads the
    # state back from the platform; the second carried it in the form and was accepted.
    assert launches == [200, 303, 200] and _hints_used(lti_world) == [True]
    assert not any(cookie_trace.state_cookie_came_back("POST", "/lti/launch"))
    _answer(frame)
    # From the tool's origin, the course page names its storage frame (lti.capabilities).
    capabilities = tool.evaluate(
        """(origin) => new Promise((resolve) => {
            window.addEventListener("message", (event) => {
                const data = event.data;
                if (event.origin === origin && data.message_id === "cap-1") resolve(data);
            });
            window.parent.postMessage({subject: "lti.capabilities", message_id: "cap-1"}, origin);
            setTimeout(() => resolve(null), 2000);
        })""",
        course_url.rstrip("/"),
    )
    assert capabilities["subject"] == "lti.capabilities.response"
    frames = {m["subject"]: m.get("frame") for m in capabilities["supported_messages"]}
    assert frames["lti.put_data"] == frames["lti.get_data"] == "post_message_forwarding"


def test_storage_that_does_not_answer_ends_in_the_new_window_before_the_platform(
    lti_world: LtiWorld, course_url: str, practice_link: str, safari_context: BrowserContext,
) -> None:
    _fresh(lti_world)
    # The platform names a storage frame, but the frame never loads, so nobody answers.
    safari_context.route("**/lti/storage?*", lambda route: route.abort())
    launches = record_launches(safari_context)
    page = safari_context.new_page()
    open_activity(page, course_url, practice_link)
    frame = page.frame_locator('iframe[name="tool"]')
    frame.get_by_role("heading", name=NEW_WINDOW).wait_for()
    screenshot(page, "storage-failed.png")
    assert launches == [] and _hints_used(lti_world) == []  # the hint is still unused
    with safari_context.expect_page() as opened:
        frame.get_by_role("button", name="Open in a new window").click()
    opened.value.get_by_role("heading", name=TITLE).wait_for()
    assert launches == [303, 200] and _hints_used(lti_world) == [True]


def test_storage_frame_answers_only_the_tool_origin(
    lti_world: LtiWorld, course_url: str, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(course_url)
    # The course page's own origin is not the tool's: the storage frame must stay silent.
    answered = page.evaluate(
        """() => new Promise((resolve) => {
            const frame = window.frames["post_message_forwarding"];
            window.addEventListener("message", () => resolve(true));
            frame.postMessage({subject: "lti.get_data", message_id: "x", key: "k"}, "*");
            setTimeout(() => resolve(false), 500);
        })"""
    )
    assert answered is False
