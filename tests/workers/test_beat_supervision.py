"""The periodic scheduler under supervision, with a real worker running it (`--beat`): killed,
the worker says so in its log and starts it again; stopped, the health page says so."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from lti_tool.core import scheduler_heartbeat
from lti_tool.core.scheduler_heartbeat import Heartbeat
from tests.support.admin import make_admin
from tests.support.lti_world import LtiWorld
from tests.support.worker import WorkerProcess, worker_env

T = TypeVar("T")
WAIT_S = 90.0  # generous: the machine is shared; each wait ends as soon as its condition holds


def _wait(what: str, found: Callable[[], T | None], log: Path) -> T:
    deadline = time.monotonic() + WAIT_S
    while (value := found()) is None:
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)
    return value


def _scheduler(html: str) -> str:
    return html.split('id="scheduler-h"')[1].split("</section>")[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_killed_beat_is_restarted_and_a_stopped_one_shown_stopped(
    lti_world: LtiWorld, database_url: str, redis_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = make_admin(lti_world, "local")
    client = redis.Redis.from_url(redis_url)
    log = tmp_path / "worker.log"
    assert "No scheduler has run" in _scheduler(admin.page("/health"))
    with WorkerProcess(worker_env(database_url, redis_url, tmp_path), log, beat=True) as worker:
        first: Heartbeat = _wait("a first heartbeat",
                                 lambda: scheduler_heartbeat.read(client), log)
        assert first.pid in worker.children()  # beat runs as a child of the worker
        assert "Running: last heartbeat" in _scheduler(admin.page("/health"))

        os.kill(first.pid, signal.SIGKILL)
        second: Heartbeat = _wait(
            "a heartbeat from a new beat",
            lambda: (hb if (hb := scheduler_heartbeat.read(client)) and hb.pid != first.pid
                     else None), log)
        text = log.read_text(errors="replace")
        assert f"the beat scheduler (pid {first.pid}) exited with code -9" in text
        assert f"beat scheduler restarted as pid {second.pid}" in text
        assert second.pid in worker.children()
        page = _scheduler(admin.page("/health"))
        assert "Running" in page and f"process {second.pid}" in page

    # The worker (and its beat) stopped: once the heartbeat is older than the page allows
    # (lowered here from 35 s so the test need not wait that long), it says so.
    monkeypatch.setattr(scheduler_heartbeat, "STALE_AFTER_S", 1.0)
    stopped = _wait("the page saying stopped",
                    lambda: (p if "Stopped: no heartbeat" in (p := _scheduler(
                        admin.page("/health"))) else None), log)
    assert f"process {second.pid}" in stopped and "metis worker --beat" in stopped
