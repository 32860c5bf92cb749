"""One person on the course roster, as the LMS lists them (NRPS): the teacher pages' input."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    user_id: str  # the LMS's user id (our User.sub)
    roles: tuple[str, ...]
    name: str | None
    email: str | None
    status: str
