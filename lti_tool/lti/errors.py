"""One exception type for every refused LTI message: it carries the reason shown and logged."""

from __future__ import annotations


class LtiError(Exception):
    """A launch or login refused for a reason the user (or the LMS admin) can act on."""

    def __init__(self, reason: str, *, status: int = 400, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # Extra guidance for the page (e.g. the command an admin must run); never secrets.
        self.detail = detail
