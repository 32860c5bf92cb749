"""Launch validation: pylti1p3's MessageLaunch with every gap of docs/lti-security.md closed.

The order matters: every claim passes the typed schema (lti_tool.lti.claims_schema) first,
nothing from the token is trusted (or written) before its signature, time claims and audience
are verified; the nonce is consumed last so a refused launch cannot burn it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import jwt
import redis
from pylti1p3.cookie import CookieService
from pylti1p3.exception import LtiException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.request import Request
from pylti1p3.session import SessionService
from sqlalchemy import select

from lti_tool.core.db import Database
from lti_tool.core.db.models import Deployment, Platform, utcnow
from lti_tool.lti import claims as C
from lti_tool.lti import keys
from lti_tool.lti.claims_schema import LaunchClaims, parse_claims
from lti_tool.lti.conflicts import retry_on_conflict
from lti_tool.lti.errors import LtiError
from lti_tool.lti.fields import LAUNCH_LIMITS, check_sizes
from lti_tool.lti.login import (
    STATE_COOKIE_PREFIX,
    find_platform,
    is_own_target,
    state_key,
    state_record,
)
from lti_tool.lti.platform_jwks import PlatformKeys
from lti_tool.lti.redis_storage import RedisLaunchDataStorage
from lti_tool.lti.tool_conf import DbToolConf, registration_for

KNOWN_MESSAGE_TYPES = (C.RESOURCE_LINK_REQUEST, C.DEEP_LINKING_REQUEST)


@dataclass(frozen=True)
class LaunchPolicy:
    leeway_s: int
    max_age_s: int
    nonce_ttl_s: int
    launch_ttl_s: int
    # Metis's own launch URLs: the only targets a launch may have.
    targets: tuple[str, ...]


class _ParamsRequest(Request):
    """The request as pylti1p3 sees it: the form fields and cookies, already read by the view."""

    def __init__(self, params: Mapping[str, str], cookies: Mapping[str, str], secure: bool):
        self._params = params
        self.cookies = cookies
        self._secure = secure

    @property
    def session(self) -> dict[str, Any]:
        return {}

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str:
        return self._params.get(key, "")


class _Cookies(CookieService):
    def __init__(self, cookies: Mapping[str, str]) -> None:
        self._cookies = cookies

    def get_cookie(self, name: str) -> str | None:
        return self._cookies.get(name)

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        raise NotImplementedError("the launch never sets cookies through pylti1p3")


class CookieMissing(LtiError):
    """The state is valid but this browser did not keep its cookie (third-party iframe)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(
            "the browser did not send the login cookie (third-party cookies are blocked)",
            status=401,
        )
        self.record = record


