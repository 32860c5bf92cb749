"""The tool's RSA signing keys: created on first use, rotated on demand, published as a JWKS.

Retired keys stay published for `key_grace_period_s` so that a platform that cached our JWKS, or
a JWT signed just before a rotation, still verifies.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db.models import KeyStatus, ToolKey


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str


def _new_key() -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = uuid.uuid4().hex
    jwk = json.loads(JWK.from_pem(pem.encode()).export_public())
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return ToolKey(kid=kid, private_pem=pem, public_jwk=jwk, status=KeyStatus.active)


def _active_keys(session: Session) -> list[ToolKey]:
    stmt = (
        select(ToolKey)
        .where(ToolKey.status == KeyStatus.active)
        .order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    )
    return list(session.scalars(stmt))


def signing_key(session: Session) -> SigningKey:
    """The newest active key, creating the first one when the table is empty."""
    keys = _active_keys(session)
    if not keys:
        key = _new_key()
        session.add(key)
        session.flush()
        keys = [key]
    return SigningKey(kid=keys[0].kid, private_pem=keys[0].private_pem)


def rotate(session: Session) -> ToolKey:
    """Make a new active key and retire the previous active ones (still published for a while)."""
    now = datetime.now(UTC)
    for old in _active_keys(session):
        old.status = KeyStatus.retired
        old.retired_at = now
    key = _new_key()
    key.created_at = now
    session.add(key)
    session.flush()
    return key


def published_keys(session: Session, grace_period_s: int) -> list[ToolKey]:
    signing_key(session)
    cutoff = datetime.now(UTC) - timedelta(seconds=grace_period_s)
    keys = []
    for key in session.scalars(select(ToolKey).order_by(ToolKey.id)):
        if key.status == KeyStatus.active or (
            key.retired_at is not None and key.retired_at >= cutoff
        ):
            keys.append(key)
    return keys


def jwks(session: Session, grace_period_s: int) -> dict[str, Any]:
    return {"keys": [dict(k.public_jwk) for k in published_keys(session, grace_period_s)]}


def all_keys(session: Session) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).order_by(ToolKey.id)))
