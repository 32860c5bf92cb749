"""Cross-cutting web security for the LTI pages: CSRF, frame-ancestors, the referrer policy,
access logs without credentials (lti_tool.web.access_log), refusal pages."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select

from lti_tool.core.db.models import Platform, PlatformStatus
from lti_tool.lti.errors import LtiError
from lti_tool.web import access_log, page_token
from lti_tool.web.extensions import database, settings

log = logging.getLogger("metis.lti")
_ORIGINS_TTL_S = 30.0


class LaunchCSRFProtect(CSRFProtect):
    """Flask-WTF's check (its token lives in the session, so it needs the cookie), or else a
    valid page token for the launch in the URL, sent in the form body or the `X-Metis-Launch`
    header: no other site can know it, so the request came from that launch's own page."""

    def protect(self, apply_exemptions: bool = False) -> None:
        try:
            super().protect(apply_exemptions=apply_exemptions)
        except CSRFError:
            if not page_token.in_body_or_header():
                raise
            g.csrf_valid = True


def csrf(app: Flask) -> CSRFProtect:
    """The app's CSRFProtect (one per app); other blueprints use it to exempt their endpoints."""
    existing = app.extensions.get("csrf")
    if isinstance(existing, CSRFProtect):
        return existing
    protect = LaunchCSRFProtect()
    protect.init_app(app)
    return protect


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def platform_origins(app: Flask) -> list[str]:
    """Origins of active platforms (issuer and login URL), cached briefly per process."""
    cached = app.extensions.get("metis.frame_origins")
    if cached and cached[0] > time.monotonic():
        return list(cached[1])
    with database().session() as s:
        rows = s.execute(
            select(Platform.issuer, Platform.auth_login_url).where(
                Platform.status == PlatformStatus.active
            )
        ).all()
    origins = sorted({o for row in rows for o in map(_origin, row) if o})
    app.extensions["metis.frame_origins"] = (time.monotonic() + _ORIGINS_TTL_S, origins)
    return origins


def forget_platform_origins(app: Flask) -> None:
    app.extensions.pop("metis.frame_origins", None)


def _security_headers(response: Response) -> Response:
    from flask import current_app

    if "Content-Security-Policy" not in response.headers:
        sources = " ".join(["'self'", *platform_origins(current_app)])
        response.headers["Content-Security-Policy"] = f"frame-ancestors {sources}"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Page URLs carry the launch's page token: no other site may see them as a Referer.
    # Same-origin requests keep it (Flask-WTF's HTTPS check wants a same-origin Referer).
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def refusal(error: LtiError) -> tuple[str, int]:
    """The page and log line for a refused login/launch."""
    log.warning("LTI request refused (%s %s): %s", request.method, request.path, error.reason)
    page = render_template(
        "lti/error.html", reason=error.reason, detail=error.detail, status=error.status
    )
    return page, error.status


def require_https() -> None:
    if not request.is_secure and not settings().allow_insecure_http:
        raise LtiError("plain HTTP refused: LTI login and launch must use HTTPS", status=403)


def _csrf_refused(error: CSRFError) -> tuple[str, int]:
    return refusal(
        LtiError(f"the form could not be verified ({error.description}); reload the page and retry")
    )


def init_security(app: Flask) -> None:
    csrf(app)
    app.register_error_handler(CSRFError, _csrf_refused)
    app.after_request(_security_headers)
    access_log.redact_loggers()
