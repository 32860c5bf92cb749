"""LTI 1.3 endpoints: OIDC login initiation, the cookie check, launch, and the tool's JWKS.
Views stay thin: validation lives in lti_tool.lti.launch, persistence in lti_tool.lti.records.

Every cookie set here is `Secure; SameSite=None; Partitioned` (CHIPS): inside the LMS's iframe
a browser that blocks third-party cookies keeps a partitioned one for the course site. Browsers
that keep none at all there (Safari) are found out at the cookie check, before the platform
sees the login's one-time `lti_message_hint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers.response import Response as WerkzeugResponse

from lti_tool.lti import claims as C
from lti_tool.lti import keys
from lti_tool.lti.conflicts import retry_on_conflict
from lti_tool.lti.errors import LtiError
from lti_tool.lti.fields import STATE_MAX
from lti_tool.lti.launch import CookieMissing, LaunchPolicy, MetisMessageLaunch
from lti_tool.lti.login import STATE_COOKIE_PREFIX, forget_state, load_state, start_login
from lti_tool.lti.platform_jwks import PlatformKeys
from lti_tool.lti.records import record_launch
from lti_tool.lti.registration.tool_urls import LOGIN_CHECK_PATH, tool_urls
from lti_tool.web import page_token
from lti_tool.web.access import remember_launch
from lti_tool.web.extensions import database, redis_client, settings
from lti_tool.web.security import csrf, init_security, refusal, require_https

STATIC = Path(__file__).resolve().parent.parent / "static"
bp = Blueprint("lti", __name__, static_folder=str(STATIC), static_url_path="/static/metis")

LANDING = {"learner": "/student/{}", "instructor": "/teacher/{}", "admin": "/admin/{}"}
STATE_COOKIE_PATH = "/lti/"


@bp.record_once
def _setup(state: object) -> None:
    app: Flask = state.app  # type: ignore[attr-defined]
    init_security(app)
    protect = csrf(app)
    for view in (login, login_check, launch, jwks):
        protect.exempt(view)


def launch_url() -> str:
    return tool_urls(settings()).launch


def launch_targets() -> tuple[str, ...]:
    """Metis's own URLs that a login or launch may target."""
    urls = tool_urls(settings())
    return tuple(dict.fromkeys((urls.launch, urls.deep_linking)))


def platform_keys() -> PlatformKeys:
    s = settings()
    return PlatformKeys(
        redis_client(),
        ttl_s=s.platform_jwks_ttl_s,
        timeout_s=s.outbound_timeout_s,
        max_bytes=s.outbound_max_bytes,
    )


def _set_state_cookie(response: WerkzeugResponse, state: str) -> None:
    response.set_cookie(
        STATE_COOKIE_PREFIX + state,
        state,
        max_age=settings().nonce_ttl_s,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
        path=STATE_COOKIE_PATH,
    )


