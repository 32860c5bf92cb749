"""OAuth2 client-credentials tokens for LTI Advantage services, cached in Redis.

One token per (issuer, client_id, sorted scopes): several schools can share an issuer, so the
client_id is part of the key. Kept until shortly before `expires_in`.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import jwt
import redis

from lti_tool.lti.http import FetchError, send

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Refresh this long before the platform's expiry so a token never dies mid-request.
EXPIRY_MARGIN_S = 60


class ServiceError(Exception):
    """A call to an LMS service failed. `transient` says whether retrying can help."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class TransientServiceError(ServiceError):
    """5xx, 429, timeout or connection failure: retry later with backoff."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, transient=True)


class PermanentServiceError(ServiceError):
    """Any other 4xx, or an unusable answer: retrying the same request will not help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, transient=False)


def error_for_status(status: int, what: str) -> ServiceError:
    if status >= 500 or status == 429:
        return TransientServiceError(f"{what}: HTTP {status}", status=status)
    return PermanentServiceError(f"{what}: HTTP {status}", status=status)


@dataclass(frozen=True)
class ServiceRegistration:
    """What a token request needs: taken from the Platform row, usable without Flask."""

    issuer: str
    client_id: str
    token_url: str
    audience: str | None = None


@dataclass(frozen=True)
class ToolSigner:
    kid: str
    private_pem: str


class TokenCache:
    def __init__(self, redis_client: redis.Redis, *, timeout_s: float, max_bytes: int) -> None:
        self.redis = redis_client
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    @staticmethod
    def cache_key(reg: ServiceRegistration, scopes: Iterable[str]) -> str:
        raw = json.dumps([reg.issuer, reg.client_id, sorted(set(scopes))])
        return "metis:lms-token:" + hashlib.sha256(raw.encode()).hexdigest()

    def get(self, reg: ServiceRegistration, scopes: Iterable[str], signer: ToolSigner) -> str:
        scopes = sorted(set(scopes))
        key = self.cache_key(reg, scopes)
        cached = self.redis.get(key)
        if cached:
            return cached.decode() if isinstance(cached, bytes) else str(cached)
        token, expires_in = self._request(reg, scopes, signer)
        ttl = max(1, expires_in - EXPIRY_MARGIN_S)
        self.redis.set(key, token, ex=ttl)
        return token

    def invalidate(self, reg: ServiceRegistration, scopes: Iterable[str]) -> None:
        self.redis.delete(self.cache_key(reg, scopes))

    def _request(
        self, reg: ServiceRegistration, scopes: list[str], signer: ToolSigner
    ) -> tuple[str, int]:
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": reg.client_id,
                "sub": reg.client_id,
                "aud": reg.audience or reg.token_url,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            signer.private_pem,
            algorithm="RS256",
            headers={"kid": signer.kid},
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": " ".join(scopes),
        }
        try:
            reply = send(
                "POST",
                reg.token_url,
                data=form,
                timeout_s=self.timeout_s,
                max_bytes=self.max_bytes,
            )
        except FetchError as exc:
            if exc.transient:
                raise TransientServiceError(f"token request failed: {exc}") from exc
            raise PermanentServiceError(f"token request failed: {exc}") from exc
        if reply.status != 200:
            raise error_for_status(reply.status, "token request refused")
        try:
            body = reply.json()
        except FetchError as exc:
            raise PermanentServiceError("token endpoint did not answer JSON") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PermanentServiceError("token endpoint answered without an access_token")
        try:
            expires_in = int(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            expires_in = 3600
        return token, expires_in
