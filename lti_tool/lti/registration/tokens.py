"""Single-use, expiring dynamic-registration tokens. Only a hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.core.db.models import RegistrationToken


class TokenError(Exception):
    """The registration link cannot be used; `reason` is safe to show to the admin."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def mint(session: Session, ttl_s: int) -> str:
    """Create a token and return its raw value (shown once, never stored)."""
    raw = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        RegistrationToken(
            token_hash=_hash(raw), created_at=now, expires_at=now + timedelta(seconds=ttl_s)
        )
    )
    session.flush()
    return raw


def claim(session: Session, raw: str) -> int:
    """Mark the token used, atomically, and return its row id.

    A conditional UPDATE, so two concurrent requests with the same link cannot both proceed.
    """
    row = session.scalar(
        select(RegistrationToken).where(RegistrationToken.token_hash == _hash(raw))
    )
    if row is None:
        raise TokenError("This registration link is not valid.", 404)
    now = datetime.now(UTC)
    if row.used_at is not None:
        raise TokenError("This registration link was already used; create a new one.", 410)
    if row.expires_at <= now:
        raise TokenError("This registration link has expired; create a new one.", 410)
    result = session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.id == row.id, RegistrationToken.used_at.is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenError("This registration link was already used; create a new one.", 410)
    return row.id


def release(session: Session, token_id: int) -> None:
    """Give a claimed token back after a failure the platform never saw succeed, so the admin
    can retry the same link (it still expires on time)."""
    session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.id == token_id, RegistrationToken.platform_id.is_(None))
        .values(used_at=None)
    )


def attach_platform(session: Session, token_id: int, platform_id: int) -> None:
    session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.id == token_id)
        .values(platform_id=platform_id)
    )
