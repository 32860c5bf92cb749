"""Fixtures of the activity settings tests: the LTI world (Metis + demo platform over HTTPS)
and the pipeline's seeded course."""

from __future__ import annotations

import pytest

from lti_tool.core.db import Database
from tests.lti.conftest import lti_world  # noqa: F401
from tests.pipeline.course import Course, seed_course


@pytest.fixture()
def course(db: Database) -> Course:
    return seed_course(db)
