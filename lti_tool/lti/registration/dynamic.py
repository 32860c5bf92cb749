"""IMS LTI Dynamic Registration, as Moodle performs it (see docs/moodle-lti.md).

The platform opens our registration URL with `openid_configuration` and `registration_token`; we
fetch and check its configuration, post our tool configuration, and store the answer.

The URL carries a single-use token that only a Metis admin can mint (`metis registration-url`
or the admin page): minting it is the admin's approval that docs/lti-security.md asks for, so
a registration made through it is approved at once and its deployment can launch. A platform
an admin disabled stays disabled when it registers again. Without a valid token nothing is
fetched, posted or stored (tokens.claim refuses first).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Platform, PlatformStatus
from lti_tool.lti.registration import manual, outbound, tokens
from lti_tool.lti.registration.tool_urls import tool_urls
from lti_tool.settings import Settings

log = logging.getLogger("metis.registration")

TOOL_CONFIG_CLAIM = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG_CLAIM = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "email")
CLIENT_NAME = "Metis adaptive practice"


class RegistrationError(Exception):
    """Registration failed; `reason` is shown to the admin and logged."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class PlatformConfiguration(BaseModel):
    """The fields of the platform's OpenID configuration that registration relies on."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    issuer: str = Field(min_length=1, max_length=500)
    authorization_endpoint: str = Field(min_length=1, max_length=1000)
    token_endpoint: str = Field(min_length=1, max_length=1000)
    jwks_uri: str = Field(min_length=1, max_length=1000)
    registration_endpoint: str = Field(min_length=1, max_length=1000)
    authorization_server: str | None = Field(default=None, max_length=1000)
    platform: dict[str, Any] = Field(
        default_factory=dict, alias="https://purl.imsglobal.org/spec/lti-platform-configuration"
    )


@dataclass(frozen=True)
class Registered:
    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str | None
    status: str = PlatformStatus.active.value  # "active" once approved, else as it was

    @property
    def approved(self) -> bool:
        return self.status == PlatformStatus.active.value


def tool_configuration(settings: Settings) -> dict[str, Any]:
    urls = tool_urls(settings)
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": list(urls.redirect_uris),
        "client_name": CLIENT_NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIG_CLAIM: {
            "domain": urls.domain,
            "target_link_uri": urls.launch,
            "claims": list(CLAIMS),
            "messages": [{"type": "LtiDeepLinkingRequest", "target_link_uri": urls.deep_linking}],
        },
    }


def fetch_platform_configuration(url: str, settings: Settings) -> PlatformConfiguration:
    resp = outbound.request("GET", url, settings, "the platform configuration URL")
    if resp.status != 200:
        raise RegistrationError(f"the platform configuration URL answered HTTP {resp.status}")
    data = resp.json()
    if not isinstance(data, dict):
        raise RegistrationError("the platform configuration is not a JSON object")
    try:
        config = PlatformConfiguration.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise RegistrationError(f"the platform configuration is invalid ({fields})") from None
    issuer_host = urlsplit(config.issuer).hostname
    config_host = urlsplit(url).hostname
    if not issuer_host or issuer_host != config_host:
        raise RegistrationError(
            f"the platform issuer host ({issuer_host or config.issuer!r}) does not match the "
            f"configuration URL host ({config_host})"
        )
    for what, endpoint in (
        ("issuer", config.issuer),
        ("authorization_endpoint", config.authorization_endpoint),
        ("token_endpoint", config.token_endpoint),
        ("jwks_uri", config.jwks_uri),
        ("registration_endpoint", config.registration_endpoint),
    ):
        outbound.check_url(endpoint, settings, f"the platform's {what}")
    return config


def post_tool_configuration(
    config: PlatformConfiguration, registration_token: str, settings: Settings
) -> tuple[str, str | None]:
    """POST our configuration; return (client_id, deployment_id) from the platform's answer."""
    resp = outbound.request(
        "POST",
        config.registration_endpoint,
        settings,
        "the platform registration endpoint",
        json_body=tool_configuration(settings),
        headers={"Authorization": f"Bearer {registration_token}"},
    )
    if resp.status not in (200, 201):
        detail = _error_detail(resp)
        if detail == "token_already_used":
            raise RegistrationError(
                "the platform says this registration was already completed (token_already_used);"
                " start a new registration in the LMS"
            )
        raise RegistrationError(
            f"the platform refused the registration (HTTP {resp.status}"
            + (f": {detail}" if detail else "")
            + ")"
        )
    answer = resp.json()
    if not isinstance(answer, dict):
        raise RegistrationError("the platform's registration answer is not a JSON object")
    client_id = answer.get("client_id")
    if not isinstance(client_id, str | int) or not str(client_id).strip():
        raise RegistrationError("the platform's registration answer has no client_id")
    claim = answer.get(TOOL_CONFIG_CLAIM)
    deployment_id = claim.get("deployment_id") if isinstance(claim, dict) else None
    if deployment_id is not None and not isinstance(deployment_id, str | int):
        raise RegistrationError("the platform's deployment_id is not a string")
    return str(client_id), None if deployment_id is None else str(deployment_id)


