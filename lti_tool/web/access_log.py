"""Log lines without credentials. Bearer tokens travel where servers log them: page tokens in
query strings (`lt`, lti_tool.web.page_token) and in the Referer of the next page, the LMS's
`registration_token` and the one-use link's token in the registration URL's path, and the
`Authorization`, `Cookie` and page-token headers when a log format names them.

`redact` is applied by a logging filter (the werkzeug server's log, and both of gunicorn's
loggers, whose error log names the URI of a request that failed) and by `RedactingLogger`,
gunicorn's logger class for `metis serve` (lti_tool.process_argv), which also blanks those
headers' values before any access log format can use them.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn import glogging

from lti_tool.lti.registration.tool_urls import REGISTRATION_PATH
from lti_tool.web import page_token

REDACTED = "[redacted]"
_QUERY = re.compile(rf"([?&](?:{page_token.FIELD}|registration_token)=)[^&#\s\"']+")
_PATH = re.compile(rf"({re.escape(REGISTRATION_PATH)}/)[^/?#\s\"']+")
_BEARER = re.compile(r"\b(Bearer\s+)[^\s\"',]+", re.IGNORECASE)
SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie",
                  page_token.HEADER.lower())
# The servers that log request lines (and Referer headers, which hold page URLs too).
ACCESS_LOGGERS = ("gunicorn.access", "gunicorn.error", "werkzeug")


def redact(text: str) -> str:
    text = _QUERY.sub(rf"\1{REDACTED}", text)
    text = _PATH.sub(rf"\1{REDACTED}", text)
    return _BEARER.sub(rf"\1{REDACTED}", text)


class RedactCredentials(logging.Filter):
    """The record's message with its tokens replaced; the rest of the line kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_loggers(names: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Add the filter to these loggers, once per process."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())


class RedactingLogger(glogging.Logger):
    """gunicorn's logger (`--logger-class`): the same lines, without credentials."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactCredentials) for f in logger.filters):
                logger.addFilter(RedactCredentials())

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        secret = {f"{{{name}}}i" for name in SECRET_HEADERS}
        for key, value in atoms.items():
            if key in secret:
                atoms[key] = REDACTED
            elif isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
