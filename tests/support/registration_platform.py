"""A platform's side of IMS LTI Dynamic Registration, written to the spec and to the facts in
docs/moodle-lti.md: an OpenID configuration document and a registration endpoint that checks
the Bearer token (single use: 401 token_already_used on reuse) and the required fields."""

from __future__ import annotations

import html
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, request

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
REQUIRED = (
    "application_type",
    "response_types",
    "grant_types",
    "initiate_login_uri",
    "redirect_uris",
    "client_name",
    "jwks_uri",
    "token_endpoint_auth_method",
)


@dataclass
class PlatformState:
    """What the test controls (behaviour) and observes (received registrations)."""

    base_url: str = ""
    registration_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    used_tokens: set[str] = field(default_factory=set)
    received: list[dict[str, Any]] = field(default_factory=list)
    issuer: str | None = None  # None: the platform's own URL
    config_padding: int = 0
    config_delay_s: float = 0.0
    fail_registration: tuple[int, dict[str, Any]] | None = None
    client_id: str = "metis-client-7"
    deployment_id: str = "3"

    @property
    def config_url(self) -> str:
        return f"{self.base_url}/mod/lti/openid-configuration.php"


def _error(status: int, error: str, description: str) -> tuple[Response, int]:
    return jsonify(error=error, error_description=description), status


def create_platform_app(state: PlatformState) -> Flask:
    app = Flask(__name__)

    @app.get("/mod/lti/openid-configuration.php")
    def openid_configuration() -> Response:
        if state.config_delay_s:
            time.sleep(state.config_delay_s)
        base = state.base_url
        doc: dict[str, Any] = {
            "issuer": state.issuer or base,
            "token_endpoint": f"{base}/mod/lti/token.php",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": f"{base}/mod/lti/certs.php",
            "authorization_endpoint": f"{base}/mod/lti/auth.php",
            "registration_endpoint": f"{base}/mod/lti/openid-registration.php",
            "scopes_supported": [
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
                "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
                "openid",
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "moodle",
                "version": "4.3",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
        }
        if state.config_padding:
            doc["padding"] = "x" * state.config_padding
        return Response(json.dumps(doc), content_type="application/json")

    @app.post("/mod/lti/openid-registration.php")
    def openid_registration() -> tuple[Response, int] | Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "invalid_token", "missing Bearer token")
        token = auth.removeprefix("Bearer ")
        if token in state.used_tokens:
            return _error(401, "token_already_used", "token already used")
        if token != state.registration_token:
            return _error(401, "invalid_token", "unknown registration token")
        if state.fail_registration:
            status, body = state.fail_registration
            return jsonify(body), status
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return _error(400, "invalid_client_metadata", "body is not JSON")
        missing = [name for name in REQUIRED if name not in payload]
        if missing:
            return _error(400, "invalid_client_metadata", f"missing {missing}")
        if payload["application_type"] != "web" or payload["response_types"] != ["id_token"]:
            return _error(400, "invalid_client_metadata", "web + id_token required")
        if payload["token_endpoint_auth_method"] != "private_key_jwt":
            return _error(400, "invalid_client_metadata", "private_key_jwt required")
        if not isinstance(payload["redirect_uris"], list) or not payload["redirect_uris"]:
            return _error(400, "invalid_redirect_uri", "redirect_uris must be a non-empty array")
        config = payload.get(TOOL_CONFIG)
        if not isinstance(config, dict) or not config.get("domain"):
            return _error(400, "invalid_client_metadata", "tool configuration needs domain")
        target = config.get("target_link_uri", "")
        if urlsplit(target).netloc != config["domain"]:
            return _error(400, "invalid_client_metadata", "target_link_uri is off the domain")
        state.used_tokens.add(token)
        state.received.append(payload)
        answer = dict(payload)
        answer["client_id"] = state.client_id
        answer[TOOL_CONFIG] = {**config, "deployment_id": state.deployment_id}
        return jsonify(answer)

    @app.get("/admin/tool/dialog")
    def registration_dialog() -> Response:
        """Moodle's "Add LTI Advantage" dialog: the tool's registration URL in an iframe, with
        the two query params, removed the moment the tool posts `org.imsglobal.lti.close`
        (docs/moodle-lti.md) - whatever the tool's page says is gone with it."""
        tool_url = request.args.get("url", "")
        src = tool_url + "?" + urlencode({"openid_configuration": state.config_url,
                                           "registration_token": state.registration_token})
        page = DIALOG.replace("{src}", html.escape(src, quote=True))
        return Response(page, content_type="text/html")

    return app


DIALOG = """<!doctype html><html><head><title>Manage tools</title></head><body>
<h1>Manage tools</h1>
<div id="dialog"><iframe id="registration" src="{src}" width="900" height="700"></iframe></div>
<script>
  window.addEventListener("message", function (event) {
    if (event.data && event.data.subject === "org.imsglobal.lti.close") {
      document.getElementById("dialog").remove();
      document.body.dataset.closed = "1";
    }
  });
</script></body></html>"""