def _error_detail(resp: outbound.Response) -> str:
    try:
        data = resp.json()
    except outbound.OutboundError:
        return ""
    if isinstance(data, dict):
        for key in ("error", "error_description", "message"):
            if isinstance(data.get(key), str):
                return str(data[key])[:200]
    return ""


def store_platform(
    session: Session,
    config: PlatformConfiguration,
    client_id: str,
    deployment_id: str | None,
) -> Platform:
    """Record the registration as pending; a re-registration updates the endpoints but never
    re-activates a platform or deployment an admin disabled."""
    platform = session.scalar(
        select(Platform).where(Platform.issuer == config.issuer, Platform.client_id == client_id)
    )
    if platform is None:
        platform = Platform(
            issuer=config.issuer, client_id=client_id, status=PlatformStatus.pending
        )
        session.add(platform)
    product = str(config.platform.get("product_family_code") or "")[:100]
    platform.name = f"{product} {urlsplit(config.issuer).hostname}".strip()[:200]
    platform.auth_login_url = config.authorization_endpoint
    platform.auth_token_url = config.token_endpoint
    platform.key_set_url = config.jwks_uri
    platform.auth_audience = config.authorization_server
    platform.product_family_code = product
    platform.registered_via = "dynamic"
    session.flush()
    if deployment_id is not None:
        exists = session.scalar(
            select(Deployment).where(
                Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
            )
        )
        if exists is None:
            session.add(Deployment(platform_id=platform.id, deployment_id=deployment_id))
            session.flush()
    return platform


def register(
    db: Database,
    settings: Settings,
    raw_token: str,
    openid_configuration: str | None,
    registration_token: str | None,
) -> Registered:
    """Run one dynamic registration end to end. Raises RegistrationError or TokenError."""
    if not openid_configuration or not registration_token:
        raise RegistrationError(
            "this page must be opened by the LMS with openid_configuration and "
            "registration_token parameters"
        )
    with db.session() as session:
        token_id = tokens.claim(session, raw_token)
    try:
        config = fetch_platform_configuration(openid_configuration, settings)
        client_id, deployment_id = post_tool_configuration(config, registration_token, settings)
    except outbound.OutboundError as exc:
        _release(db, token_id)
        raise RegistrationError(str(exc)) from None
    except RegistrationError:
        _release(db, token_id)
        raise
    with db.session() as session:
        platform = store_platform(session, config, client_id, deployment_id)
        tokens.attach_platform(session, token_id, platform.id)
        approve_minted(session, platform, deployment_id)
        registered = Registered(platform.id, platform.issuer, client_id, deployment_id,
                                platform.status.value)
    log.info(
        "dynamic registration stored: platform %s issuer=%s client_id=%s deployment=%s (%s)",
        registered.platform_id,
        registered.issuer,
        client_id,
        deployment_id,
        registered.status,
    )
    return registered


def approve_minted(session: Session, platform: Platform, deployment_id: str | None) -> None:
    """Approve a registration that came through an admin-minted link: the platform when it is
    new or pending (with its deployments), or this registration's deployment of a platform
    already approved. A disabled platform is left as the admin left it."""
    if platform.status == PlatformStatus.pending:
        manual.approve_platform(session, platform.id)
    elif platform.status == PlatformStatus.active and deployment_id is not None:
        manual.set_deployment_active(session, platform.id, deployment_id, True)


def _release(db: Database, token_id: int) -> None:
    with db.session() as session:
        tokens.release(session, token_id)
