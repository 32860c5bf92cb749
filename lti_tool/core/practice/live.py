"""Where the current practice set of a student in an activity lives in Redis, and the pub/sub
channel that tells open pages a new one is there. Shared by the workers (writers) and the web
app (readers); plain Redis calls only."""

from __future__ import annotations

import json
from typing import Any

import redis

from lti_tool.core import redis_keys

CACHE_TTL_S = 24 * 3600


def cache_key(user_id: int, activity_id: int) -> str:
    return redis_keys.practice_set(user_id, activity_id)


def channel(user_id: int, activity_id: int) -> str:
    return redis_keys.practice_updates(user_id, activity_id)


def publish(client: redis.Redis, user_id: int, activity_id: int, payload: dict[str, Any]) -> None:
    """Cache the set, then notify; both in one round trip."""
    body = json.dumps(payload, separators=(",", ":"))
    pipe = client.pipeline(transaction=False)
    pipe.set(cache_key(user_id, activity_id), body, ex=CACHE_TTL_S)
    pipe.publish(channel(user_id, activity_id), body)
    pipe.execute()


def read(client: redis.Redis, user_id: int, activity_id: int) -> dict[str, Any] | None:
    raw = client.get(cache_key(user_id, activity_id))
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None
