"""The periodic reconciliation: read recent scores back from the LMS and repair mismatches.

A score is in the gradebook only when the LMS's own result matches it. Each run takes at most
`BATCH` rows sent in the last `RECENT` (those never checked first, then the longest unchecked),
reads each line item's results once, and per row:
- the result matches: "verified";
- it does not: the score is sent again (the row goes back to "pending" and its id is returned
  for a passback task), at most `MAX_REPAIRS` times per score; after that it stays "mismatch"
  for the teacher to see (their "resend" counts the repairs afresh);
- the results cannot be read: the row keeps its status, marked checked so the next run moves on.
Every update is conditional on the row still holding the score that was read, so a run that
overlaps a delivery or another run changes nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update

from lti_tool.core.db import Database
from lti_tool.core.db.models import (
    Activity,
    PassbackStatus,
    ResourceLink,
    ScorePassback,
    User,
)
from lti_tool.core.gradebook.records import matches
from lti_tool.lms.ags import Result
from lti_tool.lms.tokens import ServiceError

log = logging.getLogger("metis.reconcile")

RECENT = timedelta(days=14)
BATCH = 200
MAX_REPAIRS = 3
# A verified score is read again at most this often; a "sent" or "mismatch" one sooner.
RECHECK_VERIFIED = timedelta(hours=6)
RECHECK_UNSETTLED = timedelta(minutes=5)
CHECKED = (PassbackStatus.sent, PassbackStatus.verified, PassbackStatus.mismatch)


class ResultReader(Protocol):
    def read_all_results(self, platform_id: int, lineitem_url: str) -> dict[str, Result]:
        """Every user's result on the line item; raise ServiceError on failure."""


@dataclass(frozen=True)
class Due:
    passback_id: int
    platform_id: int
    lineitem_url: str
    user_sub: str
    event_id: str | None
    sent_timestamp: datetime | None
    score_given: float
    score_maximum: float
    repairs: int


@dataclass
class Report:
    checked: int = 0
    verified: int = 0
    mismatched: int = 0
    unreadable: int = 0
    resend: list[int] = field(default_factory=list)  # ScorePassback ids to send again


def due(db: Database, *, now: datetime, limit: int = BATCH) -> list[Due]:
    """The rows to read back now, those never checked first."""
    with db.session() as s:
        rows = s.execute(
            select(ScorePassback, User.sub, Activity.platform_id, ResourceLink.lineitem_url)
            .join(User, User.id == ScorePassback.user_id)
            .join(Activity, Activity.id == ScorePassback.activity_id)
            .join(ResourceLink, ResourceLink.id == ScorePassback.resource_link_id)
            .where(
                ScorePassback.status.in_(CHECKED),
                ScorePassback.sent_at >= now - RECENT,
                ResourceLink.lineitem_url.is_not(None),
                or_(
                    ScorePassback.checked_at.is_(None),
                    (ScorePassback.status == PassbackStatus.verified)
                    & (ScorePassback.checked_at < now - RECHECK_VERIFIED),
                    (ScorePassback.status != PassbackStatus.verified)
                    & (ScorePassback.checked_at < now - RECHECK_UNSETTLED),
                ),
            )
            .order_by(ScorePassback.checked_at.is_not(None), ScorePassback.checked_at,
                      ScorePassback.id)
            .limit(limit)
        ).all()
        return [Due(pb.id, platform_id, str(url), sub, pb.event_id, pb.sent_timestamp,
                    pb.score_given, pb.score_maximum, pb.repairs)
                for pb, sub, platform_id, url in rows]


def _update(db: Database, row: Due, **values: object) -> bool:
    with db.session() as s:
        done = s.execute(
            update(ScorePassback)
            .where(ScorePassback.id == row.passback_id,
                   ScorePassback.event_id == row.event_id,
                   ScorePassback.sent_timestamp.is_(None) if row.sent_timestamp is None
                   else ScorePassback.sent_timestamp == row.sent_timestamp,
                   ScorePassback.status.in_(CHECKED))
            .values(**values)
        )
        return bool(getattr(done, "rowcount", 0))


def reconcile(db: Database, reader: ResultReader, *, now: datetime | None = None,
              limit: int = BATCH) -> Report:
    """One bounded run (see the module docstring). The caller sends `Report.resend`."""
    now = now or datetime.now(UTC)
    report = Report()
    by_lineitem: dict[tuple[int, str], list[Due]] = defaultdict(list)
    for row in due(db, now=now, limit=limit):
        by_lineitem[(row.platform_id, row.lineitem_url)].append(row)
    for (platform_id, lineitem_url), rows in by_lineitem.items():
        try:
            results = reader.read_all_results(platform_id, lineitem_url)
        except ServiceError as exc:
            log.info("results of %s could not be read: %s", lineitem_url, exc)
            for row in rows:
                if _update(db, row, checked_at=now):
                    report.unreadable += 1
            continue
        for row in rows:
            report.checked += 1
            _settle(db, row, results.get(row.user_sub), now, report)
    if report.checked or report.unreadable:
        log.info("reconciled %d scores: %d verified, %d mismatched, %d sent again, "
                 "%d unreadable", report.checked, report.verified, report.mismatched,
                 len(report.resend), report.unreadable)
    return report


def _settle(db: Database, row: Due, held: Result | None, now: datetime, report: Report) -> None:
    fraction = held.fraction if held is not None else None
    points = None if fraction is None else fraction * row.score_maximum
    if matches(fraction, row.score_given, row.score_maximum):
        if _update(db, row, status=PassbackStatus.verified, checked_at=now, verified_at=now,
                   lms_score=points, last_error=None):
            report.verified += 1
        return
    held_text = "no grade" if points is None else f"{points:g} of {row.score_maximum:g}"
    if row.repairs < MAX_REPAIRS:
        if _update(db, row, status=PassbackStatus.pending, checked_at=now, lms_score=points,
                   repairs=row.repairs + 1, attempts=0,
                   last_error=f"the LMS held {held_text}; sent again"):
            report.resend.append(row.passback_id)
        return
    if _update(db, row, status=PassbackStatus.mismatch, checked_at=now, lms_score=points,
               last_error=f"the LMS holds {held_text}, not {row.score_given:g}, after "
                          f"{MAX_REPAIRS} automatic resends"):
        report.mismatched += 1
