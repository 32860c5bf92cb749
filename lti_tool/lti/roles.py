"""Map LTI role URIs to Metis's three roles, ordered so that a higher role includes the lower.

`Role.admin` opens the tool-wide admin pages (every platform; approve, disable, rotate keys), so
only the institution and system Administrator roles grant it. The course-level
`membership#Administrator` administers one course: it gets the teacher pages of that course.
"""

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
)
_INSTRUCTOR = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Administrator#Administrator",
    # LTI 1.3 allows the short names for context roles.
    "Instructor",
    "ContentDeveloper",
    "Administrator",
)


def role_from_claims(roles: Iterable[str]) -> Role:
    """The highest Metis role the launch's `roles` claim grants (Learner when none matches)."""
    roles = set(roles)
    if roles & set(_ADMIN):
        return Role.admin
    if roles & set(_INSTRUCTOR):
        return Role.instructor
    return Role.learner
