"""Each student's resume point in a course (meta_engine.model.resume) on Redis, so that an
adapt step reads only the answers after it instead of the student's whole history.

A cache, never the truth: the point says which stored answers it summarises (every answer of
the student in the course up to answer id `upto`, `n` of them), and it is used only while the
database still holds exactly those `n` (an erased or late-committed answer makes it stale);
otherwise, or when Redis fails, the whole history is read as before. Kept 30 days after its
last move; erased with the person (lti_tool.core.privacy).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.core import redis_keys
from lti_tool.core.db.models import Activity, Answer

log = logging.getLogger("metis.resume")

TTL_S = 30 * 86400


@dataclass(frozen=True)
class StoredPoint:
    upto: int  # the last answer id it summarises
    n: int  # how many answers it summarises
    point: dict[str, Any]  # ResumePoint.to_dict()


def answers_upto(session: Session, user_id: int, context_id: int, upto: int) -> int:
    """How many of the student's answers in the course have an id up to `upto`."""
    return int(session.scalar(
        select(func.count()).select_from(Answer)
        .join(Activity, Activity.id == Answer.activity_id)
        .where(Answer.user_id == user_id, Activity.context_id == context_id,
               Answer.id <= upto)) or 0)


def read(client: redis.Redis | None, session: Session, user_id: int, context_id: int,
         before_answer: int) -> StoredPoint | None:
    """The student's point, if it still summarises exactly the stored answers it names and
    lies before answer `before_answer`; else None (read the whole history)."""
    if client is None:
        return None
    try:
        raw = client.get(redis_keys.resume_point(user_id, context_id))
    except redis.RedisError as exc:
        log.warning("resume point not read (%s): reading the whole history", exc)
        return None
    if raw is None:
        return None
    try:
        d = json.loads(raw)
        stored = StoredPoint(int(d["upto"]), int(d["n"]), dict(d["point"]))
    except (ValueError, KeyError, TypeError):
        return None
    if stored.upto >= before_answer or stored.n <= 0:
        return None
    if answers_upto(session, user_id, context_id, stored.upto) != stored.n:
        return None
    return stored


def write(client: redis.Redis | None, user_id: int, context_id: int, stored: StoredPoint
          ) -> None:
    """Keep the newer point (by `upto`): two events of one student may finish out of order."""
    if client is None:
        return
    key = redis_keys.resume_point(user_id, context_id)
    try:
        old = client.get(key)
        if old is not None and int(json.loads(old).get("upto", 0)) >= stored.upto:
            return
        client.set(key, json.dumps({"upto": stored.upto, "n": stored.n,
                                    "point": stored.point}), ex=TTL_S)
    except (redis.RedisError, ValueError) as exc:
        log.warning("resume point not stored (%s): the next step reads more answers", exc)
