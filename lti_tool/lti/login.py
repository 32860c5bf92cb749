"""OIDC third-party login initiation: check the platform, remember state+nonce, build the
authentication request URL.

State and nonce live in Redis (any web process can finish the launch) and the state is also
bound to this browser by a cookie, or by the platform's client-side storage when it offers one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Platform, PlatformStatus
from lti_tool.lti.errors import LtiError

STATE_COOKIE_PREFIX = "metis-lti-state-"
LOGIN_PARAMS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
    "lti_storage_target",
)


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


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def start_login(
    params: Mapping[str, str],
    *,
    db: Database,
    redis_client: redis.Redis,
    base_url: str,
    redirect_uri: str,
    ttl_s: int,
) -> LoginStart:
    iss = params.get("iss", "")
    login_hint = params.get("login_hint", "")
    target = params.get("target_link_uri", "")
    if not iss:
        raise LtiError("the login request has no 'iss' (issuer) parameter")
    if not login_hint:
        raise LtiError("the login request has no 'login_hint' parameter")
    if target and not _same_origin(target, base_url):
        raise LtiError(f"target_link_uri {target!r} is not on this tool's domain")
    platform = find_platform(db, iss, params.get("client_id") or None)

    state = secrets.token_urlsafe(24)
    nonce = secrets.token_urlsafe(24)
    storage_target = params.get("lti_storage_target") or None
    record: dict[str, Any] = {
        "nonce": nonce,
        "platform_id": platform.id,
        "storage": bool(storage_target),
        # Kept so the "open in a new window" page can start the same login again.
        "login": {k: params[k] for k in LOGIN_PARAMS if params.get(k)},
    }
    redis_client.set(state_key(state), json.dumps(record), ex=ttl_s)

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
    return LoginStart(
        platform.auth_login_url + sep + urlencode(query), state, nonce, storage_target
    )


def load_state(redis_client: redis.Redis, state: str) -> dict[str, Any]:
    raw = redis_client.get(state_key(state)) if state else None
    if raw is None:
        raise LtiError(
            "state mismatch: the launch's state is unknown or expired "
            "(it does not belong to a login started here)"
        )
    record: dict[str, Any] = json.loads(raw)
    return record
