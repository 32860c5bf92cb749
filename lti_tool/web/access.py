"""Access control for every page after the launch.

Usage::

    @bp.get("/teacher/<launch_id>")
    @require_launch(Role.instructor)
    def teacher_home(launch_id: str) -> ResponseReturnValue:
        launch = g.launch            # a LaunchContext
        ...query rows WHERE platform_id == launch.platform_id AND context_id == launch.context_id

`require_launch` only proves that this browser obtained `launch_id` through a validated LTI
launch and that the launch's role is at least `min_role`. The proof is the session cookie when
the browser keeps it, or else a page token for this very launch (lti_tool.web.page_token) in
the `X-Metis-Launch` header, the query arg `lt` or the form field `lt`: inside the LMS's iframe
Safari keeps no cookie of ours at all. For a request authorised by its token, `init_app` makes
every `url_for` for that launch carry the token, and `launch_token_field()` puts it in forms.

It hands over the ids; every view must filter its queries by them (platform_id + context_id,
and user_id for a learner's own data), so that nobody sees another course's or platform's data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, render_template, session
from markupsafe import Markup
from sqlalchemy import select

from lti_tool.core.db.models import Launch
from lti_tool.lti.records import NAME_ROLES
from lti_tool.lti.roles import Role
from lti_tool.web import page_token
from lti_tool.web.extensions import database

log = logging.getLogger("metis.lti")
SESSION_KEY = "launch_ids"
MAX_LAUNCHES_IN_SESSION = 20

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LaunchContext:
    """What a view needs to authorise and filter: the ids of the launch, never the claims."""

    id: int
    launch_id: str
    platform_id: int
    deployment_id: int
    user_id: int | None
    context_id: int | None
    resource_link_id: int | None
    message_type: str
    role: Role


def remember_launch(launch_id: str) -> None:
    """Rotate the session (new cookie content) and add the launch to what this browser holds."""
    kept = [x for x in session.get(SESSION_KEY, []) if isinstance(x, str)]
    session.clear()
    session[SESSION_KEY] = (kept + [launch_id])[-MAX_LAUNCHES_IN_SESSION:]


def load_launch(launch_id: str) -> LaunchContext | None:
    with database().session() as s:
        row = s.scalar(select(Launch).where(Launch.launch_id == launch_id))
        if row is None:
            return None
        return LaunchContext(
            id=row.id,
            launch_id=row.launch_id,
            platform_id=row.platform_id,
            deployment_id=row.deployment_id,
            user_id=row.user_id,
            context_id=row.context_id,
            resource_link_id=row.resource_link_id,
            message_type=row.message_type,
            role=NAME_ROLES.get(row.role, Role.learner),
        )


def _refuse(status: int, reason: str) -> tuple[str, int]:
    log.warning("access refused: %s", reason)
    return render_template("lti/error.html", reason=reason, detail="", status=status), status


def launch_course() -> tuple[int, int]:
    """The current launch's platform and course (Context) ids; 404 when it has no course."""
    launch = g.launch
    if launch.context_id is None:
        abort(404, "this launch has no course")
    return launch.platform_id, launch.context_id


def holds_launch(launch_id: str) -> str | None:
    """How this request proves it holds `launch_id`: "session", "token", or None (it does not).

    The session is asked first: a browser that keeps cookies needs no token, and its pages'
    URLs carry none (fewer credentials in URLs, histories and logs)."""
    if launch_id in session.get(SESSION_KEY, []):
        return "session"
    token = page_token.presented(query=True)
    if page_token.verify(token, launch_id):
        # Handed on unchanged in this page's URLs, so its expiry stays where the launch put it.
        g.page_token = token
        return "token"
    return None


def require_launch(min_role: Role) -> Callable[[F], F]:
    """Decorate a view taking `launch_id`; puts a LaunchContext on `g.launch`."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            launch_id = kwargs.get("launch_id")
            if not isinstance(launch_id, str) or holds_launch(launch_id) is None:
                return _refuse(
                    403,
                    "this page belongs to a launch this browser did not make; "
                    "open the activity from your course again",
                )
            launch = load_launch(launch_id)
            if launch is None:
                return _refuse(404, "this launch no longer exists; open the activity again")
            if launch.role < min_role:
                return _refuse(
                    403,
                    f"this page needs the {min_role.name} role; your role is {launch.role.name}",
                )
            g.launch = launch
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


# --- the page token in the pages' URLs and forms ------------------------------------------


def current_page_token() -> str:
    """The page token this request was authorised by, handed on unchanged ("" when the session
    cookie did the job, or outside a launch page)."""
    token = g.get("page_token") if isinstance(g.get("launch"), LaunchContext) else None
    return token if isinstance(token, str) else ""


def launch_token_field() -> Markup:
    """The hidden `lt` field for a form of a launch page (nothing on other pages). Sent in the
    body, it also stands in for the CSRF token when the browser keeps no cookie."""
    token = current_page_token()
    if not token:
        return Markup("")
    return Markup('<input type="hidden" name="{}" value="{}">').format(page_token.FIELD, token)


def _token_in_urls(endpoint: str, values: dict[str, Any]) -> None:
    """`url_for(endpoint, launch_id=X)` gets `lt=<token>` when this request was authorised for
    launch X by its token and the endpoint takes a launch_id; links to other launches, and
    every link of a browser that keeps the session cookie, get nothing."""
    launch, token = g.get("launch"), current_page_token()
    if not token or page_token.FIELD in values:
        return
    if values.get("launch_id") != launch.launch_id:
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, "launch_id"):
        values[page_token.FIELD] = token


def init_app(app: Flask) -> None:
    from lti_tool.web import notices
    notices.init_app(app)
    app.url_defaults(_token_in_urls)
    app.jinja_env.globals.update(
        launch_token=current_page_token, launch_token_field=launch_token_field
    )
