"""LTI 1.3 endpoints: OIDC login initiation, launch, and the tool's JWKS. Views stay thin:
validation lives in lti_tool.lti.launch, persistence in lti_tool.lti.records."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.wrappers.response import Response as WerkzeugResponse

from lti_tool.lti import claims as C
from lti_tool.lti import keys
from lti_tool.lti.conflicts import retry_on_conflict
from lti_tool.lti.errors import LtiError
from lti_tool.lti.launch import CookieMissing, LaunchPolicy, MetisMessageLaunch
from lti_tool.lti.login import STATE_COOKIE_PREFIX, start_login
from lti_tool.lti.platform_jwks import PlatformKeys
from lti_tool.lti.records import record_launch
from lti_tool.web import page_token
from lti_tool.web.access import remember_launch
from lti_tool.web.extensions import database, redis_client, settings
from lti_tool.web.security import csrf, init_security, refusal, require_https

STATIC = Path(__file__).resolve().parent.parent / "static"
bp = Blueprint("lti", __name__, static_folder=str(STATIC), static_url_path="/static/metis")

LANDING = {"learner": "/student/{}", "instructor": "/teacher/{}", "admin": "/admin/{}"}


@bp.record_once
def _setup(state: object) -> None:
    app: Flask = state.app  # type: ignore[attr-defined]
    init_security(app)
    protect = csrf(app)
    for view in (login, launch, jwks):
        protect.exempt(view)


def launch_url() -> str:
    return settings().base_url.rstrip("/") + "/lti/launch"


def platform_keys() -> PlatformKeys:
    s = settings()
    return PlatformKeys(
        redis_client(),
        ttl_s=s.platform_jwks_ttl_s,
        timeout_s=s.outbound_timeout_s,
        max_bytes=s.outbound_max_bytes,
    )


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
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
            base_url=s.base_url,
            redirect_uri=launch_url(),
            ttl_s=s.nonce_ttl_s,
        )
    except LtiError as exc:
        return refusal(exc)
    response: WerkzeugResponse
    if started.storage_target:
        origin = urlsplit(started.auth_url)
        response = current_app.make_response(
            render_template(
                "lti/storage_login.html",
                auth_url=started.auth_url,
                payload={
                    "target": started.storage_target,
                    "origin": f"{origin.scheme}://{origin.netloc}",
                    "state": started.state,
                    "nonce": started.nonce,
                    "auth_url": started.auth_url,
                },
            )
        )
    else:
        response = redirect(started.auth_url, code=302)
    response.set_cookie(
        STATE_COOKIE_PREFIX + started.state,
        started.state,
        max_age=s.nonce_ttl_s,
        secure=True,
        httponly=True,
        samesite="None",
        path="/lti/",
    )
    return response


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
                claims=message.claims,
            )
            return row.role, row.message_type

    role, message_type = retry_on_conflict(store)
    remember_launch(launch_id)
    current_app.logger.info("launch %s accepted (%s, %s)", launch_id, message_type, role)
    token = _page_token_query(launch_id)
    if message_type == C.DEEP_LINKING_REQUEST:
        return redirect(f"/lti/deep-link/{launch_id}{token}", code=303)
    response = redirect(LANDING[role].format(launch_id) + token, code=303)
    response.delete_cookie(STATE_COOKIE_PREFIX + request.form.get("state", ""), path="/lti/")
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
    record = exc.record
    login_params = record.get("login", {})
    target = login_params.get("lti_storage_target")
    # Either page can end in "open in a new window": a top-level window keeps the cookie.
    new_window = {
        "login_url": settings().base_url.rstrip("/") + "/lti/login",
        "login": {k: v for k, v in login_params.items() if k != "lti_storage_target"},
        "reason": exc.reason,
    }
    if record.get("storage") and target:
        state = request.form.get("state", "")
        auth = urlsplit(_auth_origin(int(record["platform_id"])))
        page = render_template(
            "lti/storage_launch.html",
            launch_url=launch_url(),
            id_token=request.form.get("id_token", ""),
            state=state,
            payload={"target": target, "origin": f"{auth.scheme}://{auth.netloc}", "state": state},
            **new_window,
        )
        return page, 200
    refusal(exc)
    return render_template("lti/new_window.html", **new_window), exc.status


def _auth_origin(platform_id: int) -> str:
    from lti_tool.core.db.models import Platform

    with database().session() as s:
        platform = s.get(Platform, platform_id)
        return platform.auth_login_url if platform else ""


@bp.get("/.well-known/jwks.json")
def jwks() -> ResponseReturnValue:
    with database().session() as s:
        body = keys.jwks(s, settings().key_grace_period_s)
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
