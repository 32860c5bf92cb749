"""lti1p3platform glue: the platform registration of the tool, and a launch-message builder."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import MessageLaunchAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import RequestBase

from lti_tool.devkit.demo_lms.store import PlatformStore


@lru_cache(maxsize=16)
def private_key(private_pem: str) -> RSAPrivateKey:
    """Parsed once per key: cryptography's RSA consistency check costs ~30 ms per load, which a
    real LMS (it keeps its key loaded, or uses OpenSSL without that check) does not pay per
    launch, and which would otherwise dominate `metis bench launch`."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


@lru_cache(maxsize=16)
def public_pem(private_pem: str) -> str:
    return (
        private_key(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class DemoPlatformConf(LTI1P3PlatformConfAbstract):
    """Built per request so that the tool's JWKS is fetched fresh (tool key rotation works)."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self.store: PlatformStore = kwargs["store"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        store = self.store
        assert store.tool is not None, "the platform has no tool configured"
        _kid, pem = store.signing_key
        reg = Registration()
        reg.set_iss(store.issuer).set_client_id(store.client_id)
        reg.set_deployment_id(store.deployment_id)
        reg.set_launch_url(store.tool.launch_url).set_oidc_login_url(store.tool.login_url)
        reg.set_tool_key_set_url(store.tool.jwks_url)
        reg.set_platform_private_key(pem).set_platform_public_key(public_pem(pem))
        if store.tool.deep_link_url:
            reg.set_deeplink_launch_url(store.tool.deep_link_url)
        return reg


class DemoLaunch(MessageLaunchAbstract):
    """The launch message; signing is done by the caller so tests can bend it."""

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> Any:
        return launch_data


class PreflightRequest(RequestBase):
    """The tool's authentication request, in the shape lti1p3platform reads."""

    def __init__(self, params: dict[str, str]) -> None:
        self.request = {"method": "POST", "form_data": params, "get_data": params}
