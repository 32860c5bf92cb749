"""The periodic scheduler's heartbeat (Celery beat: the outbox relay, the passback re-sends,
retraining). The scheduler writes it on each pass of its loop (workers.beat); the health page
reads it (lti_tool.core.operations), so a scheduler that died shows as stopped within a minute
instead of leaving answers unrelayed and scores unsent without a word.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from lti_tool.core.redis_keys import BEAT_HEARTBEAT

# The scheduler's loop runs at least this often (workers.main caps beat's loop interval), so
# a heartbeat older than STALE_AFTER_S means three passes were missed: it is not running.
EVERY_S = 10.0
STALE_AFTER_S = 35.0
# Kept well past staleness so the page can say when it was last seen.
TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Heartbeat:
    at: float  # Unix time of the pass
    pid: int
    host: str


def write(client: redis.Redis, pid: int, host: str, now: float | None = None) -> None:
    beat = {"at": time.time() if now is None else now, "pid": pid, "host": host}
    client.set(BEAT_HEARTBEAT, json.dumps(beat), ex=TTL_S)


def read(client: redis.Redis) -> Heartbeat | None:
    """The last heartbeat, or None when there is none (or it is not one of ours)."""
    raw = client.get(BEAT_HEARTBEAT)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Heartbeat(float(data["at"]), int(data["pid"]), str(data["host"]))
    except (ValueError, TypeError, KeyError):
        return None
