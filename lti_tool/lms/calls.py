"""One authorised service call: cached token, one refresh on 401, typed errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lti_tool.lms.services import ServiceContext
from lti_tool.lms.tokens import PermanentServiceError, TransientServiceError
from lti_tool.lti.http import FetchError, Reply, send


def authorised(
    ctx: ServiceContext,
    method: str,
    url: str,
    scopes: Iterable[str],
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Reply:
    """Send with a Bearer token; a 401 drops the cached token and retries exactly once."""
    scopes = sorted(set(scopes))
    reply: Reply | None = None
    for attempt in range(2):
        token = ctx.tokens.get(ctx.registration, scopes, ctx.signer)
        all_headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
        try:
            reply = send(
                method,
                url,
                headers=all_headers,
                timeout_s=ctx.timeout_s,
                max_bytes=ctx.max_bytes,
                **kwargs,
            )
        except FetchError as exc:
            if exc.transient:
                raise TransientServiceError(f"{method} {url}: {exc}") from exc
            raise PermanentServiceError(f"{method} {url}: {exc}") from exc
        if reply.status != 401 or attempt == 1:
            break
        ctx.tokens.invalidate(ctx.registration, scopes)
    assert reply is not None
    return reply
