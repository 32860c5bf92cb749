"""Map LTI role URIs to Metis's three roles, ordered so that a higher role includes the lower."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Role(enum.IntEnum):
    learner = 1
    instructor = 2
    admin = 3


_ADMIN = (
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
)
_INSTRUCTOR = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "Instructor",
)


def role_from_claims(roles: Iterable[str]) -> Role:
    """The highest Metis role the launch's `roles` claim grants (Learner when none matches)."""
    roles = set(roles)
    if roles & set(_ADMIN):
        return Role.admin
    if roles & set(_INSTRUCTOR):
        return Role.instructor
    return Role.learner
