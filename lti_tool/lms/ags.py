"""Assignment and Grade Services: post a score (Moodle's rules), read results back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lti_tool.lms.calls import authorised
from lti_tool.lms.services import ServiceContext
from lti_tool.lms.tokens import PermanentServiceError, error_for_status
from lti_tool.lti import claims as C

SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
RESULTS_ACCEPT = "application/vnd.ims.lis.v2.resultcontainer+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"


class ScoreOutcome(Enum):
    accepted = "accepted"
    # 409: the platform's grade has a newer (or equal) time than this score's timestamp. Not
    # success: Moodle compares with the time it *processed* its grade, so the result must be
    # read back to know whether it holds this score (workers.passback does).
    refused_not_newer = "refused_not_newer"


@dataclass(frozen=True)
class Score:
    user_id: str
    score_given: float
    score_maximum: float
    timestamp: datetime
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.timestamp.tzinfo is None:
            raise ValueError("score timestamps must be timezone-aware")
        body: dict[str, Any] = {
            "userId": self.user_id,
            "scoreGiven": self.score_given,
            "scoreMaximum": self.score_maximum,
            "timestamp": self.timestamp.isoformat(timespec="milliseconds"),
            "activityProgress": "Completed",
            "gradingProgress": "FullyGraded",
        }
        if self.comment:
            body["comment"] = self.comment
        return body


def service_url(lineitem_url: str, suffix: str) -> str:
    """`<lineitem>/scores` with the line item's query string kept (Moodle needs it)."""
    parts = urlsplit(lineitem_url)
    path = parts.path.rstrip("/") + "/" + suffix
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def post_score(ctx: ServiceContext, lineitem_url: str, score: Score) -> ScoreOutcome:
    reply = authorised(
        ctx,
        "POST",
        service_url(lineitem_url, "scores"),
        [C.SCOPE_SCORE],
        headers={"Content-Type": SCORE_CONTENT_TYPE},
        data=_json_bytes(score.to_json()),
    )
    if reply.status in (200, 201, 202, 204):
        return ScoreOutcome.accepted
    if reply.status == 409:
        return ScoreOutcome.refused_not_newer
    raise error_for_status(reply.status, "score refused")


def read_results(
    ctx: ServiceContext, lineitem_url: str, user_id: str | None = None
) -> list[dict[str, Any]]:
    url = service_url(lineitem_url, "results")
    params = {"user_id": user_id} if user_id else None
    reply = authorised(
        ctx,
        "GET",
        url,
        [C.SCOPE_RESULT_READONLY],
        headers={"Accept": RESULTS_ACCEPT},
        params=params,
    )
    if reply.status != 200:
        raise error_for_status(reply.status, "results refused")
    body = reply.json()
    if not isinstance(body, list):
        raise PermanentServiceError("results endpoint did not answer a list")
    return [r for r in body if isinstance(r, dict)]


@dataclass(frozen=True)
class Result:
    """One user's grade as the platform's results service reports it."""

    user_id: str
    score: float | None  # resultScore; None: no grade
    maximum: float | None  # resultMaximum
    timestamp: datetime | None  # when the platform stored it (Moodle: when it processed it)

    @property
    def fraction(self) -> float | None:
        if self.score is None:
            return None
        maximum = self.maximum if self.maximum is not None else 1.0
        return self.score / maximum if maximum > 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None


def parse_result(entry: dict[str, Any]) -> Result:
    """A result container entry; fields the platform left out (Moodle lists an ungraded user
    with only `id` and `userId`) or sent malformed read as missing."""
    return Result(str(entry.get("userId", "")), _number(entry.get("resultScore")),
                  _number(entry.get("resultMaximum")), _time(entry.get("timestamp")))


def read_result(ctx: ServiceContext, lineitem_url: str, user_id: str) -> Result | None:
    """The user's result on the line item, or None when the platform holds none."""
    for entry in read_results(ctx, lineitem_url, user_id):
        result = parse_result(entry)
        if result.user_id == user_id:
            return result
    return None


def read_all_results(ctx: ServiceContext, lineitem_url: str) -> dict[str, Result]:
    """Every user's result on the line item, by user id (one request per line item)."""
    results = (parse_result(e) for e in read_results(ctx, lineitem_url))
    return {r.user_id: r for r in results if r.user_id}


def update_lineitem(
    ctx: ServiceContext,
    lineitem_url: str,
    *,
    label: str,
    score_maximum: float,
    end_date_time: str | None,
) -> dict[str, Any]:
    """Change a line item's label, maximum and end date; returns the line item as stored.

    A PUT replaces the whole line item, so the current one is read first and sent back with
    only these fields changed (its resourceLinkId, tag and the platform's own fields survive).
    Needs the "lineitem" scope (column management); raises a ServiceError when refused.
    """
    reply = authorised(ctx, "GET", lineitem_url, [C.SCOPE_LINEITEM],
                       headers={"Accept": LINEITEM_TYPE})
    if reply.status != 200:
        raise error_for_status(reply.status, "line item could not be read")
    current = reply.json()
    if not isinstance(current, dict):
        raise PermanentServiceError("line item endpoint did not answer an object")
    body = {**current, "label": label, "scoreMaximum": score_maximum}
    if end_date_time:
        body["endDateTime"] = end_date_time
    else:
        body.pop("endDateTime", None)
    reply = authorised(
        ctx,
        "PUT",
        lineitem_url,
        [C.SCOPE_LINEITEM],
        headers={"Content-Type": LINEITEM_TYPE, "Accept": LINEITEM_TYPE},
        data=_json_bytes(body),
    )
    if reply.status not in (200, 201, 204):
        raise error_for_status(reply.status, "line item update refused")
    if reply.status == 204 or not reply.body:
        return body
    stored = reply.json()
    return stored if isinstance(stored, dict) else body


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()