def _drop_state_cookie(response: WerkzeugResponse, state: str) -> None:
    # A partitioned cookie is only removed by a deletion that says Partitioned too.
    response.delete_cookie(
        STATE_COOKIE_PREFIX + state,
        path=STATE_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Remember the login, set the state cookie and come back to the cookie check: only a
    browser that sent the cookie back goes on to the platform."""
    s = settings()
    try:
        require_https()
        params = {
            k: str(v)
            for k, v in (request.form if request.method == "POST" else request.args).items()
        }
        started = start_login(
            params,
            db=database(),
            redis_client=redis_client(),
            targets=launch_targets(),
            redirect_uri=launch_url(),
            ttl_s=s.nonce_ttl_s,
        )
    except LtiError as exc:
        return refusal(exc)
    response = redirect(f"{LOGIN_CHECK_PATH}?{urlencode({'state': started.state})}", code=302)
    _set_state_cookie(response, started.state)
    return response


@bp.get(LOGIN_CHECK_PATH)
def login_check() -> ResponseReturnValue:
    """The login's second step. The cookie came back: on to the platform. It did not, and the
    platform offers its storage: keep the state there first. Neither: the platform has not
    seen the login's message hint yet, so a new window can start the same login afresh."""
    state = request.args.get("state", "")
    try:
        require_https()
        if len(state) > STATE_MAX:
            raise LtiError("the cookie check's state is not one of Metis's")
        record = load_state(redis_client(), state)
    except LtiError as exc:
        return refusal(exc)
    if request.cookies.get(STATE_COOKIE_PREFIX + state) == state:
        return redirect(record["auth_url"], code=302)
    login_params: dict[str, str] = record.get("login", {})
    new_window = {
        "login_url": tool_urls(settings()).login,
        "login": {k: v for k, v in login_params.items() if k != "lti_storage_target"},
        "reason": "the browser did not send the login cookie back (third-party cookies are "
        "blocked)",
    }
    target = login_params.get("lti_storage_target")
    if record.get("storage") and target:
        return render_template(
            "lti/storage_login.html",
            auth_url=record["auth_url"],
            payload={
                "target": target,
                "origin": _origin(record["auth_url"]),
                "state": state,
                "nonce": record["nonce"],
                "auth_url": record["auth_url"],
            },
            **new_window,
        )
    forget_state(redis_client(), state)
    current_app.logger.info("login %s: cookies blocked, offering a new window", state[:8])
    return render_template("lti/new_window.html", **new_window)


@bp.post("/lti/launch")
def launch() -> ResponseReturnValue:
    s = settings()
    message = MetisMessageLaunch(
        {k: str(v) for k, v in request.form.items()},
        dict(request.cookies),
        secure=request.is_secure,
        db=database(),
        redis_client=redis_client(),
        platform_keys=platform_keys(),
        policy=LaunchPolicy(
            leeway_s=s.jwt_leeway_s,
            max_age_s=s.id_token_max_age_s,
            nonce_ttl_s=s.nonce_ttl_s,
            launch_ttl_s=s.launch_ttl_s,
            targets=launch_targets(),
        ),
        grace_period_s=s.key_grace_period_s,
    )
    try:
        require_https()
        message.validate()
    except CookieMissing as exc:
        return _cookie_missing(exc)
    except LtiError as exc:
        return refusal(exc)
    assert message.platform is not None and message.deployment_pk is not None
    launch_id = message.get_launch_id()
    platform_id, deployment_pk = message.platform.id, message.deployment_pk

    def store() -> tuple[str, str]:
        with database().session() as session:
            row = record_launch(
                session,
                launch_id=launch_id,
                platform_id=platform_id,
                deployment_pk=deployment_pk,
                claims=message.typed,
            )
            return row.role, row.message_type

    role, message_type = retry_on_conflict(store)
    remember_launch(launch_id)
    current_app.logger.info("launch %s accepted (%s, %s)", launch_id, message_type, role)
    token = _page_token_query(launch_id)
    if message_type == C.DEEP_LINKING_REQUEST:
        response = redirect(f"/lti/deep-link/{launch_id}{token}", code=303)
    else:
        response = redirect(LANDING[role].format(launch_id) + token, code=303)
    _drop_state_cookie(response, request.form.get("state", ""))
    return response


def _page_token_query(launch_id: str) -> str:
    """The query "?lt=<page token>" for a browser that did not send the login cookie back (the
    platform's storage vouched for the state instead): it will not keep the session cookie
    either (Safari in the LMS's iframe), so the token proves the launch on the next pages
    (lti_tool.web.page_token). A browser that kept the cookie gets plain URLs."""
    state = request.form.get("state", "")
    if state and request.cookies.get(STATE_COOKIE_PREFIX + state) == state:
        return ""
    return f"?{page_token.FIELD}={page_token.issue(launch_id)}"


def _cookie_missing(exc: CookieMissing) -> ResponseReturnValue:
    """The launch came without the cookie the check saw. With the platform's storage, read the
    state back from it; without, the platform has used the message hint already, so the only
    way on is to open the activity again from the course (never a replay of the login)."""
    record: dict[str, Any] = exc.record
    target = record.get("login", {}).get("lti_storage_target")
    if record.get("storage") and target:
        state = request.form.get("state", "")
        page = render_template(
            "lti/storage_launch.html",
            launch_url=launch_url(),
            id_token=request.form.get("id_token", ""),
            state=state,
            payload={
                "target": target,
                "origin": _origin(record.get("auth_url", "")),
                "state": state,
            },
            reason=exc.reason,
        )
        return page, 200
    refusal(exc)
    return render_template("lti/signin_lost.html", reason=exc.reason), exc.status


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/.well-known/jwks.json")
def jwks() -> ResponseReturnValue:
    with database().session() as s:
        body = keys.jwks(s, settings().key_grace_period_s)
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
