"""The periodic scheduler (Celery beat) under supervision.

`metis worker --beat` embeds beat as a child process of the worker. Left to Celery, a beat
that dies (killed, out of memory) stays dead without a log line, and with it the outbox relay
and the passback re-sends. Two things change that:

- `HeartbeatScheduler` writes a heartbeat to Redis on every pass of beat's loop
  (lti_tool.core.scheduler_heartbeat), which the admin health page reads: a scheduler that
  stopped shows as stopped within a minute, whatever stopped it.
- `BeatSupervisor`, a worker bootstep, looks at the embedded beat every few seconds; when it
  has exited it says so in the worker's log and starts a new one, up to MAX_RESTARTS an hour
  (a beat that keeps dying is left stopped, and the page says so).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from typing import Any

import redis
from celery import bootsteps
from celery.beat import EmbeddedService, PersistentScheduler
from celery.worker import state as worker_state

from lti_tool.core import scheduler_heartbeat
from lti_tool.settings import load_settings

log = logging.getLogger("metis.beat")

CHECK_EVERY_S = 3.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 3600.0
# The heartbeat is written at most this often (beat may pass through its loop more often).
WRITE_EVERY_S = 5.0


class HeartbeatScheduler(PersistentScheduler):
    """Celery's persistent scheduler, writing the heartbeat after each pass of its loop."""

    _client: redis.Redis | None = None
    _last_write = float("-inf")

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval: float = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last_write >= WRITE_EVERY_S:
            self._last_write = now
            self._write_heartbeat()
        return interval

    def _write_heartbeat(self) -> None:
        try:
            if self._client is None:
                # Made in the beat process itself (it is forked from the worker).
                self._client = redis.Redis.from_url(
                    load_settings().effective_redis_url, socket_timeout=2,
                    socket_connect_timeout=2)
            scheduler_heartbeat.write(self._client, os.getpid(), socket.gethostname())
        except redis.RedisError as exc:
            # The schedule goes on; the page shows the heartbeat as stale until Redis is back.
            log.warning("beat heartbeat not written: %s", exc)


class BeatSupervisor(bootsteps.StartStopStep):
    """Restart the worker's embedded beat when it has exited (enabled with --beat)."""

    label = "Beat supervisor"
    conditional = True
    requires = ("celery.worker.components:Beat", "celery.worker.components:Timer")

    def __init__(self, w: Any, beat: bool = False, **kwargs: Any) -> None:
        self.enabled = bool(beat)
        self.restarts: deque[float] = deque()
        self.replacement: Any = None
        self.gave_up = False
        self._entry: Any = None
        super().__init__(w, **kwargs)

    def start(self, w: Any) -> None:
        self._entry = w.timer.call_repeatedly(CHECK_EVERY_S, self.check, (w,), priority=10)

    def stop(self, w: Any) -> None:
        if self._entry is not None:
            self._entry.cancel()
        # Celery's Beat step stops the beat it started; a replacement is ours to stop.
        if self.replacement is not None and self.replacement.is_alive():
            self.replacement.stop()

    def check(self, w: Any) -> None:
        beat = w.beat
        if beat is None or self.gave_up or worker_state.should_stop is not None \
                or worker_state.should_terminate is not None:
            return
        if beat.is_alive() and _exists(beat.pid):
            return
        log.error("the beat scheduler (pid %s) exited with code %s: periodic jobs (outbox "
                  "relay, passback re-sends) are not running", beat.pid, beat.exitcode)
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW_S:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            self.gave_up = True
            log.error("beat exited %s times within an hour: not restarting it again; the "
                      "admin health page shows the scheduler stopped", len(self.restarts))
            return
        self.restarts.append(now)
        fresh = EmbeddedService(w.app, schedule_filename=w.schedule_filename,
                                scheduler_cls=w.scheduler)
        fresh.start()
        w.beat = self.replacement = fresh
        log.warning("beat scheduler restarted as pid %s (restart %s in the last hour)",
                    fresh.pid, len(self.restarts))


def _exists(pid: int | None) -> bool:
    """Whether the process exists, for a child that something else may have reaped already
    (is_alive() cannot tell then)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
