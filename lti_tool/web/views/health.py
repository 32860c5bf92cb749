"""Liveness and readiness for process managers and the admin pages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from lti_tool.core import operations
from lti_tool.web.extensions import database, redis_client

bp = Blueprint("health", __name__)


def _workers() -> dict[str, Any]:
    """How many worker processes have their model loaded, and which models: what decides
    whether the next set can be planned now. Counted apart from `checks` on purpose: the web
    process is healthy without a worker (answers wait in the queue), so a process manager must
    not restart it for that. Worker names (host:pid) stay off this unauthenticated page."""
    readiness = operations.worker_readiness(redis_client())
    if not readiness.reachable:
        return {"ready": None, "models": []}
    return {"ready": len(readiness.workers),
            "models": sorted({w.model for w in readiness.workers})}


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    checks: dict[str, str] = {}
    try:
        with database().session() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a health probe
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    workers = _workers() if checks["redis"] == "ok" else {"ready": None, "models": []}
    return jsonify(status="ok" if ok else "degraded", checks=checks, workers=workers), \
        200 if ok else 503
