"""The Instructor's content selection page (deep linking request) and its signed answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool.extensions import database, redis_client, settings
from lti_tool.lti import claims as C
from lti_tool.lti.access import require_launch
from lti_tool.lti.deep_linking import (
    DEMO_BANK_NAME,
    DeepLinkFormError,
    banks_for,
    create_activity,
    parse_form,
    response_jwt,
)
from lti_tool.lti.redis_storage import RedisLaunchDataStorage
from lti_tool.lti.roles import Role

bp = Blueprint("deep_link", __name__)


def _claims(launch_id: str) -> dict[str, Any] | None:
    storage = RedisLaunchDataStorage(redis_client(), settings().launch_ttl_s)
    claims = storage.get_value(launch_id)
    return claims if isinstance(claims, dict) else None


def _page(error: str = "", form: dict[str, str] | None = None, status: int = 200) -> Any:
    launch = g.launch
    with database().session() as s:
        banks = [(b.id, b.name) for b in banks_for(s, launch.platform_id, launch.context_id)]
    banks = [(i, n) for i, n in banks if n != DEMO_BANK_NAME]
    return (
        render_template(
            "lti/deep_link.html",
            launch_id=launch.launch_id,
            banks=banks,
            error=error,
            form=form or {"title": "", "points": "10", "bank": "demo"},
        ),
        status,
    )


def _usable(launch_id: str) -> tuple[dict[str, Any] | None, str]:
    launch = g.launch
    if launch.message_type != C.DEEP_LINKING_REQUEST or launch.context_id is None:
        return None, "This launch is not a content selection (deep linking) request."
    claims = _claims(launch_id)
    if claims is None:
        return None, "This content selection has expired; start it again from your course."
    return claims, ""


@bp.get("/lti/deep-link/<launch_id>")
@require_launch(Role.instructor)
def select_content(launch_id: str) -> ResponseReturnValue:
    claims, problem = _usable(launch_id)
    if claims is None:
        return render_template("lti/error.html", reason=problem, detail="", status=400), 400
    return _page()


@bp.post("/lti/deep-link/<launch_id>")
@require_launch(Role.instructor)
def answer_content(launch_id: str) -> ResponseReturnValue:
    claims, problem = _usable(launch_id)
    if claims is None:
        return render_template("lti/error.html", reason=problem, detail="", status=400), 400
    launch = g.launch
    form = {k: str(request.form.get(k, "")) for k in ("title", "points", "bank")}
    try:
        choice = parse_form(form)
        with database().session() as s:
            activity = create_activity(s, launch.platform_id, launch.context_id, choice)
            token = response_jwt(
                s,
                platform_id=launch.platform_id,
                deployment_id=str(claims[C.DEPLOYMENT_ID]),
                settings_claim=claims[C.DL_SETTINGS],
                activity=activity,
                launch_url=settings().base_url.rstrip("/") + "/lti/launch",
            )
    except DeepLinkFormError as exc:
        return _page(str(exc), form, 400)
    return render_template(
        "lti/autopost.html",
        title="Adding the activity to your course…",
        action=claims[C.DL_SETTINGS]["deep_link_return_url"],
        fields={"JWT": token},
    )
