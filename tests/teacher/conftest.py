"""The LTI end-to-end world (Metis + demo platform over HTTPS) for the teacher page tests."""

from tests.lti.conftest import lti_world  # noqa: F401
