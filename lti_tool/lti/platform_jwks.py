"""Platform public keys, cached per platform in Redis, refetched once when a `kid` is unknown.

Platforms such as D2L rotate keys often, so a fixed TTL alone would reject fresh launches; a
refetch per unknown kid (at most one per launch) keeps both freshness and bounded load.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from jwcrypto.jwk import JWK

from lti_tool.lti.errors import LtiError
from lti_tool.lti.http import FetchError, send


class PlatformKeys:
    def __init__(
        self, redis_client: redis.Redis, *, ttl_s: int, timeout_s: float, max_bytes: int
    ) -> None:
        self.redis = redis_client
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    @staticmethod
    def _cache_key(platform_id: int) -> str:
        return f"metis:platform-jwks:{platform_id}"

    def _fetch(self, platform_id: int, url: str) -> list[dict[str, Any]]:
        try:
            reply = send("GET", url, timeout_s=self.timeout_s, max_bytes=self.max_bytes)
            if reply.status != 200:
                raise FetchError(f"HTTP {reply.status}", transient=reply.status >= 500)
            data = reply.json()
        except FetchError as exc:
            raise LtiError(f"the platform's public keys could not be fetched ({exc})") from exc
        keys = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys, list):
            raise LtiError("the platform's key set URL did not return a JWKS")
        self.redis.set(self._cache_key(platform_id), json.dumps(keys), ex=self.ttl_s)
        return [k for k in keys if isinstance(k, dict)]

    def _cached(self, platform_id: int) -> list[dict[str, Any]] | None:
        raw = self.redis.get(self._cache_key(platform_id))
        return json.loads(raw) if raw else None

    def public_pem(self, platform_id: int, url: str, kid: str) -> bytes:
        """The PEM public key for `kid`; LtiError("unknown kid") after one refetch."""
        keys = self._cached(platform_id)
        found = _find(keys or [], kid)
        if found is None:
            found = _find(self._fetch(platform_id, url), kid)
        if found is None:
            raise LtiError(f"the token's signing key (kid {kid!r}) is not in the platform's JWKS")
        try:
            pem: bytes = JWK.from_json(json.dumps(found)).export_to_pem()
        except (ValueError, TypeError) as exc:
            raise LtiError("the platform's key could not be read as an RSA key") from exc
        return pem

    def forget(self, platform_id: int) -> None:
        self.redis.delete(self._cache_key(platform_id))


def _find(keys: list[dict[str, Any]], kid: str) -> dict[str, Any] | None:
    for key in keys:
        if key.get("kid") == kid and key.get("kty") == "RSA":
            return key
    return None
