"""A small LTI 1.3 platform (an "LMS") built on lti1p3platform: the demo course page and the
counterpart that the end-to-end tests launch Metis from."""

from lti_tool.devkit.demo_lms.app import create_platform_app
from lti_tool.devkit.demo_lms.store import LaunchTweaks, PlatformStore, ToolEndpoints

__all__ = ["LaunchTweaks", "PlatformStore", "ToolEndpoints", "create_platform_app"]
