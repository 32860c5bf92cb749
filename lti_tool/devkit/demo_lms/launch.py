"""The demo LMS's course page and the launch side of LTI: the third-party initiated login, the
OIDC auth answer with the signed id_token, its JWKS, the service token, and the deep-linking
return.

Like Moodle it has a session (a cookie of its own) and accepts each login's `lti_message_hint`
once, in that session: `start_launch` keeps a new launchid for the login form, `auth` takes it
and answers "Invalid request" to a replay, as Moodle's mod/lti/auth.php does after unsetting
`$SESSION->$launchid`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from jwcrypto.jwk import JWK
from lti1p3platform.exceptions import LtiException
from werkzeug.wrappers.response import Response as WerkzeugResponse

from lti_tool.devkit.demo_lms.conf import (
    DemoLaunch,
    DemoPlatformConf,
    PreflightRequest,
    private_key,
)
from lti_tool.devkit.demo_lms.services import ALL_SCOPES, error, lineitem_url, parse_ts
from lti_tool.devkit.demo_lms.store import (
    LaunchTweaks,
    PendingLogin,
    PlatformStore,
    platform_store,
)
from lti_tool.lti import claims as C

bp = Blueprint("launch", __name__)
SESSION_COOKIE = "DemoLmsSession"


def _session() -> str:
    """This browser's platform session ("" before the platform set one)."""
    return request.cookies.get(SESSION_COOKIE, "")


def _with_session(body: ResponseReturnValue, session: str) -> WerkzeugResponse:
    response = current_app.make_response(body)
    if request.cookies.get(SESSION_COOKIE) != session:
        # First-party to the course site, like MoodleSession (SameSite=None on HTTPS sites).
        response.set_cookie(
            SESSION_COOKIE, session, secure=True, httponly=True, samesite="None", path="/"
        )
    return response


@bp.get("/")
def course() -> ResponseReturnValue:
    store = platform_store()
    page = render_template(
        "platform/course.html", store=store, people=store.people(), tool_origin=tool_origin()
    )
    return _with_session(page, _session() or secrets.token_urlsafe(16))


@bp.get("/view")
def view() -> ResponseReturnValue:
    """The activity's own page with Metis embedded, as Moodle's mod/lti/view.php does for the
    "Embed" launch container: the LMS page frames its launch page (below), so the login, the
    auth answer and the launch all run in a frame of the course site, cross-site for Metis."""
    store = platform_store()
    launch_query = urlencode({k: v for k, v in request.args.items()})
    page = render_template("platform/view.html", store=store, launch_query=launch_query)
    return _with_session(page, _session() or secrets.token_urlsafe(16))


@bp.get("/gradebook")
def gradebook() -> ResponseReturnValue:
    store = platform_store()
    columns, rows = store.gradebook()
    return render_template("platform/gradebook.html", store=store, columns=columns, rows=rows)


def tool_origin() -> str:
    store = platform_store()
    assert store.tool is not None
    parts = urlsplit(store.tool.login_url)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/lti/storage")
def storage_frame() -> ResponseReturnValue:
    """The hidden frame named by lti_storage_target: the platform side of the LTI
    client-side postMessage storage, answering only the tool's origin."""
    return render_template("platform/storage_frame.html", tool_origin=tool_origin())


@bp.get("/launch")
def start_launch() -> ResponseReturnValue:
    """Step 1: the third-party initiated login, as an auto-submitting form (like Moodle)."""
    store = platform_store()
    assert store.tool is not None
    user = request.args.get("user", "101")
    link_id = request.args.get("link")
    deep = request.args.get("deep_link") == "1"
    if user not in store.members or (not deep and link_id not in store.links):
        return error(404, "unknown user or link")
    session = _session() or secrets.token_urlsafe(16)
    launchid = store.issue_hint(session, user, "deep_link" if deep else "resource", link_id)
    hint = json.dumps({"launchid": launchid})
    target = (
        (store.tool.deep_link_url or store.tool.launch_url) if deep else store.tool.launch_url
    )
    fields = {
        "iss": store.issuer,
        "target_link_uri": target,
        "login_hint": user,
        "lti_message_hint": hint,
        "client_id": store.client_id,
        "lti_deployment_id": store.deployment_id,
    }
    if request.args.get("storage_target"):
        fields["lti_storage_target"] = request.args["storage_target"]
    if request.args.get("method") == "get":
        redirect = Response(
            status=302, headers={"Location": store.tool.login_url + "?" + urlencode(fields)}
        )
        return _with_session(redirect, session)
    form = render_template("platform/autopost.html", action=store.tool.login_url, fields=fields)
    return _with_session(form, session)


