"""The story's world: Metis and the demo LMS over HTTPS (tests.lti.conftest), and the default
student model saved once for the real worker (tests.student.test_browser)."""

from __future__ import annotations

from tests.lti.conftest import LtiWorld, lti_world  # noqa: F401
from tests.student.test_browser import default_model_dir  # noqa: F401
