"""OIDC third-party login initiation: check the platform and the fields, remember state+nonce,
build the authentication request URL.

State and nonce live in Redis (any web process can finish the launch) and the state is also
bound to this browser by a cookie, or by the platform's client-side storage when it offers one.
The authentication request is not sent until the browser has shown it keeps that cookie (or
the storage has taken the state): Moodle accepts a login's `lti_message_hint` once, so a login
that could not finish must be started again before the hint reaches the platform, not after.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Platform, PlatformStatus
from lti_tool.lti.errors import LtiError
from lti_tool.lti.fields import LOGIN_LIMITS, check_sizes

STATE_COOKIE_PREFIX = "metis-lti-state-"
# What the login keeps (and what the "open in a new window" page sends again): nothing else of
# the request is stored, and each of these is bounded by LOGIN_LIMITS.
LOGIN_PARAMS = tuple(LOGIN_LIMITS)


@dataclass(frozen=True)
class LoginStart:
    auth_url: str
    state: str
    nonce: str
    storage_target: str | None


def state_key(state: str) -> str:
    return f"metis:lti:state:{state}"


def find_platform(db: Database, iss: str, client_id: str | None) -> Platform:
    """The active registration for (iss, client_id), or an LtiError naming what is wrong."""
    with db.session() as s:
        rows = list(s.scalars(select(Platform).where(Platform.issuer == iss)))
    if not rows:
        raise LtiError(f"unknown issuer {iss!r}: this platform is not registered with Metis")
    if client_id:
        rows = [p for p in rows if p.client_id == client_id]
        if not rows:
            raise LtiError(f"unknown client_id {client_id!r} for issuer {iss!r}")
    elif len(rows) > 1:
        raise LtiError("this issuer has several registrations; the login must carry client_id")
    platform = rows[0]
    if platform.status != PlatformStatus.active:
        raise LtiError(
            f"the registration for {iss!r} is {platform.status.value}, not active",
            status=403,
            detail=f"An administrator must approve it: metis platform approve {platform.id}",
        )
    return platform


def is_own_target(url: str, targets: Iterable[str]) -> bool:
    """True when `url` is one of Metis's launch URLs (scheme, host, port and path; a query
    string is the platform's business). Userinfo or another port makes it another URL."""
    parts = urlsplit(url)
    found = (parts.scheme.lower(), parts.netloc.lower(), parts.path)
    return any(
        found == (own.scheme.lower(), own.netloc.lower(), own.path)
        for own in map(urlsplit, targets)
    )


def start_login(
    params: Mapping[str, str],
    *,
    db: Database,
    redis_client: redis.Redis,
    targets: tuple[str, ...],
    redirect_uri: str,
    ttl_s: int,
) -> LoginStart:
    check_sizes(params, LOGIN_LIMITS, "login request")
    iss = params.get("iss", "")
    login_hint = params.get("login_hint", "")
    target = params.get("target_link_uri", "")
    if not iss:
        raise LtiError("the login request has no 'iss' (issuer) parameter")
    if not login_hint:
        raise LtiError("the login request has no 'login_hint' parameter")
    if target and not is_own_target(target, targets):
        raise LtiError(f"target_link_uri {target!r} is not on this tool's domain")
    platform = find_platform(db, iss, params.get("client_id") or None)

    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    storage_target = params.get("lti_storage_target") or None
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "nonce": nonce,
        "login_hint": login_hint,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    sep = "&" if urlsplit(platform.auth_login_url).query else "?"
    auth_url = platform.auth_login_url + sep + urlencode(query)
    record: dict[str, Any] = {
        "nonce": nonce,
        "platform_id": platform.id,
        "storage": bool(storage_target),
        # Kept so that the login can go on once the browser proved it keeps the cookie, or be
        # started again in a new window when it does not.
        "auth_url": auth_url,
        "login": {k: params[k] for k in LOGIN_PARAMS if params.get(k)},
    }
    redis_client.set(state_key(state), json.dumps(record), ex=ttl_s)
    return LoginStart(auth_url, state, nonce, storage_target)


def load_state(redis_client: redis.Redis, state: str) -> dict[str, Any]:
    return state_record(redis_client.get(state_key(state)) if state else None)


def state_record(raw: bytes | str | None) -> dict[str, Any]:
    """The login's stored record, from what Redis held under its `state_key` (None: none)."""
    if raw is None:
        raise LtiError(
            "state mismatch: the launch's state is unknown or expired "
            "(it does not belong to a login started here)"
        )
    record: dict[str, Any] = json.loads(raw)
    return record


def forget_state(redis_client: redis.Redis, state: str) -> None:
    """A login that cannot finish in this browser: its state will never be used."""
    redis_client.delete(state_key(state))
