"""Work a request started that its response need not wait for, run once the response is sent.

WSGI servers close a response after its last byte went out; Flask's `call_on_close` runs
there, outside the request context, so the work is given everything it needs and a failure
is logged, never raised into the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, after_this_request

log = logging.getLogger("metis.after_response")


def after_response(work: Callable[[], None]) -> None:
    """Run `work` once this request's response has been sent (call inside a request)."""

    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001 - the response is gone: nothing to answer to
            log.exception("work left for after the response failed")

    @after_this_request
    def _hook(response: Response) -> Response:
        response.call_on_close(run)
        return response
