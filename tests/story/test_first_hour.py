"""An admin's and a teacher's first hour, in headless Chromium (docs/moodle.md is their guide,
and its screenshots come from here):

1. the LMS's registration dialog shows Metis's page, which stays until the admin has read the
   two Moodle steps left and clicks;
2. the admin pages list the platform as active, and make a registration URL;
3. a teacher with only the demo bank uploads their own on the content selection page;
4. with names not shared, the class roster says "Student 101 (name not shared by the LMS)";
5. the health page shows the scheduler of a worker running with --beat.

Screenshots go to $METIS_DOC_IMG (default test-artifacts/first-hour/); `docs/img/` holds the
ones docs/moodle.md shows, made small with ImageMagick (see the end of docs/moodle.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import FrameLocator, Locator, Page

from lti_tool.lti.registration import tokens
from tests.support.bank_samples import SAMPLES
from tests.support.browser import chromium, new_context
from tests.support.https import HttpsServer
from tests.support.lti_world import LtiWorld
from tests.support.registration_platform import PlatformState, create_platform_app
from tests.support.worker import WorkerProcess, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def shots() -> Path:
    path = Path(os.environ.get("METIS_DOC_IMG")
                or Path(__file__).resolve().parents[2] / "test-artifacts" / "first-hour")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def page(lti_world: LtiWorld) -> Iterator[Page]:
    with chromium() as browser:
        yield new_context(browser, width=1000, height=800).new_page()


@pytest.fixture()
def moodle(lti_world: LtiWorld, tmp_path: Path) -> Iterator[PlatformState]:
    """A platform that registers tools as Moodle does, on the LTI world's certificate (which
    Metis's outbound calls trust), with Metis allowed to reach it on 127.0.0.1."""
    state = PlatformState()
    server = HttpsServer(create_platform_app(state), tmp_path / "certs").start()
    state.base_url = server.url
    app = lti_world.app
    app.extensions["metis.settings"] = lti_world.settings.model_copy(
        update={"allow_loopback_platforms": True})
    yield state
    server.stop()


def _shot(target: Locator | Page, name: str) -> None:
    target.screenshot(path=str(shots() / name))


def _frame_shot(page: Page, focus: Locator, name: str) -> None:
    """The Metis frame as the user sees it, scrolled to `focus` (for parts that never settle
    for an element screenshot, such as a table in its own scroll box)."""
    page.locator("iframe[name=tool]").evaluate("e => e.scrollIntoView()")
    focus.evaluate("e => e.scrollIntoView()")
    page.screenshot(path=str(shots() / name))


def _tool(page: Page, world: LtiWorld, row: str, button: str) -> FrameLocator:
    page.goto(world.platform.url + "/")
    page.locator("tr", has_text=row).get_by_role("button", name=button).click()
    return page.frame_locator("iframe[name=tool]")


def test_an_admins_and_a_teachers_first_hour(lti_world: LtiWorld, moodle: PlatformState,
                                             page: Page, tmp_path: Path) -> None:
    world = lti_world
    # 1. Moodle's "Add LTI Advantage" dialog with the URL an admin made.
    with world.db.session() as s:
        raw = tokens.mint(s, 3600)
    page.goto(f"{moodle.base_url}/admin/tool/dialog?"
              + urlencode({"url": f"{world.metis.url}/lti/register/{raw}"}))
    dialog = page.frame_locator("#registration")
    dialog.locator("#close-dialog[data-ready='1']").wait_for()
    dialog.get_by_role("heading", name="Two steps left in Moodle").wait_for()
    _shot(page.locator("#registration"), "moodle-registration.png")
    dialog.get_by_role("button", name="I have read this: close the dialog").click()
    page.wait_for_function("document.body.dataset.closed === '1'")

    # 2. The admin pages: the new platform is active; another registration URL on request.
    world.store.add_link("Week 1 practice", score_maximum=10)
    tool = _tool(page, world, "Week 1 practice", "Admin pages (Sam Admin)")
    active = tool.locator("section", has=tool.get_by_role("heading", name="Active (2)"))
    active.get_by_text("moodle 127.0.0.1").first.wait_for()
    tool.get_by_role("button", name="Create a registration URL").click()
    tool.get_by_label("New registration URL (shown once)").wait_for()
    register = tool.locator("section", has=tool.get_by_role(
        "heading", name="Register Metis in an LMS"))
    _frame_shot(page, register, "admin-registration-url.png")

    # 3. A first-time teacher: only the demo bank, so they upload theirs on the same page.
    page.goto(world.platform.url + "/")
    page.get_by_role("button", name="Add a Metis activity").click()
    tool = page.frame_locator("iframe[name=tool]")
    tool.get_by_text("Only the demo questions so far?").wait_for()
    upload = tool.locator("section.bank-upload")
    upload.get_by_label("File", exact=True).set_input_files(str(SAMPLES / "sample-moodle.xml"))
    upload.get_by_label("Bank", exact=True).fill("Week 1 questions")
    _shot(upload, "deep-link-upload-form.png")
    upload.get_by_role("button", name="Upload questions").click()
    imported = tool.locator("section", has=tool.get_by_role("heading",
                                                            name="Questions imported"))
    imported.wait_for()
    assert "5 new questions" in " ".join(imported.inner_text().split())
    assert tool.get_by_label("Item bank").locator("option:checked").inner_text() == \
        "Week 1 questions"
    _shot(imported, "deep-link-imported.png")

    # 4. The LMS shares no names: the roster says whose row it is, and why there is no name.
    world.store.share_names = False
    tool = _tool(page, world, "Week 1 practice", "Teacher tools (Tess Teacher)")
    students = tool.locator("section", has=tool.get_by_role("heading",
                                                            name="Students and gradebook"))
    students.get_by_text("Student 101 (name not shared by the LMS)").wait_for()
    _frame_shot(page, students, "roster-no-names.png")

    # 5. A worker with the scheduler: the health page shows it running.
    env = worker_env(world.settings.effective_database_url, world.settings.redis_url, tmp_path)
    with WorkerProcess(env, tmp_path / "worker.log", beat=True):
        tool = _tool(page, world, "Week 1 practice", "Admin pages (Sam Admin)")
        tool.get_by_role("link", name="Queues and workers").click()
        scheduler = tool.locator("section", has=tool.get_by_role("heading", name="Scheduler"))
        # Reloaded until the first heartbeat is in (it comes within seconds of the start).
        deadline = time.monotonic() + 90
        while "Running: last heartbeat" not in scheduler.inner_text():
            assert time.monotonic() < deadline, scheduler.inner_text()
            tool.get_by_role("link", name="Queues and workers").click()
            scheduler.wait_for()
        _shot(scheduler, "health-scheduler.png")
