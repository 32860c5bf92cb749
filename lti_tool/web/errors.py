"""App-wide error pages: a refused or failed request gets the tool's own page (inside the LMS
iframe) or JSON for script callers, with the reason in words and never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("metis.errors")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _page(reason: str, status: int) -> ResponseReturnValue:
    if _wants_json():
        return jsonify(error=reason), status
    return render_template("lti/error.html", reason=reason, detail="", status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        if exc.code is None or exc.code < 400:
            return exc
        return _page(exc.description or exc.name, exc.code)

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> ResponseReturnValue:
        # The traceback goes to the log (Flask logs it before calling this), not to the page.
        log.error("500 on %s %s", request.method, request.path)
        return _page("Something went wrong on our side. Please try again in a moment.", 500)
