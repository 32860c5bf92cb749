"""The launch-claims fuzz: validly signed id_tokens from the demo platform with each claim (and
each field Metis reads inside a claim) replaced by a value of every JSON type.

What must hold for every one of them: Metis answers a redirect (accepted) or a 4xx page, never
a 5xx; a type the LTI specs do not allow for that claim is refused with a reason that names the
claim; and a refused launch stores nothing. The table of allowed types below is written from
the specs (LTI 1.3 core, AGS, NRPS, Deep Linking 2.0), not read from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from lti_tool.core.db.models import Launch, ResourceLink
from lti_tool.devkit.demo_lms import LaunchTweaks
from lti_tool.devkit.lti_client import login_and_launch
from lti_tool.lti import claims as C
from tests.support.lti_world import LtiWorld

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

VALUES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 2.5,
    "string": "text",
    "array": ["text"],
    "object": {"key": "text"},
}
S, A, OBJ = {"string"}, {"array"}, {"object"}
NUM = {"integer", "number"}
SCALAR = {"string", "integer", "number", "boolean"}
OPTIONAL = {"null"}
# claim, or (claim, field inside it) -> the JSON types the specs allow. A required claim does
# not list "null": sent as null it must be refused, naming it, like a wrong type. Every claim
# the demo platform sends is here; of the fields inside them, those Metis reads or stores.
COMMON: dict[str | tuple[str, str], set[str]] = {
    "iss": S,
    "aud": S | A,
    "sub": S,
    "exp": NUM,
    "iat": NUM,
    "nonce": S,
    "name": S | OPTIONAL,
    "given_name": S | OPTIONAL,
    "family_name": S | OPTIONAL,
    "email": S | OPTIONAL,
    C.VERSION: S,
    C.MESSAGE_TYPE: S,
    C.DEPLOYMENT_ID: S,
    C.TARGET_LINK_URI: S,
    C.ROLES: A,
    C.CONTEXT: OBJ | OPTIONAL,
    (C.CONTEXT, "id"): S,
    (C.CONTEXT, "title"): S | OPTIONAL,
    C.LAUNCH_PRESENTATION: OBJ | OPTIONAL,
    C.TOOL_PLATFORM: OBJ | OPTIONAL,
    C.NRPS: OBJ | OPTIONAL,
    (C.NRPS, "context_memberships_url"): S | OPTIONAL,
}
RESOURCE: dict[str | tuple[str, str], set[str]] = COMMON | {
    C.RESOURCE_LINK: OBJ,
    (C.RESOURCE_LINK, "id"): S,
    (C.RESOURCE_LINK, "title"): S | OPTIONAL,
    C.CUSTOM: OBJ | OPTIONAL,
    (C.CUSTOM, "activity_id"): SCALAR | OPTIONAL,
    C.AGS: OBJ | OPTIONAL,
    (C.AGS, "lineitem"): S | OPTIONAL,
    (C.AGS, "lineitems"): S | OPTIONAL,
    (C.AGS, "scope"): A | OPTIONAL,
}
DEEP_LINKING: dict[str | tuple[str, str], set[str]] = {
    C.DL_SETTINGS: OBJ,
    (C.DL_SETTINGS, "deep_link_return_url"): S,
    (C.DL_SETTINGS, "accept_types"): A,
    (C.DL_SETTINGS, "accept_multiple"): {"boolean"} | OPTIONAL,
    (C.DL_SETTINGS, "auto_create"): {"boolean"} | OPTIONAL,
    (C.DL_SETTINGS, "data"): S | OPTIONAL,
    C.ROLES: A,
    C.DEPLOYMENT_ID: S,
}


def _tweaks(target: str | tuple[str, str], value: Any) -> LaunchTweaks:
    if isinstance(target, tuple):
        return LaunchTweaks(set_fields={target: value})
    # The platform stamps exp and iat itself unless told not to.
    if target == "exp":
        return LaunchTweaks(set_claims={"exp": value}, exp_in_s=None)
    if target == "iat":
        return LaunchTweaks(set_claims={"iat": value}, omit_iat=True)
    return LaunchTweaks(set_claims={target: value})


def _short(target: str | tuple[str, str]) -> tuple[str, ...]:
    """Words a reason naming this claim contains: its last path segment, and the field."""
    if isinstance(target, tuple):
        return (target[0].rsplit("/", 1)[-1], target[1])
    return (target.rsplit("/", 1)[-1],)


def _stored(world: LtiWorld) -> tuple[int, int]:
    with world.db.session() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Launch)) or 0),
            int(s.scalar(select(func.count()).select_from(ResourceLink)) or 0),
        )


def _fuzz(world: LtiWorld, table: dict[str | tuple[str, str], set[str]], *, user: str,
          link: str | None, deep_link: bool) -> None:
    problems: list[str] = []
    browser = world.browser()
    for target, allowed in table.items():
        for kind, value in VALUES.items():
            before = _stored(world)
            world.store.next_launch(_tweaks(target, value))
            r = login_and_launch(browser, world.platform.url, user=user, link=link,
                                 deep_link=deep_link)
            case = f"{target} as {kind}: HTTP {r.status_code}"
            if r.status_code >= 500 or r.status_code not in (303, *range(400, 500)):
                problems.append(f"{case}: {r.text[:200]}")
                continue
            if r.status_code != 303 and _stored(world) != before:
                problems.append(f"{case}: a refused launch stored rows")
            if kind in allowed:
                continue  # the right type: accepted, or refused for its value
            reason = r.text.split("<strong>Reason:</strong>", 1)[-1].split("</p>", 1)[0]
            if r.status_code == 303:
                problems.append(f"{case}: accepted")
            elif not all(word in reason for word in _short(target)):
                problems.append(f"{case}: the reason does not name it: {reason.strip()}")
    assert problems == []


def test_resource_launch_claims_of_every_json_type(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Fuzz", score_maximum=10)
    _fuzz(lti_world, RESOURCE, user="101", link=link.id, deep_link=False)


def test_deep_linking_claims_of_every_json_type(lti_world: LtiWorld) -> None:
    _fuzz(lti_world, DEEP_LINKING, user="201", link=None, deep_link=True)
