"""Page tokens on their own: issue/verify, expiry, another launch, tampering; the access log
filter that keeps them out of log lines; the headers that keep them out of Referers."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from lti_tool.settings import load_settings
from lti_tool.web import page_token
from lti_tool.web.access_log import RedactCredentials, redact
from lti_tool.web.app import create_app
from lti_tool.web.page_token import PageTokens

LAUNCH, OTHER = "6f1c0a52-launch-a", "9b7e4411-launch-b"
TTL_S = 3600


def test_a_token_opens_its_own_launch_only() -> None:
    tokens = PageTokens("secret", TTL_S)
    token = tokens.issue(LAUNCH)
    assert tokens.verify(token, LAUNCH)
    assert not tokens.verify(token, OTHER)
    assert not tokens.verify(tokens.issue(OTHER), LAUNCH)
    assert not tokens.verify(token, "")
    assert not tokens.verify(None, LAUNCH) and not tokens.verify("", LAUNCH)


def test_a_token_expires_with_the_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = PageTokens("secret", TTL_S)
    issued_at = int(time.time()) - TTL_S - 5
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at)
        old = tokens.issue(LAUNCH)
    assert not tokens.verify(old, LAUNCH)
    # Just inside the launch TTL it still opens the pages.
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: issued_at + 10)
        recent = tokens.issue(LAUNCH)
    assert tokens.verify(recent, LAUNCH)


def test_tampered_or_foreign_tokens_are_refused() -> None:
    tokens = PageTokens("secret", TTL_S)
    token = tokens.issue(LAUNCH)
    payload, stamp, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert not tokens.verify(f"{payload}.{stamp}.{flipped}", LAUNCH)
    # The payload of another launch under this token's signature.
    other_payload = tokens.issue(OTHER).split(".")[0]
    assert not tokens.verify(f"{other_payload}.{stamp}.{signature}", OTHER)
    # Another app's secret, or another salt with the same secret (e.g. a session cookie).
    assert not PageTokens("other-secret", TTL_S).verify(token, LAUNCH)
    assert not tokens.verify(URLSafeTimedSerializer("secret").dumps(LAUNCH), LAUNCH)
    assert not tokens.verify(token + "x" * page_token.MAX_LENGTH, LAUNCH)
    assert not tokens.verify("not a token at all", LAUNCH)


def _app(tmp_path: Path, secret: str, **values: Any) -> Flask:
    # The factory opens nothing: no server behind these URLs is needed.
    return create_app(load_settings(mode="test", secret_key=secret, data_dir=tmp_path,
                                    database_url=f"sqlite:///{tmp_path / 'metis.db'}",
                                    redis_url="redis://127.0.0.1:9/0", **values))


def test_module_functions_use_the_app_secret_and_launch_ttl(tmp_path: Path) -> None:
    app = _app(tmp_path, "app-secret", launch_ttl_s=900)
    try:
        with app.app_context():
            token = page_token.issue(LAUNCH)
            assert page_token.verify(token, LAUNCH) and not page_token.verify(token, OTHER)
            assert PageTokens("app-secret", 900).verify(token, LAUNCH)
            assert not PageTokens("test-secret", 900).verify(token, LAUNCH)
    finally:
        app.extensions["metis.db"].dispose()


def test_access_log_lines_do_not_keep_tokens() -> None:
    token = PageTokens("secret", TTL_S).issue(LAUNCH)
    line = f'"GET /student/{LAUNCH}/events?lt={token}&after=e1 HTTP/1.1" 200 "-" "https://h/x?lt={token}"'
    redacted = redact(line)
    assert token not in redacted
    assert f"/student/{LAUNCH}/events?lt=[redacted]&after=e1" in redacted
    assert redacted.endswith('"https://h/x?lt=[redacted]"')
    # Other arguments whose names end in "lt" are left alone.
    assert redact("/x?salt=abc&lt_x=1") == "/x?salt=abc&lt_x=1"

    # As gunicorn logs (one dict of atoms) and as werkzeug logs (positional arguments).
    record_filter = RedactCredentials()
    gunicorn = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1,
                                 '%(h)s "%(r)s" %(s)s "%(f)s"',
                                 ({"h": "10.0.0.1", "r": f"GET /student/a?lt={token} HTTP/1.1",
                                   "s": "200", "f": f"https://t/student/a?lt={token}"},), None)
    werkzeug = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s %s',
                                 (f"GET /teacher/a?lt={token} HTTP/1.1", "200", "-"), None)
    for record in (gunicorn, werkzeug):
        assert record_filter.filter(record)
        assert token not in record.getMessage() and "lt=[redacted]" in record.getMessage()
    # The other bearer tokens: the LMS's registration token, the one-use registration link,
    # an Authorization header a log format names.
    line = ('"GET /lti/register/LINKSECRET?openid_configuration=https%3A%2F%2Fm&registration_token'
            '=LMSSECRET HTTP/1.1" 200 "Bearer HEADERSECRET"')
    assert redact(line) == ('"GET /lti/register/[redacted]?openid_configuration=https%3A%2F%2Fm'
                            '&registration_token=[redacted] HTTP/1.1" 200 "Bearer [redacted]"')
    plain = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s", ("GET / 200",), None)
    assert record_filter.filter(plain) and plain.getMessage() == "GET / 200"


def test_the_access_loggers_get_the_filter_once(tmp_path: Path) -> None:
    apps = [_app(tmp_path, "s"), _app(tmp_path, "s")]
    try:
        for name in ("gunicorn.access", "werkzeug"):
            filters = logging.getLogger(name).filters
            assert sum(isinstance(f, RedactCredentials) for f in filters) == 1
    finally:
        for app in apps:
            app.extensions["metis.db"].dispose()
