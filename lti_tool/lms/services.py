"""Build service clients from the database, for web views and Celery workers alike."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from lti_tool.core.db import Database
from lti_tool.core.db.models import Platform
from lti_tool.lms.tokens import ServiceRegistration, TokenCache, ToolSigner
from lti_tool.lti import keys
from lti_tool.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    registration: ServiceRegistration
    tokens: TokenCache
    signer: ToolSigner
    timeout_s: float
    max_bytes: int


def service_context(
    db: Database, redis_client: redis.Redis, settings: Settings, platform_id: int
) -> ServiceContext:
    """Everything an AGS/NRPS call needs for one platform; the newest tool key signs."""
    with db.session() as s:
        platform = s.get(Platform, platform_id)
        if platform is None:
            raise LookupError(f"platform {platform_id} does not exist")
        reg = ServiceRegistration(
            issuer=platform.issuer,
            client_id=platform.client_id,
            token_url=platform.auth_token_url,
            audience=platform.auth_audience,
        )
        key = keys.signing_key(s)
    return ServiceContext(
        registration=reg,
        tokens=TokenCache(
            redis_client,
            timeout_s=settings.outbound_timeout_s,
            max_bytes=settings.outbound_max_bytes,
        ),
        signer=ToolSigner(key.kid, key.private_pem),
        timeout_s=settings.outbound_timeout_s,
        max_bytes=settings.outbound_max_bytes,
    )
