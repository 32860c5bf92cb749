"""Fixtures of the pipeline tests: a seeded course and a deterministic stand-in engine for the
plain-function tests (the worker-process tests use the real meta_engine)."""

from __future__ import annotations

import pytest

from lti_tool.core.db import Database
from tests.pipeline.course import Course, seed_course
from tests.pipeline.engines import RecordingEngine


@pytest.fixture()
def course(db: Database) -> Course:
    return seed_course(db)


@pytest.fixture()
def engine() -> RecordingEngine:
    return RecordingEngine()


# The LMS side of the passback fault tests: the demo platform over HTTPS (from the LTI tests).
from tests.lti.conftest import lti_world  # noqa: E402,F401