@bp.route("/auth", methods=["GET", "POST"])
def auth() -> ResponseReturnValue:
    """Step 2: the OIDC authentication request; answers with the signed id_token."""
    store = platform_store()
    params = {k: str(v) for k, v in (request.values).items()}
    checks = {
        "scope": params.get("scope") == "openid",
        "response_type": params.get("response_type") == "id_token",
        "response_mode": params.get("response_mode") == "form_post",
        "prompt": params.get("prompt", "none") in ("none", ""),
        "client_id": params.get("client_id") == store.client_id,
        "nonce": bool(params.get("nonce")),
        "state": bool(params.get("state")),
    }
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        return error(400, "invalid authentication request: " + ", ".join(bad))
    assert store.tool is not None
    if params.get("redirect_uri") not in store.tool.allowed_redirects():
        return error(400, "redirect_uri is not registered for this tool")
    try:
        hint = json.loads(params.get("lti_message_hint", "{}"))
    except ValueError:
        return error(400, "lti_message_hint is not ours")
    launchid = hint.get("launchid") if isinstance(hint, dict) else None
    if not isinstance(launchid, str):
        return error(400, "invalid_request: No launch id in LTI hint")
    pending = store.take_hint(_session(), launchid)
    if pending is None:
        # Moodle's answer once $SESSION->$launchid is gone (replayed, or another session).
        return error(400, "Invalid request")
    member = store.members.get(params.get("login_hint", ""))
    if member is None or member.user_id != pending.user:
        return error(400, "access_denied: login_hint is not the user who started this launch")
    message = _launch_message(store, params, member, pending)
    if not isinstance(message, dict):
        return message
    tweaks = store.take_tweaks()
    id_token = _sign(store, message, tweaks)
    return render_template(
        "platform/autopost.html",
        action=params["redirect_uri"],
        fields={"id_token": id_token, "state": tweaks.state or params["state"]},
    )


@bp.get("/jwks")
def jwks() -> ResponseReturnValue:
    store = platform_store()
    keys = []
    for kid, pem in store.keys:
        jwk = json.loads(JWK.from_pem(pem.encode()).export_public())
        jwk.update(kid=kid, alg="RS256", use="sig")
        keys.append(jwk)
    return jsonify(keys=keys)


@bp.post("/token")
def token() -> ResponseReturnValue:
    store = platform_store()
    conf = DemoPlatformConf(store=store)
    conf.get_registration()
    form = {k: str(v) for k, v in request.form.items()}
    try:
        assertion = jwt.decode(
            form.get("client_assertion", ""), options={"verify_signature": False}
        )
    except jwt.InvalidTokenError:
        return error(400, "invalid_request: client_assertion is not a JWT")
    if assertion.get("sub") != store.client_id or assertion.get("iss") != store.client_id:
        return error(401, "invalid_client: sub/iss must be the client_id")
    try:
        answer = conf.get_access_token(form)
    except (LtiException, jwt.InvalidTokenError, AssertionError) as exc:
        return error(401, f"invalid_client: {type(exc).__name__}: {exc}")
    with store.lock:
        store.valid_tokens.add(answer["access_token"])
        store.tokens_issued += 1
    return jsonify(answer)


@bp.post("/deep_link_return")
def deep_link_return() -> ResponseReturnValue:
    """Verify the tool's response JWT against the tool's JWKS, then create the links."""
    store = platform_store()
    conf = DemoPlatformConf(store=store)
    conf.get_registration()
    token = request.form.get("JWT", "")
    try:
        items = conf.validate_deeplinking_resp({"JWT": token})
        claims = jwt.decode(token, options={"verify_signature": False})
    except (LtiException, jwt.InvalidTokenError, AssertionError, KeyError) as exc:
        return error(400, f"deep linking response refused: {type(exc).__name__}: {exc}")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if claims.get("iss") != store.client_id or store.issuer not in auds:
        return error(400, "deep linking response: iss must be the client_id, aud the issuer")
    if claims.get(C.DEPLOYMENT_ID) != store.deployment_id:
        return error(400, "deep linking response: wrong deployment_id")
    created = []
    for item in items:
        if item.get("type") != "ltiResourceLink":
            continue
        line = item.get("lineItem") or {}
        link = store.add_link(
            str(item.get("title") or "Untitled"),
            custom={str(k): str(v) for k, v in (item.get("custom") or {}).items()},
            score_maximum=float(line["scoreMaximum"]) if "scoreMaximum" in line else None,
        )
        if link.lineitem_id:
            li = store.lineitems[link.lineitem_id]
            li.label = str(line.get("label") or link.title)
            li.resource_id = str(line.get("resourceId", ""))
            li.tag = str(line.get("tag", ""))
            # Kept only when well-formed, as an LMS ignores a due date it cannot read.
            end = line.get("endDateTime")
            li.end_date_time = end if parse_ts(end) is not None else None
        created.append(link)
    with store.lock:
        store.deep_link_responses.append(claims)
    return render_template("platform/added.html", links=created)


