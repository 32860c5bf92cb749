"""The cookie-less launch in a real (headless) Chromium: the LTI client-side postMessage storage
of the demo platform, and the "open in a new window" fallback when the platform offers none.

The course page is served as https://localhost:<port> and Metis as https://127.0.0.1:<port>: two
sites, so Chromium, told to block third-party cookies, withholds Metis's unpartitioned login
cookie inside the course page's iframe, as Safari and Chrome's phase-out do.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import BrowserContext

from tests.support.browser import CHROMIUM
from tests.support.cookieless import (  # noqa: F401 - fixtures
    TITLE,
    context,
    course_url,
    open_activity,
    practice_link,
    record_launches,
    screenshot,
    state_cookies,
)
from tests.support.lti_world import LtiWorld

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs {CHROMIUM}")
def test_iframe_launch_without_cookie_uses_platform_storage(
    lti_world: LtiWorld, course_url: str, practice_link: str, context: BrowserContext
) -> None:
    launches = record_launches(context)
    page = context.new_page()
    tool = open_activity(page, course_url, practice_link)

    page.frame_locator('iframe[name="tool"]').get_by_role("heading", name=TITLE).wait_for()
    screenshot(page, "storage-launch.png")
    assert "/student/" in tool.url
    # The first launch POST came without the login cookie and was answered with the page that
    # reads the state back from the platform; the second carried it and was accepted.
    assert launches == [200, 303, 200]
    assert state_cookies(context, lti_world.metis.url) == []
    # After the launch the session (a partitioned cookie) and the CSRF token still hold:
    # an answer posted from inside the course page is accepted.
    frame = page.frame_locator('iframe[name="tool"]')
    first = frame.locator("#practice-set li.item").first
    first.locator("input[type=radio]").first.check()
    first.get_by_role("button", name="Submit answer").click()
    result = frame.locator("#result")
    result.filter(has_text="Correct!").or_(result.filter(has_text="Not quite.")).wait_for()
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


def test_without_platform_storage_the_new_window_fallback_launches(
    lti_world: LtiWorld, course_url: str, practice_link: str, context: BrowserContext
) -> None:
    lti_world.store.storage_target = None
    launches = record_launches(context)
    page = context.new_page()
    open_activity(page, course_url, practice_link)

    tool = page.frame_locator('iframe[name="tool"]')
    tool.get_by_role("heading", name="Open Metis in its own window").wait_for()
    screenshot(page, "new-window.png")
    assert launches == [401]
    with context.expect_page() as opened:
        tool.get_by_role("button", name="Open in a new window").click()
    window = opened.value
    window.get_by_role("heading", name=TITLE).wait_for()
    screenshot(window, "new-window-launched.png")
    assert "/student/" in window.url
    # In its own window Metis is first-party: the cookie path did the work, no storage.
    assert launches == [401, 303, 200]


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


def test_storage_that_does_not_answer_ends_in_the_new_window_fallback(
    lti_world: LtiWorld, course_url: str, practice_link: str, context: BrowserContext
) -> None:
    # The platform names a storage frame, but the frame never loads, so nobody answers.
    context.route("**/lti/storage?*", lambda route: route.abort())
    launches = record_launches(context)
    page = context.new_page()
    open_activity(page, course_url, practice_link)

    tool = page.frame_locator('iframe[name="tool"]')
    tool.get_by_role("heading", name="Open Metis in its own window").wait_for()
    screenshot(page, "storage-failed.png")
    assert launches == [200]  # the page that asked the storage, never relaunched
    with context.expect_page() as opened:
        tool.get_by_role("button", name="Open in a new window").click()
    window = opened.value
    window.get_by_role("heading", name=TITLE).wait_for()
    assert launches == [200, 303, 200]
