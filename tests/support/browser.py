"""Headless Chromium for the page tests: where it is, how it starts, one context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by the project's setup
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Chrome's third-party cookie "phase-out" mode: the browser the cookie-free pages are for.
NO_THIRD_PARTY_COOKIES = [*ARGS, "--test-third-party-cookie-phaseout"]


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
                timeout_ms: int = 15_000) -> BrowserContext:
    """A context that trusts the tests' self-signed certificates."""
    viewport = {"width": width, "height": height} if width else None
    ctx = browser.new_context(ignore_https_errors=True, viewport=viewport)
    ctx.set_default_timeout(timeout_ms)
    return ctx
