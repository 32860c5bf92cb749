"""The teacher pages: class overview (at risk, roster with gradebook status, mastery heatmap),
one student's drill-down, item statistics and CSV exports. Thin: the numbers come from
lti_tool.core.teaching; every query is scoped to the launch's platform + context."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    get_template_attribute,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy.orm import Session

from lti_tool.core.db.models import Activity, ResourceLink, ScorePassback
from lti_tool.core.gradebook.records import mark_for_resend
from lti_tool.core.teaching.export import items_csv, overview_csv
from lti_tool.core.teaching.items import ItemReport, UnknownActivity, item_report
from lti_tool.core.teaching.overview import Overview, overview
from lti_tool.core.teaching.student import StudentDetail, set_order, student_detail
from lti_tool.lms.roster import Roster, cached_roster
from lti_tool.lti.roles import Role
from lti_tool.task_queue import PASSBACK_TASK
from lti_tool.web.access import launch_course, require_launch
from lti_tool.web.extensions import celery_client, database, redis_client, settings
from lti_tool.web.ids import form_id, query_id
from lti_tool.web.svg_plots import Series, heat_class, line_plot

bp = Blueprint("teacher", __name__)


def _linked_activity(s: Session) -> int | None:
    """The activity behind the link the teacher launched from (its heatmap comes first)."""
    link_id = g.launch.resource_link_id
    link = s.get(ResourceLink, link_id) if link_id is not None else None
    return link.activity_id if link is not None else None


def _overview() -> tuple[Overview, Roster]:
    platform_id, context_id = launch_course()
    roster = cached_roster(database(), redis_client(), settings(), platform_id, context_id)
    with database().session() as s:
        return overview(s, platform_id, context_id, roster.members,
                        first_activity=_linked_activity(s)), roster


@bp.get("/teacher/<launch_id>")
@require_launch(Role.instructor)
def page(launch_id: str) -> ResponseReturnValue:
    view, roster = _overview()
    # One activity's heatmap at a time (?activity=ID, else the launch's): a course with many
    # activities stays one readable page.
    chosen = query_id("activity", required=False)
    shown = view.heatmap(chosen) if chosen is not None else view.heatmap()
    if chosen is not None and shown is None:
        abort(404, "no such activity in this course")
    return render_template("teacher/overview.html", launch_id=launch_id, view=view,
                           rows=view.rows, roster=roster, shown=shown, heat_class=heat_class,
                           section="overview")


def _name(detail: StudentDetail) -> str:
    """The student's name as the teacher pages say it (their macro), as plain text."""
    said = get_template_attribute("teacher/_student_name.html", "student_name")(detail)
    return Markup(said).unescape()


def mastery_chart(detail: StudentDetail, activity_id: int) -> Markup | None:
    """The student's mastery per skill after each practice set in one activity, as inline
    SVG, with that activity's own target (None before its first set)."""
    lines = [line for line in detail.lines_of(activity_id) if line.history]
    if not lines:
        return None
    order = set_order(lines)
    series = [Series(line.name, [(order[p.set_number], p.mastery) for p in line.history],
                     [p.at.strftime("%d %b %Y") for p in line.history])
              for line in lines]
    target = detail.threshold(activity_id)
    title = detail.title(activity_id)
    return line_plot(
        series, title=f"Mastery of {_name(detail)} over time in {title}",
        description=f"Estimated mastery of each skill after each practice set in {title}; "
                    f"the dashed line is this activity's target, {target:.0%}.",
        x_label=f"practice sets in {title} (1 = the first)", y_label="mastery",
        reference=(target, f"target {target:.0%}"), dom_id="mastery-plot")


@bp.get("/teacher/<launch_id>/students/<id:user_id>")
@require_launch(Role.instructor)
def student(launch_id: str, user_id: int) -> ResponseReturnValue:
    platform_id, context_id = launch_course()
    with database().session() as s:
        detail = student_detail(s, platform_id, context_id, user_id)
        linked = _linked_activity(s)
    if detail is None:
        abort(404, "no such student in this course")
    # One activity at a time (?activity=ID): each has its own skills and target.
    wanted = query_id("activity", required=False)
    shown = detail.shown_activity(wanted, linked)
    if wanted is not None and shown is None:
        abort(404, "this student has no mastery evidence in that activity")
    chart = mastery_chart(detail, shown) if shown is not None else None
    return render_template("teacher/student.html", launch_id=launch_id, detail=detail,
                           shown=shown, lines=detail.lines_of(shown), chart=chart,
                           heat_class=heat_class, section="overview")


def _item_report() -> ItemReport:
    """One activity's question statistics: ?activity=ID, else the launch's, else the first."""
    platform_id, context_id = launch_course()
    wanted = query_id("activity", required=False)
    with database().session() as s:
        try:
            return item_report(s, platform_id, context_id,
                               wanted if wanted is not None else _linked_activity(s))
        except UnknownActivity:
            if wanted is not None:
                abort(404, "no such activity in this course")
            return item_report(s, platform_id, context_id)  # the link's is another course's


@bp.get("/teacher/<launch_id>/items")
@require_launch(Role.instructor)
def items(launch_id: str) -> ResponseReturnValue:
    return render_template("teacher/items.html", launch_id=launch_id, report=_item_report(),
                           section="items")


@bp.get("/teacher/<launch_id>/export")
@require_launch(Role.instructor)
def export(launch_id: str) -> ResponseReturnValue:
    launch_course()
    return render_template("teacher/export.html", launch_id=launch_id, section="export")


def _download(body: str, name: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="metis-{name}-{stamp}.csv"',
        "Cache-Control": "no-store",  # student data: never kept by a shared cache
    })


@bp.get("/teacher/<launch_id>/export/overview.csv")
@require_launch(Role.instructor)
def export_overview(launch_id: str) -> ResponseReturnValue:
    view, _ = _overview()
    return _download(overview_csv(view), "class-overview")


@bp.get("/teacher/<launch_id>/export/items.csv")
@require_launch(Role.instructor)
def export_items(launch_id: str) -> ResponseReturnValue:
    return _download(items_csv(_item_report()), "item-statistics")


@bp.post("/teacher/<launch_id>/passback/<id:passback_id>/resend")
@require_launch(Role.instructor)
def resend(launch_id: str, passback_id: int) -> ResponseReturnValue:
    launch = g.launch
    # Back to the student's page when the button was there: read (and refused if it is not an
    # id) before anything is done, and only an id, so the form cannot redirect anywhere else.
    back = form_id("student", required=False)
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
    if back is not None:
        return redirect(url_for("teacher.student", launch_id=launch_id, user_id=back),
                        code=303)
    return redirect(url_for("teacher.page", launch_id=launch_id), code=303)
