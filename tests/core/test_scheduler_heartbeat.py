"""The scheduler's heartbeat as the health page reads it: running, stopped, never, unknown."""

from __future__ import annotations

import time

import redis

from lti_tool.core import operations, scheduler_heartbeat
from lti_tool.core.redis_keys import BEAT_HEARTBEAT


def test_the_heartbeat_says_running_until_it_is_stale(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert operations.scheduler_status(client).state == "never"
    scheduler_heartbeat.write(client, 4242, "worker-1", now=1_000.0)
    stale = scheduler_heartbeat.STALE_AFTER_S
    fresh = operations.scheduler_status(client, now=1_000.0 + stale)
    assert (fresh.state, fresh.pid, fresh.host) == ("running", 4242, "worker-1")
    gone = operations.scheduler_status(client, now=1_000.0 + stale + 1)
    assert gone.state == "stopped" and gone.age_s == stale + 1
    assert gone.last_seen is not None and gone.last_seen.timestamp() == 1_000.0
    # A heartbeat outlives its staleness by far, so the page can say when it was last seen.
    scheduler_heartbeat.write(client, 1, "h")
    assert client.ttl(BEAT_HEARTBEAT) > 24 * 3600
    assert operations.scheduler_status(client, now=time.time()).state == "running"


def test_a_foreign_value_or_no_redis_is_not_a_heartbeat(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.set(BEAT_HEARTBEAT, "not json")
    assert operations.scheduler_status(client).state == "never"
    down = operations.probe_client("redis://127.0.0.1:1/0")
    assert operations.scheduler_status(down).state == "unknown"
