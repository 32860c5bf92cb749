"""Registrations an operator types in (the CLI and the admin pages share these functions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool.core.db.models import Deployment, Platform, PlatformStatus
from lti_tool.lti.registration import outbound
from lti_tool.settings import Settings


class ManualRegistrationError(Exception):
    """Bad operator input; the message says what to fix."""


@dataclass(frozen=True)
class DeploymentView:
    id: int
    deployment_id: str
    active: bool
    last_seen_at: datetime | None


@dataclass(frozen=True)
class PlatformView:
    id: int
    name: str
    issuer: str
    client_id: str
    status: str
    registered_via: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployments: tuple[DeploymentView, ...]

    def as_dict(self) -> dict[str, object]:
        data = self.__dict__.copy()
        data["deployments"] = [
            {
                "id": d.id,
                "deployment_id": d.deployment_id,
                "active": d.active,
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
            }
            for d in self.deployments
        ]
        return data


def add_platform(
    session: Session,
    settings: Settings,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: tuple[str, ...] = (),
    name: str = "",
    active: bool = False,
) -> Platform:
    if not client_id.strip() or len(client_id) > 255:
        raise ManualRegistrationError("--client-id must be 1-255 characters")
    if any(not d.strip() or len(d) > 255 for d in deployment_ids):
        raise ManualRegistrationError("each --deployment-id must be 1-255 characters")
    for what, url in (
        ("--issuer", issuer),
        ("--auth-login-url", auth_login_url),
        ("--auth-token-url", auth_token_url),
        ("--key-set-url", key_set_url),
    ):
        try:
            outbound.check_url(url, settings, what)
        except outbound.OutboundError as exc:
            raise ManualRegistrationError(str(exc)) from None
    clash = session.scalar(
        select(Platform.id).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    if clash is not None:
        raise ManualRegistrationError(
            f"platform {clash} already has issuer {issuer} and client ID {client_id}"
        )
    platform = Platform(
        name=name[:200],
        issuer=issuer,
        client_id=client_id,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url,
        status=PlatformStatus.active if active else PlatformStatus.pending,
        registered_via="manual",
    )
    session.add(platform)
    session.flush()
    for deployment_id in dict.fromkeys(deployment_ids):
        session.add(Deployment(platform_id=platform.id, deployment_id=deployment_id, active=active))
    session.flush()
    return platform


def _platform(session: Session, platform_id: int) -> Platform:
    platform = session.get(Platform, platform_id)
    if platform is None:
        raise ManualRegistrationError(f"no platform with id {platform_id}")
    return platform


def approve_platform(session: Session, platform_id: int) -> Platform:
    """Activate a platform and the deployments it registered with, so that one approval is
    enough after a dynamic registration; deployments seen later are approved one by one."""
    platform = _platform(session, platform_id)
    first_approval = platform.status == PlatformStatus.pending
    platform.status = PlatformStatus.active
    if first_approval:
        for deployment in session.scalars(
            select(Deployment).where(Deployment.platform_id == platform.id)
        ):
            deployment.active = True
    session.flush()
    return platform


def disable_platform(session: Session, platform_id: int) -> Platform:
    platform = _platform(session, platform_id)
    platform.status = PlatformStatus.disabled
    session.flush()
    return platform


def set_deployment_active(
    session: Session, platform_id: int, deployment_id: str, active: bool
) -> Deployment:
    """Approve (or disable) a deployment; approving an unknown id records it, so an admin can
    approve one before its first launch."""
    _platform(session, platform_id)
    if not deployment_id.strip() or len(deployment_id) > 255:
        raise ManualRegistrationError("the deployment ID must be 1-255 characters")
    deployment = session.scalar(
        select(Deployment).where(
            Deployment.platform_id == platform_id, Deployment.deployment_id == deployment_id
        )
    )
    if deployment is None:
        if not active:
            raise ManualRegistrationError(
                f"platform {platform_id} has no deployment {deployment_id!r}"
            )
        deployment = Deployment(platform_id=platform_id, deployment_id=deployment_id)
        session.add(deployment)
    deployment.active = active
    session.flush()
    return deployment


def list_platforms(session: Session) -> list[PlatformView]:
    rows = session.scalars(
        select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.id)
    )
    return [
        PlatformView(
            id=p.id,
            name=p.name,
            issuer=p.issuer,
            client_id=p.client_id,
            status=PlatformStatus(p.status).value,
            registered_via=p.registered_via,
            auth_login_url=p.auth_login_url,
            auth_token_url=p.auth_token_url,
            key_set_url=p.key_set_url,
            deployments=tuple(
                DeploymentView(d.id, d.deployment_id, d.active, d.last_seen_at)
                for d in sorted(p.deployments, key=lambda d: d.id)
            ),
        )
        for p in rows
    ]
