"""The Redis keys that name a person or one of their grade events, in one place.

Their writers (the practice cache, the roster cache, the launch-data storage, the adapt batch
claims, the worker's stage timings, the students' resume points and the courses' online
tables) build their keys here, and `lti_tool.core.privacy` erases by the same formats, so an
erasure cannot miss a copy because a writer changed its key.
"""

from __future__ import annotations

PRACTICE_SET = "metis:practice:{user}:{activity}"  # the student's current set (JSON)
PRACTICE_UPDATES = "metis:practice-updates:{user}:{activity}"  # pub/sub channel
ROSTER = "metis:roster:{platform}:{context}"  # the NRPS roster (names, emails), cached briefly
LAUNCH_DATA_PREFIX = "metis:lti1p3:"  # pylti1p3's stored launch: the id_token claims
ADAPT_CLAIM = "metis:adapt-claim:{event}"  # which adapt task took the event
TIMINGS = "metis:timings:{event}"  # where the worker's time went for the event
# A course's online table deltas, in one model version's units (no person), and the marker
# "this grade event's updates were applied" (names an event, so privacy erases it).
COURSE_TABLES = "metis:tables:{version}:{course}"
COURSE_TABLES_EVENT = "metis:tables-applied:{version}:{course}:{event}"
# A student's earlier answers in a course, summarised (meta_engine.model.resume), so the
# worker reads only the answers after them; a cache: without it the whole history is read.
RESUME_POINT = "metis:resume:v1:{user}:{context}"
BEAT_HEARTBEAT = "metis:beat:heartbeat"  # the periodic scheduler's last pass (no person)
WORKER_READY = "metis:worker-ready:{name}"  # a worker process with its model loaded (no person)


def practice_set(user_id: int, activity_id: int) -> str:
    return PRACTICE_SET.format(user=user_id, activity=activity_id)


def resume_point(user_id: int, context_id: int) -> str:
    return RESUME_POINT.format(user=user_id, context=context_id)


def practice_updates(user_id: int, activity_id: int) -> str:
    return PRACTICE_UPDATES.format(user=user_id, activity=activity_id)


def launch_data(key: str) -> str:
    """The key of one stored launch, as pylti1p3's storage contract builds it: the storage
    prefixes the key it is given unless the key already carries the prefix, then the store adds
    its prefix once more."""
    inner = key if key.startswith(LAUNCH_DATA_PREFIX) else LAUNCH_DATA_PREFIX + key
    return LAUNCH_DATA_PREFIX + inner
