"""The dynamic registration URL the LMS opens in its "Add LTI Advantage" dialog."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool.extensions import database, settings
from lti_tool.registration.dynamic import RegistrationError, register
from lti_tool.registration.tokens import TokenError
from lti_tool.registration.tool_urls import REGISTRATION_PATH

log = logging.getLogger("metis.registration")

bp = Blueprint("registration", __name__)


@bp.get(f"{REGISTRATION_PATH}/<raw_token>")
def dynamic_registration(raw_token: str) -> ResponseReturnValue:
    try:
        registered = register(
            database(),
            settings(),
            raw_token,
            request.args.get("openid_configuration"),
            request.args.get("registration_token"),
        )
    except (RegistrationError, TokenError) as exc:
        log.warning("dynamic registration refused: %s", exc.reason)
        return render_template("registration/failed.html", reason=exc.reason), exc.status
    return render_template("registration/done.html", registered=registered)