class MetisMessageLaunch(MessageLaunch):
    def __init__(
        self,
        params: Mapping[str, str],
        cookies: Mapping[str, str],
        *,
        secure: bool,
        db: Database,
        redis_client: redis.Redis,
        platform_keys: PlatformKeys,
        policy: LaunchPolicy,
        grace_period_s: int,
    ) -> None:
        request = _ParamsRequest(params, cookies, secure)
        storage = RedisLaunchDataStorage(redis_client, policy.launch_ttl_s)
        super().__init__(
            request,
            DbToolConf(db, grace_period_s),
            session_service=SessionService(request),
            cookie_service=_Cookies(cookies),
            launch_data_storage=storage,
        )
        self.set_launch_data_lifetime(policy.launch_ttl_s)
        self._params = params
        self._cookies = cookies
        self._db = db
        self._redis = redis_client
        self._keys = platform_keys
        self._policy = policy
        self.platform: Platform | None = None
        self.deployment_pk: int | None = None
        self._state_record: dict[str, Any] = {}
        self._typed: LaunchClaims | None = None

    def _get_request_param(self, key: str) -> str:
        return self._params.get(key, "")

    # --- the validation sequence --------------------------------------------------------

    def validate(self) -> MetisMessageLaunch:
        if self._restored:
            raise LtiError("a restored launch cannot be validated again")
        check_sizes(self._params, LAUNCH_LIMITS, "launch request")
        if not self._get_request_param("id_token"):
            raise LtiError("the launch request has no id_token")
        self._validated = True
        try:
            self._check_format()
            self._check_state()
            # Shapes first (nothing is trusted or stored by it): every later step, PyJWT's
            # time checks included, reads claims of the types it expects.
            self._typed = parse_claims(self._body())
            self._check_registration()
            self._check_signature_and_times()
            self._check_message()
            self._check_deployment()
            self._consume_nonce()
            self.save_launch_data()
        except LtiException as exc:
            self._validated = False
            raise LtiError(f"invalid launch: {exc}") from exc
        except Exception:
            self._validated = False
            raise
        return self

    def _check_format(self) -> None:
        try:
            self.validate_jwt_format()
        except LtiException as exc:
            raise LtiError(f"not an LTI 1.3 JWT: the id_token cannot be decoded ({exc})") from exc
        header, body = self._jwt.get("header"), self._jwt.get("body")
        if not isinstance(header, dict) or not isinstance(body, dict):
            raise LtiError("not an LTI 1.3 JWT: header and body must be JSON objects")
        if C.VERSION not in body and C.MESSAGE_TYPE not in body:
            raise LtiError("not an LTI 1.3 JWT: it carries neither an LTI version nor message type")

    def _check_state(self) -> None:
        state = self._get_request_param("state")
        # The login's record and whether it was used, in one round trip.
        raw, used = (self._redis.mget(state_key(state), _used_key(state)) if state
                     else (None, None))
        record = state_record(raw)
        self._state_record = record
        if used is not None:
            raise LtiError("replayed token: this login's state and nonce were already used")
        if self._cookies.get(STATE_COOKIE_PREFIX + state) == state:
            return
        # Without the cookie, the platform's client-side storage may vouch for the state.
        if record.get("storage") and self._get_request_param("lti_storage_state") == state:
            return
        raise CookieMissing(record)

    def _check_registration(self) -> None:
        claims = self.typed
        iss = claims.iss
        if not iss:
            raise LtiError("the id_token has no issuer (iss)")
        auds = claims.aud or []
        if not auds:
            raise LtiError("the id_token has no audience (aud)")
        azp = claims.azp
        if len(auds) > 1 and not azp:
            raise LtiError("the id_token has several audiences but no azp claim")
        if azp is not None and azp not in auds:
            raise LtiError(f"azp {azp!r} is not among the audiences (aud) of the id_token")
        client_id = azp if azp is not None else auds[0]
        platform = find_platform(self._db, iss, client_id)
        if platform.id != self._state_record.get("platform_id"):
            raise LtiError(
                f"wrong aud/azp: client_id {client_id!r} is not the registration this login "
                "was started for"
            )
        self.platform = platform
        # Built from the row just checked: DbToolConf would look the platform up a second time.
        with self._db.session() as s:
            self._registration = registration_for(platform, keys.signing_key(s))

    def _check_signature_and_times(self) -> None:
        assert self.platform is not None
        header = self._jwt["header"]
        if header.get("alg") != "RS256":
            raise LtiError(f"the id_token must be signed with RS256, not {header.get('alg')!r}")
        kid = header.get("kid")
        if not kid:
            raise LtiError("the id_token header has no kid (key id)")
        pem = self._keys.public_pem(self.platform.id, self.platform.key_set_url, str(kid))
        try:
            body = jwt.decode(
                self._get_request_param("id_token"),
                pem,
                algorithms=["RS256"],
                audience=self.platform.client_id,
                issuer=self.platform.issuer,
                leeway=self._policy.leeway_s,
                options={"require": ["exp", "iat"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise LtiError(
                f"the id_token has no {exc.claim} claim (exp and iat are required)"
            ) from exc
        except jwt.ExpiredSignatureError as exc:
            raise LtiError("the id_token has expired (exp is in the past)") from exc
        except jwt.ImmatureSignatureError as exc:
            raise LtiError("the id_token is not valid yet (iat/nbf in the future)") from exc
        except jwt.InvalidAudienceError as exc:
            raise LtiError("wrong aud: the id_token is not addressed to this tool") from exc
        except jwt.InvalidSignatureError as exc:
            raise LtiError(
                "bad signature: the id_token does not verify with the platform key"
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise LtiError(f"invalid id_token: {exc}") from exc
        iat = body["iat"]
        if not isinstance(iat, int | float):
            raise LtiError("the id_token's iat is not a number")
        if time.time() - iat > self._policy.max_age_s + self._policy.leeway_s:
            raise LtiError(
                f"the id_token is too old (iat more than {self._policy.max_age_s} s ago)"
            )

    def _check_message(self) -> None:
        claims = self.typed
        if claims.version is None:
            raise LtiError("the id_token has no LTI version claim")
        if claims.version != "1.3.0":
            raise LtiError(f"LTI version {claims.version!r} is not supported (1.3.0 required)")
        message_type = claims.message_type
        if not message_type:
            raise LtiError("the id_token has no message_type claim")
        if message_type not in KNOWN_MESSAGE_TYPES:
            raise LtiError(f"message_type {message_type!r} is not supported")
        if not claims.deployment_id:
            raise LtiError("the id_token has no deployment_id claim")
        if claims.roles is None:
            raise LtiError("the id_token has no roles claim")
        if not claims.sub:
            raise LtiError("the id_token has no sub (user id) claim")
        if message_type == C.RESOURCE_LINK_REQUEST and not (
            claims.resource_link and claims.resource_link.id
        ):
            raise LtiError("the resource launch has no resource_link.id")
        if message_type == C.DEEP_LINKING_REQUEST:
            dl = claims.deep_linking_settings
            if dl is None:
                raise LtiError("the deep linking request has no deep_linking_settings claim")
            if not dl.deep_link_return_url:
                raise LtiError(
                    "the deep linking request has no deep_link_return_url "
                    "in its deep_linking_settings"
                )
            if "ltiResourceLink" not in (dl.accept_types or []):
                raise LtiError(
                    "the platform does not accept ltiResourceLink items here "
                    "(deep_linking_settings accept_types)"
                )
        self._check_target(claims.target_link_uri)

    def _check_target(self, target: str | None) -> None:
        """The launch's target is one of Metis's own URLs, whether or not the login named one
        (a platform that leaves it out of the login must not get to send users elsewhere)."""
        if not target:
            raise LtiError("the id_token has no target_link_uri claim")
        if not is_own_target(target, self._policy.targets):
            raise LtiError(f"target_link_uri {target!r} is not one of this tool's launch URLs")
        login_target = self._state_record.get("login", {}).get("target_link_uri")
        if login_target and target != login_target:
            raise LtiError("target_link_uri differs from the one in the login request")

    def _check_deployment(self) -> None:
        assert self.platform is not None
        deployment_id = str(self.typed.deployment_id)
        platform_id = self.platform.id

        def upsert() -> tuple[bool, int]:
            with self._db.session() as s:
                row = s.scalar(
                    select(Deployment).where(
                        Deployment.platform_id == platform_id,
                        Deployment.deployment_id == deployment_id,
                    )
                )
                if row is None:
                    # Recorded inactive so that an admin sees it and can approve it.
                    row = Deployment(
                        platform_id=platform_id, deployment_id=deployment_id, active=False
                    )
                    s.add(row)
                mark_seen(row, utcnow())
                s.flush()
                active, pk = row.active, row.id
            return active, pk

        active, pk = retry_on_conflict(upsert)
        if not active:
            raise LtiError(
                f"deployment {deployment_id!r} is unknown or not active for this platform",
                status=403,
                detail=(
                    "An administrator must approve it: "
                    f"metis deployment approve --platform {self.platform.id} {deployment_id}"
                ),
            )
        self.deployment_pk = pk

    def _consume_nonce(self) -> None:
        nonce = self.typed.nonce
        if not nonce:
            raise LtiError("the id_token has no nonce")
        if nonce != self._state_record.get("nonce"):
            raise LtiError("state mismatch: the nonce does not belong to this login's state")
        digest = hashlib.sha256(nonce.encode()).hexdigest()
        state = self._get_request_param("state")
        # One round trip. Marking the state used even when the nonce was a replay is right:
        # the nonce belongs to this state's login, so that login was already used.
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(f"metis:lti:nonce-used:{digest}", "1", nx=True, ex=self._policy.nonce_ttl_s)
        pipe.set(_used_key(state), "1", ex=self._policy.nonce_ttl_s)
        fresh, _ = pipe.execute()
        if not fresh:
            raise LtiError("replayed token: this id_token's nonce was already used")

    # pylti1p3's launch id has a prefix; Metis uses a bare uuid as the URL's launch id.
    def use_launch_id(self, launch_id: str) -> None:
        self._launch_id = launch_id

    @property
    def claims(self) -> dict[str, Any]:
        return self._body()

    @property
    def typed(self) -> LaunchClaims:
        """The claims as the schema read them (only after the schema accepted them)."""
        if self._typed is None:
            raise RuntimeError("the launch's claims are read before the schema accepted them")
        return self._typed

    def _body(self) -> dict[str, Any]:
        # pylti1p3 types the body as a TypedDict; Metis reads arbitrary claim names.
        return cast(dict[str, Any], self._jwt["body"])


def _used_key(state: str) -> str:
    return f"metis:lti:state-used:{hashlib.sha256(state.encode()).hexdigest()}"


# "Last seen" is for the admin's list of deployments: to the minute is enough, and a launch then
# writes nothing for it (one commit less per launch in a busy class).
LAST_SEEN_EVERY = timedelta(minutes=1)


def mark_seen(row: Deployment, now: datetime) -> None:
    if row.last_seen_at is None or now - row.last_seen_at >= LAST_SEEN_EVERY:
        row.last_seen_at = now
