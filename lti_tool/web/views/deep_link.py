"""The Instructor's content selection page (deep linking request) and its signed answer, and
the activity settings page that edits the same settings later. Thin: the logic is in
lti_tool.core.activities, lti_tool.core.activity_store and lti_tool.lti.deep_linking."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from lti_tool.core.activities import (
    GRADING_POLICIES,
    ActivitySettings,
    SettingsInvalid,
    blank_form,
    from_activity,
    parse_form,
    raw_form,
)
from lti_tool.core.activity_store import (
    bank_options,
    create_activity,
    is_demo_bank,
    resolve_bank,
)
from lti_tool.core.db.models import Activity, ResourceLink
from lti_tool.core.itembank import FORMATS
from lti_tool.lms import ags
from lti_tool.lms.services import service_context
from lti_tool.lms.tokens import ServiceError
from lti_tool.lti import claims as C
from lti_tool.lti.deep_linking import response_jwt
from lti_tool.lti.redis_storage import RedisLaunchDataStorage
from lti_tool.lti.roles import Role
from lti_tool.web.access import require_launch
from lti_tool.web.extensions import database, redis_client, settings
from lti_tool.web.security import csrf
from lti_tool.web.views.banks import MAX_MB, UploadRefused, receive_upload

log = logging.getLogger("metis.activity")
bp = Blueprint("deep_link", __name__)


def _claims(launch_id: str) -> dict[str, Any] | None:
    storage = RedisLaunchDataStorage(redis_client(), settings().launch_ttl_s)
    claims = storage.get_value(launch_id)
    return claims if isinstance(claims, dict) else None


def _form_page(
    template: str,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
    **extra: Any,
) -> ResponseReturnValue:
    launch = g.launch
    with database().session() as s:
        banks = bank_options(s, launch.platform_id, launch.context_id)
    return (
        render_template(
            template,
            launch_id=launch.launch_id,
            banks=banks,
            policies=GRADING_POLICIES,
            errors=errors or {},
            form=form,
            formats=FORMATS,
            max_mb=MAX_MB,
            **extra,
        ),
        status,
    )


def _usable(launch_id: str) -> dict[str, Any]:
    """The deep-linking request's claims; a 400 page (lti_tool.web.errors) when there are none."""
    launch = g.launch
    if launch.message_type != C.DEEP_LINKING_REQUEST or launch.context_id is None:
        abort(400, "This launch is not a content selection (deep linking) request.")
    claims = _claims(launch_id)
    if claims is None:
        abort(400, "This content selection has expired; start it again from your course.")
    return claims


@bp.get("/lti/deep-link/<launch_id>")
@require_launch(Role.instructor)
def select_content(launch_id: str) -> ResponseReturnValue:
    _usable(launch_id)  # refuses (400) a launch that cannot select content
    return _form_page("lti/deep_link.html", blank_form())


@bp.record_once
def _setup(state: Any) -> None:
    # The upload checks CSRF itself once it has raised the request size limit (as the bank
    # page's upload does: lti_tool.web.views.banks.receive_upload).
    csrf(state.app).exempt(upload_bank)


@bp.post("/lti/deep-link/<launch_id>/bank")
@require_launch(Role.instructor)
def upload_bank(launch_id: str) -> ResponseReturnValue:
    """A first-time teacher has no bank but the demo one: they upload theirs here, and the
    content selection page comes back with it chosen."""
    _usable(launch_id)
    launch = g.launch
    try:
        imported = receive_upload(launch.platform_id, launch.context_id)
    except UploadRefused as exc:
        return _form_page("lti/deep_link.html", blank_form(), status=exc.status,
                          upload_error=exc.reason)
    form = {**blank_form(), "bank": str(imported.report.bank_id)}
    return _form_page("lti/deep_link.html", form, imported=imported)


