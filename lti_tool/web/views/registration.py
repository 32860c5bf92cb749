"""The dynamic registration URL the LMS opens in its "Add LTI Advantage" dialog."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from flask import Blueprint, make_response, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool.lti.registration.dynamic import RegistrationError, register
from lti_tool.lti.registration.tokens import TokenError
from lti_tool.lti.registration.tool_urls import REGISTRATION_PATH
from lti_tool.web.extensions import database, settings

log = logging.getLogger("metis.registration")

bp = Blueprint("registration", __name__)

_NETLOC = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")


def _origin(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme in ("https", "http") and _NETLOC.match(parts.netloc):
        return f"{parts.scheme}://{parts.netloc}"
    return None


def _framed_by(origins: list[str | None], body: str, status: int) -> ResponseReturnValue:
    """The platform is not registered yet, so the app-wide frame-ancestors list (registered
    platforms) would block its dialog; this page is framed by the platform that opened it.
    It carries no actions, so nothing can be clickjacked."""
    response = make_response(body, status)
    sources = " ".join(dict.fromkeys(["'self'", *(o for o in origins if o)]))
    response.headers["Content-Security-Policy"] = f"frame-ancestors {sources}"
    return response


@bp.get(f"{REGISTRATION_PATH}/<raw_token>")
def dynamic_registration(raw_token: str) -> ResponseReturnValue:
    config_url = request.args.get("openid_configuration")
    try:
        registered = register(
            database(),
            settings(),
            raw_token,
            config_url,
            request.args.get("registration_token"),
        )
    except (RegistrationError, TokenError) as exc:
        log.warning("dynamic registration refused: %s", exc.reason)
        page = render_template("registration/failed.html", reason=exc.reason)
        return _framed_by([_origin(config_url)], page, exc.status)
    page = render_template("registration/done.html", registered=registered)
    return _framed_by([_origin(config_url), _origin(registered.issuer)], page, 200)
