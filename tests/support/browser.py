"""Headless Chromium for the page tests: where it is, how it starts, one context per test, and
the two ways a browser keeps third-party cookies out of the LMS's iframe.

- `NO_THIRD_PARTY_COOKIES`: Chrome's third-party cookie blocking (Debian's Chromium, Chrome's
  phase-out; headless Chromium 156 does it by default, the flag keeps it so on other builds).
  A frame of another site keeps no unpartitioned cookie, but does keep a `Partitioned` one.
- `frames_keep_no_cookies`: Safari's rule, which keeps none of the framed site's cookies,
  partitioned or not, while that site's own window keeps them. Chromium does this for a cookie
  content-setting exception (primary: the tool's origin, secondary: the course site) written
  into the profile's Preferences before it starts.

Tests that rely on either prove it with a control cookie (tests/support/cookieless.py).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by the project's setup
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NO_THIRD_PARTY_COOKIES = [*ARGS, "--test-third-party-cookie-phaseout"]
BLOCK = 2  # Chromium's CONTENT_SETTING_BLOCK


@contextmanager
def chromium(args: Sequence[str] = ARGS) -> Iterator[Browser]:
    """A headless Chromium, closed afterwards; the test is skipped where none is installed."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(args))
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, width: int | None = None, height: int = 900,
                timeout_ms: int = 60_000) -> BrowserContext:
    """A context that trusts the tests' self-signed certificates."""
    viewport = {"width": width, "height": height} if width else None
    ctx = browser.new_context(ignore_https_errors=True, viewport=viewport)
    ctx.set_default_timeout(timeout_ms)
    return ctx


@contextmanager
def frames_keep_no_cookies(tool_origin: str, course_origin: str,
                           timeout_ms: int = 60_000) -> Iterator[BrowserContext]:
    """A Chromium context that keeps no cookie of `tool_origin` inside pages of
    `course_origin` (Safari inside the LMS's iframe), and keeps them in the tool's own window."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    with tempfile.TemporaryDirectory(prefix="metis-chromium-") as profile:
        preferences = {"profile": {"content_settings": {"exceptions": {"cookies": {
            f"{tool_origin},{course_origin}": {"setting": BLOCK}}}}}}
        (Path(profile) / "Default").mkdir()
        (Path(profile) / "Default" / "Preferences").write_text(json.dumps(preferences))
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=list(NO_THIRD_PARTY_COOKIES),
                ignore_https_errors=True)
            ctx.set_default_timeout(timeout_ms)
            try:
                yield ctx
            finally:
                ctx.close()
