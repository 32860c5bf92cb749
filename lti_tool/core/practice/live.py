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


# Set and notify only when the payload is not older than the cached one (by the answer its
# feedback is as of): two workers finishing a student's answers out of order must not put an
# older set back on the page.
_PUBLISH_IF_NEWER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and tonumber(old['as_of_answer']) ~= nil
     and tonumber(old['as_of_answer']) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 1
"""


def publish(client: redis.Redis, user_id: int, activity_id: int, payload: dict[str, Any],
            as_of_answer: int) -> bool:
    """Cache the set, then notify, in one round trip, unless the cache already holds one as
    of a later answer (`as_of_answer`: the answer the payload's feedback is as of, also kept
    in the payload). Returns whether it went."""
    body = json.dumps({**payload, "as_of_answer": int(as_of_answer)}, separators=(",", ":"))
    script = client.register_script(_PUBLISH_IF_NEWER)
    return bool(script(keys=[cache_key(user_id, activity_id)],
                       args=[body, int(as_of_answer), CACHE_TTL_S,
                             channel(user_id, activity_id)]))


def read(client: redis.Redis, user_id: int, activity_id: int) -> dict[str, Any] | None:
    raw = client.get(cache_key(user_id, activity_id))
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None
