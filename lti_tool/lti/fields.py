"""Size limits on the form fields of the OIDC login initiation and the launch POST.

What the login receives is echoed to the platform in a redirect URL and kept in Redis with the
state, so every field is bounded before anything is stored: a 1.5 MB `login_hint` is refused,
not redirected. The limits are far above what platforms send (Moodle: a numeric user id and a
~60-character JSON hint; Canvas: a ~40-character login hint and a ~700-character JWT as the
message hint; id_tokens of a few KB).
"""

from __future__ import annotations

from collections.abc import Mapping

from lti_tool.lti.errors import LtiError

URL_MAX = 2048
LOGIN_LIMITS: Mapping[str, int] = {
    "iss": URL_MAX,
    "login_hint": 2048,
    "target_link_uri": URL_MAX,
    "lti_message_hint": 4096,
    "client_id": 255,
    "lti_deployment_id": 255,
    "lti_storage_target": 255,
}
# Metis's own states are 32 characters.
STATE_MAX = 128
LAUNCH_LIMITS: Mapping[str, int] = {
    "id_token": 64 * 1024,
    "state": STATE_MAX,
    "lti_storage_state": STATE_MAX,
}


def check_sizes(params: Mapping[str, str], limits: Mapping[str, int], what: str) -> None:
    """Refuse (400) the first field longer than its limit, naming it and the limit."""
    for name, limit in limits.items():
        size = len(params.get(name, ""))
        if size > limit:
            raise LtiError(
                f"the {what}'s {name} field is {size} characters long; "
                f"at most {limit} are accepted"
            )
