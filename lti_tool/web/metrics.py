"""`GET /metrics`: Prometheus's text exposition, for a scraper holding METIS_METRICS_TOKEN.

A scraper has no LTI launch nor admin session, so the endpoint is bound to a Bearer token of
its own. Without a token configured it does not exist (404), so that an install that never
set one exposes nothing. What it answers: this process's own metrics (prometheus-client's
process-wide registry) and the numbers of the admin pages (lti_tool.core.metrics).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from lti_tool.core import metrics, operations
from lti_tool.web.extensions import database, settings

bp = Blueprint("metrics", __name__)

REGISTRY_KEY = "metis.metrics_registry"


def _registry() -> CollectorRegistry:
    """The app's registry of the pages' numbers, made on first scrape (a probe Redis client:
    short timeouts, no retries, so a Redis that is down does not hold the scrape)."""
    app: Any = current_app
    reg = app.extensions.get(REGISTRY_KEY)
    if reg is None:
        probe = operations.probe_client(settings().effective_redis_url)
        reg = metrics.registry(database(), probe)
        app.extensions[REGISTRY_KEY] = reg
    return reg


def _text(body: str | bytes, status: int) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    # Never framed; set here, so the app-wide header hook does not read the platforms from the
    # database for it (a scrape must still answer while the database is down).
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


def _refuse(reason: str, status: int) -> Response:
    response = _text(reason + "\n", status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metis-metrics"'
    return response


@bp.get("/metrics")
def metrics_page() -> Response:
    expected = settings().metrics_token
    if not expected:
        abort(404)
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _refuse("/metrics needs 'Authorization: Bearer <METIS_METRICS_TOKEN>'.", 401)
    # Constant time: the comparison must not tell a guesser how much of the token was right.
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return _refuse("The metrics token is not the one configured (METIS_METRICS_TOKEN).", 403)
    body = generate_latest(REGISTRY) + generate_latest(_registry())
    response = _text(body, 200)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
