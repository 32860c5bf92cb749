"""The demo LMS as a gunicorn app (one process: its course lives in memory).

Configured by the environment that `metis demo` passes to it; two extra routes open the demo
activity directly as the teacher or as a student. `METIS_DEMO_EXTRA_LEARNERS=N` adds N learners
(ids 900000, 900001, ...) for `metis bench pipeline`.
"""

from __future__ import annotations

import os

from flask import Flask, redirect, url_for
from flask.typing import ResponseReturnValue

from lti_tool.devkit.demo_lms import PlatformStore, ToolEndpoints, create_platform_app
from lti_tool.devkit.demo_lms.store import LEARNER, Member
from lti_tool.lti.registration.tool_urls import tool_urls
from lti_tool.settings import load_settings

TEACHER, STUDENT = "201", "101"
FIRST_EXTRA_LEARNER = 900000
CLIENT_ID = "metis-demo"
DEPLOYMENT_ID = "1"


def extra_learner(n: int) -> str:
    return str(FIRST_EXTRA_LEARNER + n)


def create() -> Flask:
    settings = load_settings()
    urls = tool_urls(settings)
    store = PlatformStore(
        os.environ["METIS_DEMO_PLATFORM_URL"],
        ToolEndpoints(
            login_url=urls.login,
            launch_url=urls.launch,
            jwks_url=urls.jwks,
            deep_link_url=urls.deep_linking,
            redirect_uris=list(urls.redirect_uris),
        ),
        client_id=CLIENT_ID,
        deployment_id=DEPLOYMENT_ID,
    )
    link = store.add_link(
        os.environ.get("METIS_DEMO_ACTIVITY_TITLE", "Practice"),
        custom={"activity_id": os.environ["METIS_DEMO_ACTIVITY_ID"]},
        score_maximum=float(os.environ.get("METIS_DEMO_POINTS", "10")),
    )
    for n in range(int(os.environ.get("METIS_DEMO_EXTRA_LEARNERS", "0"))):
        uid = extra_learner(n)
        store.members[uid] = Member(uid, f"Bench Student {n}", f"bench{n}@example.edu", [LEARNER])
    app = create_platform_app(store)

    def open_as(user: str) -> ResponseReturnValue:
        return redirect(url_for("launch.start_launch", user=user, link=link.id))

    app.add_url_rule("/as/teacher", "as_teacher", lambda: open_as(TEACHER))
    app.add_url_rule("/as/student", "as_student", lambda: open_as(STUDENT))
    return app
