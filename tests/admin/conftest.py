"""Admin tests run against the lti tests' world (Metis and the demo platform over HTTPS)."""

from __future__ import annotations

import pytest

from tests.admin.support import Admin, make_admin
from tests.lti.conftest import LtiWorld, lti_world  # noqa: F401  (a fixture, re-exported)


@pytest.fixture(params=["lti", "local"])
def admin(request: pytest.FixtureRequest, lti_world: LtiWorld) -> Admin:  # noqa: F811
    """An Administrator launch, or a local admin logged in with a password."""
    return make_admin(lti_world, request.param)
