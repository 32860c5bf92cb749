"""Page tokens: the pages after a launch work in a browser that keeps no cookie at all.

Inside the LMS's iframe Metis is a third-party site. Safari (and any browser that blocks
partitioned third-party cookies) drops the session cookie that `remember_launch` sets, so the
session alone cannot prove, on the next request, that this browser made the launch. A page
token can: it is `launch_id` signed with the app's SECRET_KEY (itsdangerous, salt
"metis-page", so neither a session cookie nor any other signed value of the app passes for
one), and it carries its issue time, so it is refused once it is older than the launch TTL.

Why this design:
- It is stateless (no Redis or database row per page), like the session cookie it stands in
  for, and every web process can check it.
- It is bound to one launch: a token for launch A never opens launch B's pages, and a
  launch id alone (it is in every URL path) opens nothing.
- Its lifetime is fixed at the launch: pages authorised by a token hand the same token on
  (lti_tool.web.access), so a token that leaked cannot be refreshed into a longer-lived one.
  After `launch_ttl_s` the user opens the activity from the course again, as for an expired
  LTI launch.
- Only browsers that need it get it: the launch adds it to its redirect only when the login
  cookie did not come back (the platform's storage vouched for the state), and pages add it
  to their URLs only when the request was authorised by it. A browser that keeps cookies
  sees the same URLs as before.
- It travels in URLs (query arg `lt`), form bodies (field `lt`) and the `X-Metis-Launch`
  header. URLs are where tokens leak, so every response says `Referrer-Policy: same-origin`
  and the access logs redact `lt` (lti_tool.web.access_log), and only a token in the body or
  a header stands in for the CSRF token: one in the query string alone does not.

Flash notices ("Your settings were saved.") follow such a browser through redirects signed in
the URL (lti_tool.web.notices). What stays cookie-bound: local admin logins (/admin/local, a
top-level window, not an iframe) keep their session cookie.

Functions here need an app context (the secret and the TTL are the app's); `PageTokens` is
the same logic without one.
"""

from __future__ import annotations

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from lti_tool.web.extensions import settings

SALT = "metis-page"
FIELD = "lt"  # query arg and form field
HEADER = "X-Metis-Launch"
# A token is about 100 characters; anything much longer is not one of ours (and is not worth
# decoding).
MAX_LENGTH = 512
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class PageTokens:
    """Issue and check page tokens with one secret and one maximum age."""

    def __init__(self, secret_key: str | bytes, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self._max_age_s = max_age_s

    def issue(self, launch_id: str) -> str:
        return self._serializer.dumps(launch_id)

    def verify(self, token: str | None, launch_id: str) -> bool:
        """True when `token` is ours, unaltered, younger than the maximum age, and for
        exactly `launch_id`."""
        if not token or len(token) > MAX_LENGTH or not launch_id:
            return False
        try:
            signed_for = self._serializer.loads(token, max_age=self._max_age_s)
        except BadData:  # bad signature, expired, malformed: all simply "not valid"
            return False
        return isinstance(signed_for, str) and signed_for == launch_id


def tokens() -> PageTokens:
    """The current app's page tokens (secret: SECRET_KEY, maximum age: the launch TTL)."""
    return PageTokens(current_app.secret_key or "", settings().launch_ttl_s)


def issue(launch_id: str) -> str:
    return tokens().issue(launch_id)


def verify(token: str | None, launch_id: str) -> bool:
    return tokens().verify(token, launch_id)


def presented(*, query: bool) -> str | None:
    """The token this request carries: the header, then (when `query`) the query arg, then the
    form field. The body is read last, so that a request whose URL carries the token (an upload
    whose size limit the view raises first) is not parsed before its view runs."""
    token = request.headers.get(HEADER)
    if not token and query:
        token = request.args.get(FIELD)
    if not token and request.mimetype in FORM_TYPES:
        token = request.form.get(FIELD)
    return token or None


def in_body_or_header() -> bool:
    """True when the request's header or form body holds a valid token for the launch in its
    URL. Such a request came from a page of that launch: another site can make the browser
    send a request, but cannot know the token to put in it. (A URL can leak through a log or
    a Referer, so the query string does not count here.)"""
    launch_id = (request.view_args or {}).get("launch_id")
    return isinstance(launch_id, str) and verify(presented(query=False), launch_id)
