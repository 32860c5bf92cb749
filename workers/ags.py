"""Posting a score with LTI Advantage AGS from a worker: a client-credentials token (cached in
Redis per issuer, client and scope, shared by all worker processes) and the score POST.

Until the shared AGS client in lti_tool.lms lands, this is the worker's own small poster; it
speaks only through lti_tool.lms.http.send (bounded time and size).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import redis

from lti_tool.db import Database
from lti_tool.db.models import Platform
from lti_tool.lms.http import FetchError, send
from lti_tool.lti.keys import signing_key
from workers.passback import PassbackError, classify

if TYPE_CHECKING:
    from workers.runtime import Runtime

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
TOKEN_MARGIN_S = 60


def scores_url(lineitem_url: str) -> str:
    """`<lineitem>/scores`, keeping the line item's query string after the path."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


class AgsPoster:
    def __init__(self, db: Database, client: redis.Redis, *, timeout_s: float, max_bytes: int):
        self.db = db
        self.redis = client
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    def _platform(self, platform_id: int) -> tuple[str, str, str, str, str, str]:
        with self.db.session() as s:
            p = s.get(Platform, platform_id)
            if p is None:
                raise PassbackError("the platform is no longer registered", transient=False)
            key = signing_key(s)
            audience = p.auth_audience or p.auth_token_url
            return p.issuer, p.client_id, p.auth_token_url, audience, key.kid, key.private_pem

    def token(self, platform_id: int, *, fresh: bool = False) -> str:
        issuer, client_id, token_url, audience, kid, pem = self._platform(platform_id)
        cache = f"metis:ags-token:{issuer}|{client_id}|{SCORE_SCOPE}"
        if not fresh:
            cached = self.redis.get(cache)
            if cached:
                return cached.decode() if isinstance(cached, bytes) else str(cached)
        now = int(time.time())
        assertion = jwt.encode(
            {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 300,
             "jti": uuid.uuid4().hex},
            pem, algorithm="RS256", headers={"kid": kid},
        )
        try:
            reply = send(
                "POST", token_url, timeout_s=self.timeout_s, max_bytes=self.max_bytes,
                data={
                    "grant_type": "client_credentials",
                    "client_assertion_type":
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion,
                    "scope": SCORE_SCOPE,
                },
            )
        except FetchError as exc:
            raise PassbackError(str(exc), transient=exc.transient) from exc
        problem = classify(reply.status)
        if problem is not None:
            problem.args = (f"token endpoint answered {reply.status}",)
            raise problem
        body: dict[str, Any] = reply.json()
        token = str(body["access_token"])
        ttl = int(body.get("expires_in", 3600)) - TOKEN_MARGIN_S
        if ttl > 0:
            self.redis.set(cache, token, ex=ttl)
        return token

    def post_score(self, platform_id: int, lineitem_url: str, score: dict[str, Any]) -> None:
        for fresh in (False, True):
            token = self.token(platform_id, fresh=fresh)
            try:
                reply = send(
                    "POST", scores_url(lineitem_url), timeout_s=self.timeout_s,
                    max_bytes=self.max_bytes, json=score,
                    headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE},
                )
            except FetchError as exc:
                raise PassbackError(str(exc), transient=exc.transient) from exc
            if reply.status == 401 and not fresh:
                continue  # the cached token was revoked or expired early: fetch one once more
            problem = classify(reply.status)
            if problem is not None:
                raise problem
            return


def make_poster(rt: Runtime) -> AgsPoster:
    return AgsPoster(rt.db, rt.redis, timeout_s=rt.settings.outbound_timeout_s,
                     max_bytes=rt.settings.outbound_max_bytes)
