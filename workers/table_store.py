"""Where each course's online tables live: `meta_engine`'s `TableStore` on Redis.

One hash per (model version, course) holds the summed increments of every table entry
(`kind:key:m`, `:p`, `:n`: mean, precision, answers), because the increments commute and
summing is all a store has to do. Idempotent per grade event: a marker key per applied event
is set with NX in the same Lua script that adds its increments, so a redelivered event, or two
workers on the same course at once, fold an answer in exactly once.

Why Redis and not the database: every graded answer of a course writes the same few entries
(its item, skills, the course bias), which would make a row a write hot spot; and the tables
are in one model version's units, so they simply start again after a promotion. Nothing here
names a person except the markers, which privacy erases by their format.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from lti_tool.core import redis_keys
from meta_engine.model.tables import CourseKey, TableDeltas, TableUpdate

MARKER_TTL_S = 14 * 86400  # far longer than any redelivery window

# KEYS[1]: the course's hash. ARGV: marker ttl, marker prefix, then per event:
# event id, number of updates n, then n triples (field, d_mean, d_precision).
_APPLY = """
local h = KEYS[1]
local ttl = tonumber(ARGV[1])
local prefix = ARGV[2]
local i = 3
local applied = 0
while i <= #ARGV do
  local ev = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  i = i + 2
  if redis.call('SET', prefix .. ev, '1', 'NX', 'EX', ttl) then
    applied = applied + 1
    for j = 0, n - 1 do
      local f = ARGV[i + 3 * j]
      redis.call('HINCRBYFLOAT', h, f .. ':m', ARGV[i + 3 * j + 1])
      redis.call('HINCRBYFLOAT', h, f .. ':p', ARGV[i + 3 * j + 2])
      redis.call('HINCRBY', h, f .. ':n', 1)
    end
  end
  i = i + 3 * n
end
return applied
"""

_SLOT = {"m": 0, "p": 1, "n": 2}


class RedisTableStore:
    """`meta_engine.model.tables.TableStore` for the workers (see the module doc)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._apply = client.register_script(_APPLY)

    @staticmethod
    def _hash(key: CourseKey) -> str:
        return redis_keys.COURSE_TABLES.format(version=key[0], course=key[1])

    @staticmethod
    def _marker_prefix(key: CourseKey) -> str:
        return redis_keys.COURSE_TABLES_EVENT.format(version=key[0], course=key[1], event="")

    def load(self, key: CourseKey) -> TableDeltas:
        out = TableDeltas()
        for raw_field, raw_value in self.client.hgetall(self._hash(key)).items():
            field = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
            kind, entry, slot = field.rsplit(":", 2)
            row = out.entries.setdefault(kind, {}).setdefault(int(entry), [0.0, 0.0, 0.0])
            row[_SLOT[slot]] = float(raw_value)
        return out

    def apply(self, key: CourseKey, updates: Sequence[TableUpdate]) -> int:
        """Add the increments of every event not applied before; returns how many events."""
        by_event: dict[str, list[TableUpdate]] = {}
        for u in updates:
            by_event.setdefault(u.event_id, []).append(u)
        if not by_event:
            return 0
        args: list[str | int] = [MARKER_TTL_S, self._marker_prefix(key)]
        for event_id, rows in by_event.items():
            args += [event_id, len(rows)]
            for u in rows:
                args += [f"{u.kind}:{u.key}", repr(float(u.d_mean)), repr(float(u.d_precision))]
        return int(self._apply(keys=[self._hash(key)], args=args))
