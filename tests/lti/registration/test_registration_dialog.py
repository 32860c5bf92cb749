"""In a browser: the LMS's registration dialog stays open on Metis's page until the admin has
read the two Moodle steps and clicks; then Metis posts the close signal and the dialog goes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from lti_tool.core.db import Database
from lti_tool.lti.registration import tokens
from lti_tool.settings import Settings
from lti_tool.web.app import create_app
from tests.support.browser import chromium, new_context
from tests.support.https import HttpsServer
from tests.support.registration_platform import PlatformState

pytestmark = pytest.mark.browser


@pytest.fixture()
def metis(settings: Settings, tmp_path: Path) -> Iterator[HttpsServer]:
    app = create_app(settings)
    server = HttpsServer(app, tmp_path / "metis-cert").start()
    yield server
    server.stop()
    app.extensions["metis.db"].dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dialog_closes_when_the_admin_clicks_not_when_the_page_loads(
    metis: HttpsServer, platform: PlatformState, db: Database
) -> None:
    with db.session() as s:
        raw = tokens.mint(s, 3600)
    dialog = f"{platform.base_url}/admin/tool/dialog?" + urlencode(
        {"url": f"{metis.url}/lti/register/{raw}"})
    with chromium() as browser:
        page = new_context(browser).new_page()
        page.goto(dialog)
        frame = page.frame_locator("#registration")
        # The page has loaded and its script is wired up, and the dialog is still there.
        frame.locator("#close-dialog[data-ready='1']").wait_for()
        assert page.locator("#registration").count() == 1
        assert page.evaluate("document.body.dataset.closed") is None
        steps = frame.locator("ol.steps").inner_text()
        assert "Activate" in steps and "Tool configuration usage" in steps
        frame.locator("#close-dialog").click()
        page.wait_for_function("document.body.dataset.closed === '1'")
        assert page.locator("#registration").count() == 0