@bp.post("/lti/deep-link/<launch_id>")
@require_launch(Role.instructor)
def answer_content(launch_id: str) -> ResponseReturnValue:
    claims = _usable(launch_id)
    launch = g.launch
    try:
        choice = parse_form(request.form)
        with database().session() as s:
            activity = create_activity(s, launch.platform_id, launch.context_id, choice)
            token = response_jwt(
                s,
                platform_id=launch.platform_id,
                deployment_id=str(claims[C.DEPLOYMENT_ID]),
                settings_claim=claims[C.DL_SETTINGS],
                activity=activity,
                choice=choice,
                launch_url=settings().base_url.rstrip("/") + "/lti/launch",
            )
    except SettingsInvalid as exc:  # the session rolled back: nothing was created
        return _form_page("lti/deep_link.html", raw_form(request.form), exc.errors, 400)
    return render_template(
        "lti/autopost.html",
        title="Adding the activity to your course…",
        action=claims[C.DL_SETTINGS]["deep_link_return_url"],
        fields={"JWT": token},
    )


NO_ACTIVITY = "this link in your course has no Metis practice activity to change"


def _linked_activity_id() -> int | None:
    """The activity of the launch's resource link, in the launch's course."""
    launch = g.launch
    if launch.resource_link_id is None or launch.context_id is None:
        return None
    with database().session() as s:
        link = s.get(ResourceLink, launch.resource_link_id)
        activity = s.get(Activity, link.activity_id) if link and link.activity_id else None
        if (
            activity is None
            or activity.platform_id != launch.platform_id
            or activity.context_id != launch.context_id
        ):
            return None
        return activity.id


def _not_found() -> ResponseReturnValue:
    return render_template("lti/error.html", reason=NO_ACTIVITY, detail="", status=404), 404


def _current(activity_id: int) -> ActivitySettings:
    with database().session() as s:
        activity = s.get(Activity, activity_id)
        assert activity is not None
        return from_activity(activity, demo=is_demo_bank(s, activity.bank_id))


@bp.get("/teacher/<launch_id>/activity")
@require_launch(Role.instructor)
def activity_settings(launch_id: str) -> ResponseReturnValue:
    activity_id = _linked_activity_id()
    if activity_id is None:
        return _not_found()
    return _form_page(
        "teacher/activity_settings.html",
        _current(activity_id).form_values(),
        notices=get_flashed_messages(with_categories=True),
    )


@bp.post("/teacher/<launch_id>/activity")
@require_launch(Role.instructor)
def save_activity_settings(launch_id: str) -> ResponseReturnValue:
    launch = g.launch
    activity_id = _linked_activity_id()
    if activity_id is None:
        return _not_found()
    before = _current(activity_id)
    try:
        choice = parse_form(request.form)
        with database().session() as s:
            bank = resolve_bank(s, launch.platform_id, launch.context_id, choice)
            activity = s.get(Activity, activity_id)
            assert activity is not None
            choice.apply_to(activity, bank.id)
            link = s.get(ResourceLink, launch.resource_link_id)
            lineitem_url = link.lineitem_url if link else None
    except SettingsInvalid as exc:
        return _form_page("teacher/activity_settings.html", raw_form(request.form), exc.errors,
                          400, notices=[])
    flash("Your settings were saved.", "ok")
    if lineitem_url and choice.gradebook_fields() != before.gradebook_fields():
        problem = _update_gradebook_column(launch.platform_id, lineitem_url, choice)
        if problem:
            flash(
                "The gradebook column in your course could not be updated "
                f"({problem}). Change its name, maximum points or due date in the LMS.",
                "error",
            )
        else:
            flash("The gradebook column in your course was updated too.", "ok")
    return redirect(url_for("deep_link.activity_settings", launch_id=launch_id), code=303)


def _update_gradebook_column(platform_id: int, lineitem_url: str,
                             choice: ActivitySettings) -> str | None:
    """PUT the new title, points and due date on the LMS line item; the reason on failure.
    The settings are saved either way: the LMS being down must not lose the teacher's work."""
    try:
        ctx = service_context(database(), redis_client(), settings(), platform_id)
        ags.update_lineitem(
            ctx,
            lineitem_url,
            label=choice.title,
            score_maximum=choice.points,
            end_date_time=choice.end_date_time,
        )
    except (ServiceError, LookupError) as exc:
        log.warning("line item update failed for platform %s: %s", platform_id, exc)
        status = getattr(exc, "status", None)
        return f"the LMS answered {status}" if status else "the LMS could not be reached"
    return None
