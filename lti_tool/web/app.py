"""The Flask application factory. Importing this module does no work."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from lti_tool.settings import Settings, load_settings
from lti_tool.web import access, errors, extensions, ids, messages, metrics, nul_guard

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, template_folder=str(TEMPLATES))
    app.config.update(
        SECRET_KEY=settings.effective_secret_key,
        # The tool lives in a third-party iframe: the session cookie must be SameSite=None.
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None",
        # CHIPS: a browser that blocks third-party cookies still keeps this one for the course
        # site that frames Metis, so the pages after a cookie-less launch keep their session.
        SESSION_COOKIE_PARTITIONED=True,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
    )
    logging.getLogger("metis").setLevel(logging.INFO)
    extensions.init_app(app, settings)
    messages.init_app(app)
    errors.init_app(app)
    nul_guard.init_app(app)  # before any other request hook: no NUL reaches a query
    ids.init_app(app)  # the `id` URL converter, before the blueprints add their rules
    access.init_app(app)  # pages after the launch: the page token in URLs and forms
    _register_blueprints(app)
    metrics.init_app(app)  # GET /metrics, only with METIS_METRICS_TOKEN set
    return app


def _register_blueprints(app: Flask) -> None:
    from lti_tool.web.views.health import bp as health_bp

    app.register_blueprint(health_bp)
    from lti_tool.web.views.registration import bp as registration_bp

    app.register_blueprint(registration_bp)
    from lti_tool.web.views.admin import bp as admin_bp

    app.register_blueprint(admin_bp)
    from lti_tool.web.views.lti import bp as lti_bp

    app.register_blueprint(lti_bp)
    from lti_tool.web.views.deep_link import bp as deep_link_bp

    app.register_blueprint(deep_link_bp)
    from lti_tool.web.views.student import bp as student_bp

    app.register_blueprint(student_bp)
    from lti_tool.web.views.teacher import bp as teacher_bp

    app.register_blueprint(teacher_bp)
    from lti_tool.web.views.banks import bp as banks_bp

    app.register_blueprint(banks_bp)
