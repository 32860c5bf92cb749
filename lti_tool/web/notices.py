"""Notices ("Your settings were saved.") that survive a redirect without a cookie.

Flask's `flash` keeps the notice in the session until the next page shows it. A browser that
keeps no cookie of ours (pages authorised by a page token, see lti_tool.web.access) loses it on
the redirect. For those requests the pending notices ride in the redirect URL instead, signed
(so nobody can make a Metis page show a text of their choosing), bound to the launch (a link
copied from one's own redirect shows nothing in anybody else's launch) and short-lived, and the
next request puts them back where `get_flashed_messages()` finds them.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, current_app, flash, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

PARAM = "notice"
MAX_AGE_S = 300
SALT = "metis-notice"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def carry_in_redirect(response: Response) -> Response:
    """A redirect answered to a token-authorised request takes the pending notices along."""
    from lti_tool.web.access import current_page_token

    if not (300 <= response.status_code < 400) or not current_page_token():
        return response
    launch_id = (request.view_args or {}).get("launch_id")
    if not isinstance(launch_id, str):
        return response
    pending = session.pop("_flashes", None)
    if not pending or not response.location:
        return response
    notices = [[str(category), str(message)] for category, message in pending][:5]
    parts = urlsplit(response.location)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != PARAM]
    query.append((PARAM, _serializer().dumps([launch_id, notices])))
    response.location = urlunsplit(parts._replace(query=urlencode(query)))
    return response


def restore_from_url() -> None:
    """Put back the notices a redirect carried; a forged, altered or stale one is ignored."""
    raw = request.args.get(PARAM)
    if not raw:
        return
    try:
        bound_to, notices = _serializer().loads(raw, max_age=MAX_AGE_S)
    except (BadSignature, TypeError, ValueError):
        return
    if bound_to != (request.view_args or {}).get("launch_id"):
        return
    if isinstance(notices, list):
        for entry in notices[:5]:
            if isinstance(entry, list) and len(entry) == 2:
                flash(str(entry[1]), str(entry[0]))


def init_app(app: Flask) -> None:
    app.before_request(restore_from_url)
    app.after_request(carry_in_redirect)
