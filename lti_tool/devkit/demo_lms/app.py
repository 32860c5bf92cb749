"""The platform's HTTP side: course page, OIDC auth, JWKS, token, AGS, NRPS, deep-link return."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from jwcrypto.jwk import JWK
from lti1p3platform.exceptions import LtiException

from lti_tool.devkit.demo_lms.conf import (
    DemoLaunch,
    DemoPlatformConf,
    PreflightRequest,
    private_key,
    public_pem,
)
from lti_tool.devkit.demo_lms.store import LaunchTweaks, PlatformStore
from lti_tool.lti import claims as C

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
ALL_SCOPES = [
    C.SCOPE_LINEITEM,
    C.SCOPE_LINEITEM_READONLY,
    C.SCOPE_SCORE,
    C.SCOPE_RESULT_READONLY,
]


def create_platform_app(store: PlatformStore) -> Flask:
    app = Flask("metis_demo_platform", template_folder=str(TEMPLATES))
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.extensions["platform.store"] = store
    _routes(app, store)
    return app


def _error(status: int, message: str) -> ResponseReturnValue:
    return jsonify(error=message), status


def _lineitem_url(store: PlatformStore, item_id: str) -> str:
    # Moodle's line item URLs carry a query string that must survive "/scores".
    return f"{store.issuer}/ags/{store.context_id}/lineitems/{item_id}/lineitem?type_id=1"


def _lineitem_json(store: PlatformStore, item: Any) -> dict[str, Any]:
    body = {
        "id": _lineitem_url(store, item.id),
        "label": item.label,
        "scoreMaximum": item.score_maximum,
        "resourceId": item.resource_id,
        "tag": item.tag,
    }
    if item.resource_link_id:
        body["resourceLinkId"] = item.resource_link_id
    if item.end_date_time:
        body["endDateTime"] = item.end_date_time
    return body


def _lineitem_response(store: PlatformStore, item: Any) -> Response:
    resp = jsonify(_lineitem_json(store, item))
    resp.headers["Content-Type"] = LINEITEM_TYPE
    return resp


def _lineitem_update(body: Any) -> tuple[str, float, str | None] | str:
    """The tool-owned fields of a line item PUT, or why they are refused."""
    if not isinstance(body, dict):
        return "the line item must be a JSON object"
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        return "label is required"
    maximum = body.get("scoreMaximum")
    if isinstance(maximum, bool) or not isinstance(maximum, int | float) or not maximum > 0:
        return "scoreMaximum must be a number above 0"
    end = body.get("endDateTime")
    if end is not None and _parse_ts(end) is None:
        return "endDateTime must be ISO 8601 with a time zone"
    return label, float(maximum), end


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None


def _routes(app: Flask, store: PlatformStore) -> None:  # noqa: C901 - one place for the URL map
    def bearer_ok(scope: str) -> bool:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with store.lock:
            if token not in store.valid_tokens:
                return False
        try:
            claims = jwt.decode(
                token,
                public_pem(store.signing_key[1]),
                algorithms=["RS256"],
                options={"verify_aud": False},
            )
        except jwt.InvalidTokenError:
            return False
        return scope in str(claims.get("scopes", "")).split()

    @app.get("/")
    def course() -> ResponseReturnValue:
        return render_template(
            "platform/course.html", store=store, people=store.people(), tool_origin=tool_origin()
        )

    @app.get("/gradebook")
    def gradebook() -> ResponseReturnValue:
        columns, rows = store.gradebook()
        return render_template("platform/gradebook.html", store=store, columns=columns, rows=rows)

    def tool_origin() -> str:
        assert store.tool is not None
        parts = urlsplit(store.tool.login_url)
        return f"{parts.scheme}://{parts.netloc}"

    @app.get("/lti/storage")
    def storage_frame() -> ResponseReturnValue:
        """The hidden frame named by lti_storage_target: the platform side of the LTI
        client-side postMessage storage, answering only the tool's origin."""
        return render_template("platform/storage_frame.html", tool_origin=tool_origin())

    @app.get("/launch")
    def start_launch() -> ResponseReturnValue:
        """Step 1: the third-party initiated login, as an auto-submitting form (like Moodle)."""
        assert store.tool is not None
        user = request.args.get("user", "101")
        link_id = request.args.get("link")
        deep = request.args.get("deep_link") == "1"
        if user not in store.members or (not deep and link_id not in store.links):
            return _error(404, "unknown user or link")
        hint = json.dumps({"kind": "deep_link" if deep else "resource", "link": link_id})
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
            return Response(
                status=302, headers={"Location": store.tool.login_url + "?" + urlencode(fields)}
            )
        return render_template("platform/autopost.html", action=store.tool.login_url, fields=fields)

    @app.route("/auth", methods=["GET", "POST"])
    def auth() -> ResponseReturnValue:
        """Step 2: the OIDC authentication request; answers with the signed id_token."""
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
            return _error(400, "invalid authentication request: " + ", ".join(bad))
        assert store.tool is not None
        if params.get("redirect_uri") not in store.tool.allowed_redirects():
            return _error(400, "redirect_uri is not registered for this tool")
        member = store.members.get(params.get("login_hint", ""))
        if member is None:
            return _error(400, "unknown login_hint")
        try:
            hint = json.loads(params.get("lti_message_hint", "{}"))
        except ValueError:
            return _error(400, "lti_message_hint is not ours")
        message = _launch_message(store, params, member, hint)
        if not isinstance(message, dict):
            return message
        tweaks = store.take_tweaks()
        id_token = _sign(store, message, tweaks)
        return render_template(
            "platform/autopost.html",
            action=params["redirect_uri"],
            fields={"id_token": id_token, "state": tweaks.state or params["state"]},
        )

    @app.get("/jwks")
    def jwks() -> ResponseReturnValue:
        keys = []
        for kid, pem in store.keys:
            jwk = json.loads(JWK.from_pem(pem.encode()).export_public())
            jwk.update(kid=kid, alg="RS256", use="sig")
            keys.append(jwk)
        return jsonify(keys=keys)

    @app.post("/token")
    def token() -> ResponseReturnValue:
        conf = DemoPlatformConf(store=store)
        conf.get_registration()
        form = {k: str(v) for k, v in request.form.items()}
        try:
            assertion = jwt.decode(
                form.get("client_assertion", ""), options={"verify_signature": False}
            )
        except jwt.InvalidTokenError:
            return _error(400, "invalid_request: client_assertion is not a JWT")
        if assertion.get("sub") != store.client_id or assertion.get("iss") != store.client_id:
            return _error(401, "invalid_client: sub/iss must be the client_id")
        try:
            answer = conf.get_access_token(form)
        except (LtiException, jwt.InvalidTokenError, AssertionError) as exc:
            return _error(401, f"invalid_client: {type(exc).__name__}: {exc}")
        with store.lock:
            store.valid_tokens.add(answer["access_token"])
            store.tokens_issued += 1
        return jsonify(answer)

    @app.route("/ags/<ctx>/lineitems", methods=["GET", "POST"])
    def lineitems(ctx: str) -> ResponseReturnValue:
        if ctx != store.context_id:
            return _error(404, "unknown context")
        if request.method == "POST":
            if not bearer_ok(C.SCOPE_LINEITEM):
                return _error(401, "invalid token")
            body = request.get_json(force=True, silent=True) or {}
            if "label" not in body or "scoreMaximum" not in body:
                return _error(400, "label and scoreMaximum are required")
            item = store.add_lineitem(
                str(body["label"]),
                float(body["scoreMaximum"]),
                body.get("resourceLinkId"),
                str(body.get("resourceId", "")),
                str(body.get("tag", "")),
            )
            return jsonify(_lineitem_json(store, item)), 201
        if not (bearer_ok(C.SCOPE_LINEITEM_READONLY) or bearer_ok(C.SCOPE_LINEITEM)):
            return _error(401, "invalid token")
        return jsonify([_lineitem_json(store, i) for i in store.lineitems.values()])

    @app.route("/ags/<ctx>/lineitems/<item_id>/lineitem", methods=["GET", "PUT"])
    def lineitem(ctx: str, item_id: str) -> ResponseReturnValue:
        item = store.lineitems.get(item_id)
        if item is None or ctx != store.context_id:
            return _error(404, "unknown line item")
        if request.method == "PUT":
            # Column management: only the "lineitem" scope may change a column.
            if not bearer_ok(C.SCOPE_LINEITEM):
                return _error(401, "invalid token")
            if request.mimetype != LINEITEM_TYPE:
                return _error(415, f"content type must be {LINEITEM_TYPE}")
            update = _lineitem_update(request.get_json(force=True, silent=True))
            if isinstance(update, str):
                return _error(400, update)
            label, maximum, end = update
            item = store.update_lineitem(
                item_id, label=label, score_maximum=maximum, end_date_time=end
            )
            return _lineitem_response(store, item)
        if not (bearer_ok(C.SCOPE_LINEITEM_READONLY) or bearer_ok(C.SCOPE_LINEITEM)):
            return _error(401, "invalid token")
        return _lineitem_response(store, item)

    @app.post("/ags/<ctx>/lineitems/<item_id>/lineitem/scores")
    def scores(ctx: str, item_id: str) -> ResponseReturnValue:
        fault = store.next_score_fault()
        if fault == "hang":
            time.sleep(store.hang_s)
        elif fault:
            return _error(int(fault), f"injected fault {fault}")
        item = store.lineitems.get(item_id)
        if item is None or ctx != store.context_id or request.args.get("type_id") != "1":
            return _error(404, "unknown line item")
        if not bearer_ok(C.SCOPE_SCORE):
            return _error(401, "invalid token")
        if request.mimetype != SCORE_TYPE:
            return _error(415, f"content type must be {SCORE_TYPE}")
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return _error(400, "score must be a JSON object")
        missing = [
            k
            for k in ("userId", "timestamp", "activityProgress", "gradingProgress")
            if k not in body
        ]
        if missing:
            return _error(400, "missing: " + ", ".join(missing))
        ts = _parse_ts(body["timestamp"])
        if ts is None:
            return _error(400, "timestamp must be ISO 8601 with a time zone")
        user = str(body["userId"])
        with store.lock:
            store.score_posts.append(dict(body))
            previous = item.results.get(user)
            if previous is not None and ts <= previous["_ts"]:
                return _error(409, "timestamp is not newer than the stored grade")
            result: dict[str, Any] = {
                "_ts": ts,
                "timestamp": body["timestamp"],
                "comment": body.get("comment"),
            }
            given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
            if body["gradingProgress"] == "FullyGraded" and given is not None and maximum:
                result["resultScore"] = float(given) / float(maximum) * item.score_maximum
            else:
                result["resultScore"] = None  # Moodle clears the grade
            item.results[user] = result
        return Response(status=200)

    @app.get("/ags/<ctx>/lineitems/<item_id>/lineitem/results")
    def results(ctx: str, item_id: str) -> ResponseReturnValue:
        item = store.lineitems.get(item_id)
        if item is None or ctx != store.context_id:
            return _error(404, "unknown line item")
        if not bearer_ok(C.SCOPE_RESULT_READONLY):
            return _error(401, "invalid token")
        only = request.args.get("user_id")
        out = [
            {
                "id": f"{_lineitem_url(store, item.id)}&result={uid}",
                "scoreOf": _lineitem_url(store, item.id),
                "userId": uid,
                "resultScore": r["resultScore"],
                "resultMaximum": item.score_maximum,
                "comment": r["comment"],
                "timestamp": r["timestamp"],
            }
            for uid, r in sorted(item.results.items())
            if only is None or only == uid
        ]
        resp = jsonify(out)
        resp.headers["Content-Type"] = "application/vnd.ims.lis.v2.resultcontainer+json"
        return resp

    @app.get("/nrps/<ctx>/memberships")
    def memberships(ctx: str) -> ResponseReturnValue:
        if ctx != store.context_id:
            return _error(404, "unknown context")
        if not bearer_ok(C.SCOPE_NRPS):
            return _error(401, "invalid token")
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            return _error(400, "page must be a number")
        members = list(store.members.values())
        size = store.members_page_size
        chunk = members[(page - 1) * size : page * size]
        url = f"{store.issuer}/nrps/{ctx}/memberships"
        body = {
            "id": url,
            "context": {"id": ctx, "title": store.context_title},
            "members": [
                {
                    "user_id": m.user_id,
                    "name": m.name,
                    "email": m.email,
                    "status": "Active",
                    "roles": [
                        "Instructor" if any("Instructor" in r for r in m.roles) else "Learner"
                    ],
                }
                for m in chunk
            ],
        }
        resp = jsonify(body)
        resp.headers["Content-Type"] = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        if page < math.ceil(len(members) / size):
            resp.headers["Link"] = f'<{url}?page={page + 1}>; rel="next"'
        return resp

    @app.post("/deep_link_return")
    def deep_link_return() -> ResponseReturnValue:
        """Verify the tool's response JWT against the tool's JWKS, then create the links."""
        conf = DemoPlatformConf(store=store)
        conf.get_registration()
        token = request.form.get("JWT", "")
        try:
            items = conf.validate_deeplinking_resp({"JWT": token})
            claims = jwt.decode(token, options={"verify_signature": False})
        except (LtiException, jwt.InvalidTokenError, AssertionError, KeyError) as exc:
            return _error(400, f"deep linking response refused: {type(exc).__name__}: {exc}")
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != store.client_id or store.issuer not in auds:
            return _error(400, "deep linking response: iss must be the client_id, aud the issuer")
        if claims.get(C.DEPLOYMENT_ID) != store.deployment_id:
            return _error(400, "deep linking response: wrong deployment_id")
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
                li.end_date_time = end if _parse_ts(end) is not None else None
            created.append(link)
        with store.lock:
            store.deep_link_responses.append(claims)
        return render_template("platform/added.html", links=created)


