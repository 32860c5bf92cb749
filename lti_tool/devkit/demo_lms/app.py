"""The demo LMS's Flask app: a small LTI 1.3 platform with one course (the store), its launch
side (lti_tool.devkit.demo_lms.launch) and its services (lti_tool.devkit.demo_lms.services)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from lti_tool.devkit.demo_lms import launch, services
from lti_tool.devkit.demo_lms.store import STORE_KEY, PlatformStore

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_platform_app(store: PlatformStore) -> Flask:
    app = Flask("metis_demo_platform", template_folder=str(TEMPLATES))
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.extensions[STORE_KEY] = store
    app.register_blueprint(launch.bp)
    app.register_blueprint(services.bp)
    return app