def _launch_message(
    store: PlatformStore, params: dict[str, str], member: Any, pending: PendingLogin
) -> dict[str, Any] | ResponseReturnValue:
    conf = DemoPlatformConf(store=store)
    launch = DemoLaunch(PreflightRequest(params), conf)
    launch._registration = conf.get_registration()  # noqa: SLF001 - the library's own flow
    try:
        launch.validate_preflight_response(params)
    except Exception:  # noqa: BLE001 - the library raises a bare validation error
        return error(400, "invalid preflight response")
    assert store.tool is not None
    launch.set_user_data(
        member.user_id,
        member.roles,
        full_name=member.name if store.share_names else None,
        email_address=member.email if store.share_names else None,
    )
    launch.set_launch_context_claim(
        store.context_id,
        ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
        store.context_title,
        store.context_id.upper(),
    )
    launch.set_launch_presentation_claim("iframe", f"{store.issuer}/")
    extra: dict[str, Any] = {
        C.TOOL_PLATFORM: {
            "product_family_code": "metis-demo",
            "name": "Metis demo LMS",
            "guid": store.issuer,
            "version": "1",
        },
        C.NRPS: {
            "context_memberships_url": f"{store.issuer}/nrps/{store.context_id}/memberships",
            "service_versions": ["1.0", "2.0"],
        },
    }
    if pending.kind == "deep_link":
        launch.set_launch_url(store.tool.deep_link_url or store.tool.launch_url)
        extra[C.MESSAGE_TYPE] = C.DEEP_LINKING_REQUEST
        extra[C.DL_SETTINGS] = {
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": True,
            "auto_create": False,
            "deep_link_return_url": f"{store.issuer}/deep_link_return",
            "data": "opaque-" + params["state"][:8],
        }
    else:
        link = store.links.get(str(pending.link))
        if link is None:
            return error(400, "unknown resource link for this launch")
        launch.set_resource_link_claim(link.id, title=link.title)
        if link.custom:
            launch.set_custom_parameters_claim(dict(link.custom))
        ags: dict[str, Any] = {
            "scope": list(ALL_SCOPES),
            "lineitems": f"{store.issuer}/ags/{store.context_id}/lineitems",
        }
        if link.lineitem_id:
            ags["lineitem"] = lineitem_url(store, link.lineitem_id)
        extra[C.AGS] = ags
    launch.set_extra_claims(extra)
    message, _state = launch.get_launch_data()
    return message


def _sign(store: PlatformStore, message: dict[str, Any], tweaks: LaunchTweaks) -> str:
    if tweaks.raw_id_token is not None:
        return tweaks.raw_id_token
    message = dict(message)
    message.update(tweaks.set_claims)
    for (name, inner), value in tweaks.set_fields.items():
        parent = message.get(name)
        message[name] = {**(parent if isinstance(parent, dict) else {}), inner: value}
    for name in tweaks.drop_claims:
        message.pop(name, None)
    iat = int(time.time()) + tweaks.iat_offset_s
    if not tweaks.omit_iat:
        message["iat"] = iat
    if tweaks.exp_in_s is not None:
        message["exp"] = iat + tweaks.exp_in_s
    kid, pem = store.signing_key
    if tweaks.sign_with_other_key:
        pem = store.other_key[1]
    if tweaks.kid is not None:
        kid = tweaks.kid
    headers = tweaks.header if tweaks.header is not None else {"kid": kid}
    # What Registration.encode_and_sign does, with the key parsed once (see conf.private_key).
    # Signed as JWS over the JSON: PyJWT's jwt.encode would refuse a bent claim (an `iss`
    # that is not a string) that a test wants Metis to see.
    payload = json.dumps(message, separators=(",", ":")).encode()
    return jwt.api_jws.encode(
        payload, private_key(pem), algorithm="RS256", headers={"typ": "JWT", **headers}
    )
