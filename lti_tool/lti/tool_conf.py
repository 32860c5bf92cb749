"""A pylti1p3 tool configuration read from the database (platforms, deployments, tool keys)."""

from __future__ import annotations

from typing import Any

from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Platform, PlatformStatus
from lti_tool.lti import keys


class MetisRegistration(Registration):
    """A registration whose tool key carries our own `kid` (pylti1p3 would derive one)."""

    def __init__(self, platform_id: int, kid: str | None = None) -> None:
        super().__init__()
        self.platform_id = platform_id
        self._kid = kid

    def get_kid(self) -> str | None:
        return self._kid


def registration_for(platform: Platform, signing: keys.SigningKey | None = None) -> Registration:
    reg = MetisRegistration(platform.id, signing.kid if signing else None)
    reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
    reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
    reg.set_key_set_url(platform.key_set_url)
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    if signing:
        reg.set_tool_private_key(signing.private_pem)
    return reg


class DbToolConf(ToolConfAbstract[Any]):
    """Only active platforms and active deployments are found; several clients per issuer."""

    def __init__(self, db: Database, grace_period_s: int) -> None:
        super().__init__()
        self._db = db
        self._grace_period_s = grace_period_s

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_platform(self, iss: str, client_id: str | None) -> Platform | None:
        with self._db.session() as s:
            stmt = select(Platform).where(
                Platform.issuer == iss, Platform.status == PlatformStatus.active
            )
            if client_id is not None:
                stmt = stmt.where(Platform.client_id == client_id)
            found = list(s.scalars(stmt))
        # Without a client_id the issuer must be unambiguous.
        return found[0] if len(found) == 1 else None

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        platform = self.find_platform(iss, None)
        return registration_for(platform) if platform else None

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        platform = self.find_platform(iss, client_id)
        if platform is None:
            return None
        with self._db.session() as s:
            return registration_for(platform, keys.signing_key(s))

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)  # type: ignore[arg-type]

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = self.find_platform(iss, client_id)
        if platform is None:
            return None
        with self._db.session() as s:
            row = s.scalar(
                select(Deployment).where(
                    Deployment.platform_id == platform.id,
                    Deployment.deployment_id == deployment_id,
                    Deployment.active.is_(True),
                )
            )
        return LtiDeployment().set_deployment_id(deployment_id) if row else None

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs: Any) -> Any:
        with self._db.session() as s:
            return keys.jwks(s, self._grace_period_s)
