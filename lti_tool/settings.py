"""Metis settings: read from `METIS_*` environment variables and validated once at start-up.

Nothing here runs at import time; `load_settings()` is called by the app factory, the CLI and
the Celery app, and a bad or missing value stops start-up with a message that names it.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where Redis listens when METIS_REDIS_URL is not set (demo and development machines).
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class SettingsError(RuntimeError):
    """Start-up configuration is invalid; the message names the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METIS_", extra="ignore")

    # "demo" runs everything embedded (SQLite, a Redis it starts itself, generated secrets).
    mode: Literal["demo", "production", "test"] = "production"
    secret_key: str = ""
    base_url: str = "https://localhost:8443"
    database_url: str = ""
    redis_url: str = ""
    data_dir: Path = Path("var")
    # Plain HTTP for login/launch only in an explicit dev setting (state cookies need HTTPS).
    allow_insecure_http: bool = False
    # Dynamic registration may talk to loopback platforms over HTTP only in dev/test.
    allow_loopback_platforms: bool = False

    jwt_leeway_s: int = Field(45, ge=30, le=60)
    id_token_max_age_s: int = Field(300, ge=60, le=3600)
    nonce_ttl_s: int = Field(600, ge=60)
    launch_ttl_s: int = Field(8 * 3600, ge=600)
    platform_jwks_ttl_s: int = Field(3600, ge=60)
    outbound_timeout_s: float = Field(5.0, gt=0, le=60)
    outbound_max_bytes: int = Field(1_000_000, ge=10_000)
    registration_url_ttl_s: int = Field(3600, ge=60)
    key_grace_period_s: int = Field(7 * 24 * 3600, ge=0)

    model_dir: Path | None = None
    worker_device: Literal["auto", "cpu", "cuda"] = "auto"
    adapt_batch_max: int = Field(64, ge=1, le=4096)
    adapt_batch_wait_ms: float = Field(5.0, ge=0, le=100)

    # The Bearer token a Prometheus scraper sends to /metrics; empty: /metrics answers 404.
    metrics_token: str = ""
    # First port of the workers' own metrics (process n of a worker listens on port + n); 0: off.
    worker_metrics_port: int = Field(0, ge=0, le=65535)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        scheme = urlsplit(self.base_url).scheme
        if scheme not in ("https", "http"):
            raise ValueError("METIS_BASE_URL must be an http(s) URL")
        if scheme == "http" and not self.allow_insecure_http:
            raise ValueError(
                "METIS_BASE_URL is plain HTTP; LTI launches need HTTPS "
                "(set METIS_ALLOW_INSECURE_HTTP=1 only for local development)"
            )
        if self.mode == "production":
            missing = [
                name
                for name, value in (
                    ("METIS_SECRET_KEY", self.secret_key),
                    ("METIS_DATABASE_URL", self.database_url),
                    ("METIS_REDIS_URL", self.redis_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"missing required setting(s): {', '.join(missing)}")
        return self

    @cached_property
    def effective_secret_key(self) -> str:
        # Demo/test runs get a random per-process key rather than a guessable constant.
        return self.secret_key or secrets.token_urlsafe(32)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'metis.db').resolve()}"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or DEFAULT_REDIS_URL

    @property
    def is_demo(self) -> bool:
        return self.mode == "demo"


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings from the environment (plus explicit overrides)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"METIS_{loc.upper()}" if loc else "settings"
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
