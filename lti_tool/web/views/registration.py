"""The dynamic registration URL the LMS opens in its "Add LTI Advantage" dialog.

The page that answers stays open until the admin has read it: Moodle removes the dialog the
moment the tool posts `org.imsglobal.lti.close`, so the page sends it only when the admin
clicks its button (static/registration.js), after reading the two Moodle steps that are left.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool.lti.registration.dynamic import CLIENT_NAME, RegistrationError, register
from lti_tool.lti.registration.tokens import TokenError
from lti_tool.lti.registration.tool_urls import REGISTRATION_PATH
from lti_tool.web.extensions import database, settings
from lti_tool.web.security import forget_platform_origins

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
    # Approved at once: its course pages may frame Metis from the next launch on.
    forget_platform_origins(current_app)
    page = render_template("registration/done.html", registered=registered,
                           client_name=CLIENT_NAME)
    return _framed_by([_origin(config_url), _origin(registered.issuer)], page, 200)
