"""The demo LMS for `metis bench pipeline`: the demo course with METIS_BENCH_STUDENTS extra
learners (ids 900000, 900001, ...), served by gunicorn like the demo's."""

from __future__ import annotations

import os

from flask import Flask

from lti_tool.devkit.demo import platform_wsgi
from lti_tool.devkit.demo_lms.store import LEARNER, Member, PlatformStore

FIRST_ID = 900000


def student_id(n: int) -> str:
    return str(FIRST_ID + n)


def create() -> Flask:
    app = platform_wsgi.create()
    store: PlatformStore = app.extensions["platform.store"]
    for n in range(int(os.environ.get("METIS_BENCH_STUDENTS", "0"))):
        uid = student_id(n)
        store.members[uid] = Member(uid, f"Bench Student {n}", f"bench{n}@example.edu", [LEARNER])
    return app
