"""The teacher page: who struggles with what, and each student's score in the gradebook with
a "resend" for failed ones. Thin: queries live in lti_tool.teaching."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from lti_tool.db.models import Activity, ScorePassback
from lti_tool.extensions import celery_client, database, redis_client, settings
from lti_tool.lms.nrps import Member
from lti_tool.lms.tokens import ServiceError
from lti_tool.lti.access import require_launch
from lti_tool.lti.roles import Role
from lti_tool.teaching import course_learners, overview

log = logging.getLogger("metis.teacher")
bp = Blueprint("teacher", __name__)

PASSBACK_TASK = "metis.passback"


def _roster(platform_id: int, context_id: int) -> list[Member] | None:
    """The course's learners from NRPS; None when the LMS has no roster for us or fails."""
    try:
        return course_learners(database(), redis_client(), settings(), platform_id, context_id)
    except (ServiceError, LookupError) as exc:  # the page still shows who answered
        log.warning("roster unavailable for context %s: %s", context_id, exc)
        return None


@bp.get("/teacher/<launch_id>")
@require_launch(Role.instructor)
def page(launch_id: str) -> ResponseReturnValue:
    launch = g.launch
    if launch.context_id is None:
        abort(404, "this launch has no course")
    roster = _roster(launch.platform_id, launch.context_id)
    with database().session() as s:
        rows = overview(s, launch.platform_id, launch.context_id, roster)
    return render_template("teacher/overview.html", launch_id=launch_id, rows=rows,
                           roster_known=roster is not None)


@bp.post("/teacher/<launch_id>/passback/<int:passback_id>/resend")
@require_launch(Role.instructor)
def resend(launch_id: str, passback_id: int) -> ResponseReturnValue:
    from workers.passback import mark_for_resend  # plain function, no torch

    launch = g.launch
    with database().session() as s:
        row = s.get(ScorePassback, passback_id)
        activity = s.get(Activity, row.activity_id) if row else None
        if (activity is None or activity.platform_id != launch.platform_id
                or activity.context_id != launch.context_id):
            abort(404, "no such score in this course")
    mark_for_resend(database(), passback_id)
    try:
        celery_client().send_task(PASSBACK_TASK, args=[passback_id], retry=False)
        flash("The score was queued to be sent again.")
    except Exception:  # noqa: BLE001 - the relay sweep picks up pending scores later
        flash("The queue is unavailable; the score will be sent when it is back.")
    return redirect(url_for("teacher.page", launch_id=launch_id), code=303)
