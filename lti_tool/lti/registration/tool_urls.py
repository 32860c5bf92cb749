"""The tool's public URLs, all derived from `settings.base_url`.

The paths match the LTI views (lti_tool/web/views/lti.py); this is the one place that spells them
for registration, the admin pages and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lti_tool.settings import Settings

LOGIN_PATH = "/lti/login"
# The login's second step: the browser comes back here to show it kept the state cookie.
LOGIN_CHECK_PATH = "/lti/login/check"
LAUNCH_PATH = "/lti/launch"
JWKS_PATH = "/.well-known/jwks.json"
# Deep linking requests arrive on the launch endpoint, like resource launches.
DEEP_LINKING_PATH = LAUNCH_PATH
REGISTRATION_PATH = "/lti/register"


@dataclass(frozen=True)
class ToolUrls:
    base: str
    domain: str
    tool: str
    login: str
    launch: str
    redirect_uris: tuple[str, ...]
    jwks: str
    deep_linking: str

    def registration(self, raw_token: str) -> str:
        return f"{self.base}{REGISTRATION_PATH}/{raw_token}"


def tool_urls(settings: Settings) -> ToolUrls:
    base = settings.base_url.rstrip("/")
    launch = base + LAUNCH_PATH
    return ToolUrls(
        base=base,
        # host:port exactly as the LMS sees it; Moodle requires target_link_uri on this domain.
        domain=urlsplit(base).netloc,
        tool=launch,
        login=base + LOGIN_PATH,
        launch=launch,
        redirect_uris=(launch,),
        jwks=base + JWKS_PATH,
        deep_linking=base + DEEP_LINKING_PATH,
    )
