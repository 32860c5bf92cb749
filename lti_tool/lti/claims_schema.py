"""The typed schema of an id_token's claims: the one place that decides what JSON type each
claim Metis reads must have, checked before anything is stored.

A validly signed token can still carry `resource_link` as a string or an AGS `lineitem` as an
object. The launch parses the body here first (it trusts no value, it only refuses shapes, so
it may run before the signature check), and every reader downstream (the registration and
launch checks, the rows of lti_tool.lti.records, the deep linking answer) receives
`LaunchClaims` or a body this schema accepted, so none of them needs its own type checks.
Presence rules per message type stay in lti_tool.lti.launch; a claim that is present with the
wrong type is refused here, with its name, as a 400.

Strings stay strings (no number is silently turned into an id); lengths are bounded where the
value becomes a database column. Claims Metis does not read pass through untouched.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from lti_tool.lti import claims as C
from lti_tool.lti.errors import LtiError

ID_MAX = 255  # ids become String(255) columns (sub, context, resource link, deployment)
URL_MAX = 1000  # service URLs become String(1000) columns


def _number(value: Any) -> float:
    # bool is an int in Python but `true` is not a time in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "must be a number")
    return float(value)


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise PydanticCustomError("scalar_type", "must be a string, number or boolean")
    return value


def _audience(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise PydanticCustomError("audience_type", "must be a string or an array of strings")


Number = Annotated[float, PlainValidator(_number)]
Scalar = Annotated[str | int | float | bool | None, PlainValidator(_scalar)]
Audience = Annotated[list[str], PlainValidator(_audience)]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]
ServiceUrl = Annotated[str, Field(max_length=URL_MAX)]
MessageType = Annotated[str, Field(max_length=64)]  # Launch.message_type is String(64)


def claim(name: str) -> Any:
    """An optional field read from the claim of that full name."""
    return Field(None, validation_alias=name)


class _Object(BaseModel):
    # strict: "7" is not 7 and 7 is not "7"; extra: fields Metis does not read are kept.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


class ContextClaim(_Object):
    id: Id
    label: str | None = None
    title: str | None = None
    type: list[str] | None = None


class ResourceLinkClaim(_Object):
    # Optional here: "a resource launch needs resource_link.id" is a presence rule (launch.py).
    id: Id | None = None
    title: str | None = None
    description: str | None = None


class LaunchPresentationClaim(_Object):
    document_target: str | None = None
    return_url: str | None = None
    locale: str | None = None
    width: Number | None = None
    height: Number | None = None


class ToolPlatformClaim(_Object):
    guid: str | None = None
    name: str | None = None
    version: str | None = None
    product_family_code: str | None = None
    contact_email: str | None = None
    description: str | None = None
    url: str | None = None


class AgsClaim(_Object):
    scope: list[str] | None = None
    lineitems: ServiceUrl | None = None
    lineitem: ServiceUrl | None = None


class NrpsClaim(_Object):
    context_memberships_url: ServiceUrl | None = None
    service_versions: list[str] | None = None


class DeepLinkingSettingsClaim(_Object):
    deep_link_return_url: str | None = None
    accept_types: list[str] | None = None
    accept_presentation_document_targets: list[str] | None = None
    accept_media_types: str | None = None
    accept_multiple: bool | None = None
    accept_lineitem: bool | None = None
    auto_create: bool | None = None
    title: str | None = None
    text: str | None = None
    data: str | None = None


class LaunchClaims(_Object):
    """Every claim Metis reads, by its full name; `None` where the token does not carry it."""

    # Presence of iss, aud, exp and iat is checked where they are used (registration, PyJWT).
    iss: str | None = None
    aud: Audience | None = None
    azp: str | None = None
    sub: Id | None = None
    exp: Number | None = None
    iat: Number | None = None
    nbf: Number | None = None
    nonce: str | None = None
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    version: str | None = claim(C.VERSION)
    message_type: MessageType | None = claim(C.MESSAGE_TYPE)
    deployment_id: Id | None = claim(C.DEPLOYMENT_ID)
    target_link_uri: str | None = claim(C.TARGET_LINK_URI)
    roles: list[str] | None = claim(C.ROLES)
    context: ContextClaim | None = claim(C.CONTEXT)
    resource_link: ResourceLinkClaim | None = claim(C.RESOURCE_LINK)
    custom: dict[str, Scalar] | None = claim(C.CUSTOM)
    launch_presentation: LaunchPresentationClaim | None = claim(C.LAUNCH_PRESENTATION)
    tool_platform: ToolPlatformClaim | None = claim(C.TOOL_PLATFORM)
    ags: AgsClaim | None = claim(C.AGS)
    nrps: NrpsClaim | None = claim(C.NRPS)
    deep_linking_settings: DeepLinkingSettingsClaim | None = claim(C.DL_SETTINGS)

    @field_validator("sub", mode="before")
    @classmethod
    def _sub_sent_is_a_string(cls, value: Any) -> Any:
        # Absent, `sub` means an anonymous launch; sent, it must be an id (PyJWT agrees).
        if value is None:
            raise PydanticCustomError("string_type", "must be a string")
        return value


_EXPECTED = {
    "string_type": "must be a string",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be an array",
    "bool_type": "must be true or false",
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "a JSON object"


def _reason(error: Any) -> str:
    claim, *inner = (str(part) for part in error["loc"])
    where = f"claim {claim}" + (f" ({'.'.join(inner)})" if inner else "")
    kind = error["type"]
    if kind in ("string_too_long", "too_long"):
        limit = (error.get("ctx") or {}).get("max_length")
        unit = "characters" if kind == "string_too_long" else "entries"
        return f"the id_token's {where} is too long (at most {limit} {unit})"
    if kind == "string_too_short":
        return f"the id_token's {where} is empty"
    if kind == "missing":
        return f"the id_token's {where} is missing"
    # Metis's own validators (Number, Scalar, Audience) word their message as "must be ...".
    expected = _EXPECTED.get(kind, error["msg"])
    return f"the id_token's {where} {expected}, not {json_type(error.get('input'))}"


def parse_claims(body: dict[str, Any]) -> LaunchClaims:
    """The body as LaunchClaims, or an LtiError (400) naming the first claim of the wrong type."""
    try:
        return LaunchClaims.model_validate(body)
    except ValidationError as exc:
        raise LtiError(_reason(exc.errors()[0])) from exc
