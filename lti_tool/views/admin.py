"""The tool's admin pages (Administrator role).

They are tool-wide on purpose: whoever holds an LMS site-administrator role installed the tool
and manages every registration, so these pages are not filtered by platform.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from lti_tool.extensions import database, redis_client, settings
from lti_tool.lti import keys
from lti_tool.lti.access import require_launch
from lti_tool.lti.roles import Role
from lti_tool.registration import manual, overview, tokens
from lti_tool.registration.tool_urls import tool_urls

log = logging.getLogger("metis.admin")
bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(new_registration_url: str | None = None) -> ResponseReturnValue:
    with database().session() as s:
        platforms = manual.list_platforms(s)
        tool_keys = overview.tool_keys(s)
        models = overview.model_versions(s)
        queues = overview.queue_stats(s, redis_client())
    return render_template(
        "admin/index.html",
        launch_id=g.launch.launch_id,
        platforms=platforms,
        urls=tool_urls(settings()),
        tool_keys=tool_keys,
        models=models,
        queues=queues,
        new_registration_url=new_registration_url,
        registration_ttl_min=settings().registration_url_ttl_s // 60,
    )


def _refuse(reason: str, status: int) -> ResponseReturnValue:
    log.warning("admin action refused: %s", reason)
    return render_template("lti/error.html", reason=reason, detail="", status=status), status


def _back(message: str) -> ResponseReturnValue:
    log.info("admin (launch %s): %s", g.launch.launch_id, message)
    flash(message)
    return redirect(url_for("admin.index", launch_id=g.launch.launch_id), code=303)


@bp.get("/<launch_id>")
@require_launch(Role.admin)
def index(launch_id: str) -> ResponseReturnValue:
    return _page()


@bp.post("/<launch_id>/platforms/<int:platform_id>/<action>")
@require_launch(Role.admin)
def platform_action(launch_id: str, platform_id: int, action: str) -> ResponseReturnValue:
    change = {"approve": manual.approve_platform, "disable": manual.disable_platform}.get(action)
    if change is None:
        return _refuse(f"unknown platform action {action!r}", 404)
    try:
        with database().session() as s:
            change(s, platform_id)
    except manual.ManualRegistrationError as exc:
        return _refuse(str(exc), 404)
    return _back(f"platform {platform_id}: {action}d")


@bp.post("/<launch_id>/platforms/<int:platform_id>/deployments/<action>")
@require_launch(Role.admin)
def deployment_action(launch_id: str, platform_id: int, action: str) -> ResponseReturnValue:
    if action not in ("approve", "disable"):
        return _refuse(f"unknown deployment action {action!r}", 404)
    deployment_id = request.form.get("deployment_id", "")
    try:
        with database().session() as s:
            manual.set_deployment_active(s, platform_id, deployment_id, action == "approve")
    except manual.ManualRegistrationError as exc:
        return _refuse(str(exc), 400)
    return _back(f"deployment {deployment_id} of platform {platform_id}: {action}d")


@bp.post("/<launch_id>/registration-url")
@require_launch(Role.admin)
def registration_url(launch_id: str) -> ResponseReturnValue:
    # Shown once in this response, never stored in the cookie session or the database.
    with database().session() as s:
        raw = tokens.mint(s, settings().registration_url_ttl_s)
    log.info("admin (launch %s): minted a dynamic registration URL", launch_id)
    return _page(new_registration_url=tool_urls(settings()).registration(raw))


@bp.post("/<launch_id>/keys/rotate")
@require_launch(Role.admin)
def rotate_key(launch_id: str) -> ResponseReturnValue:
    with database().session() as s:
        key = keys.rotate(s)
        kid = key.kid
    return _back(f"new signing key {kid}; the previous key stays published for the grace period")