def _launch_message(
    store: PlatformStore, params: dict[str, str], member: Any, hint: dict[str, Any]
) -> dict[str, Any] | ResponseReturnValue:
    conf = DemoPlatformConf(store=store)
    launch = DemoLaunch(PreflightRequest(params), conf)
    launch._registration = conf.get_registration()  # noqa: SLF001 - the library's own flow
    try:
        launch.validate_preflight_response(params)
    except Exception:  # noqa: BLE001 - the library raises a bare validation error
        return _error(400, "invalid preflight response")
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
    if hint.get("kind") == "deep_link":
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
        link = store.links.get(str(hint.get("link")))
        if link is None:
            return _error(400, "unknown resource link in lti_message_hint")
        launch.set_resource_link_claim(link.id, title=link.title)
        if link.custom:
            launch.set_custom_parameters_claim(dict(link.custom))
        ags: dict[str, Any] = {
            "scope": list(ALL_SCOPES),
            "lineitems": f"{store.issuer}/ags/{store.context_id}/lineitems",
        }
        if link.lineitem_id:
            ags["lineitem"] = _lineitem_url(store, link.lineitem_id)
        extra[C.AGS] = ags
    launch.set_extra_claims(extra)
    message, _state = launch.get_launch_data()
    return message


def _sign(store: PlatformStore, message: dict[str, Any], tweaks: LaunchTweaks) -> str:
    if tweaks.raw_id_token is not None:
        return tweaks.raw_id_token
    message = dict(message)
    message.update(tweaks.set_claims)
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
    return jwt.encode(message, private_key(pem), algorithm="RS256", headers=headers)
