"""Privacy tests launch for real through the demo platform (the lti tests' world)."""

from tests.lti.conftest import lti_world  # noqa: F401  (a fixture, re-exported)
