"""Access control for every page after the launch.

Usage::

    @bp.get("/teacher/<launch_id>")
    @require_launch(Role.instructor)
    def teacher_home(launch_id: str) -> ResponseReturnValue:
        launch = g.launch            # a LaunchContext
        ...query rows WHERE platform_id == launch.platform_id AND context_id == launch.context_id

`require_launch` only proves that this browser obtained `launch_id` through a validated LTI
launch and that the launch's role is at least `min_role`. It hands over the ids; every view must
filter its queries by them (platform_id + context_id, and user_id for a learner's own data), so
that nobody sees another course's or platform's data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, g, render_template, session
from sqlalchemy import select

from lti_tool.db.models import Launch
from lti_tool.extensions import database
from lti_tool.lti.records import NAME_ROLES
from lti_tool.lti.roles import Role

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


def require_launch(min_role: Role) -> Callable[[F], F]:
    """Decorate a view taking `launch_id`; puts a LaunchContext on `g.launch`."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            launch_id = kwargs.get("launch_id")
            if not isinstance(launch_id, str) or launch_id not in session.get(SESSION_KEY, []):
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
