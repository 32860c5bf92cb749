"""The demo LMS's LTI Advantage services, behaving as Moodle does where docs/moodle-lti.md says
how: AGS line items, scores and results, and the NRPS roster."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any

import jwt
from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from lti_tool.devkit.demo_lms.conf import public_pem
from lti_tool.devkit.demo_lms.store import Grade, LineItem, PlatformStore, platform_store
from lti_tool.lti import claims as C

bp = Blueprint("services", __name__)

SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
ALL_SCOPES = [
    C.SCOPE_LINEITEM,
    C.SCOPE_LINEITEM_READONLY,
    C.SCOPE_SCORE,
    C.SCOPE_RESULT_READONLY,
]


def error(status: int, message: str) -> ResponseReturnValue:
    return jsonify(error=message), status


def lineitem_url(store: PlatformStore, item_id: str) -> str:
    # Moodle's line item URLs carry a query string that must survive "/scores".
    return f"{store.issuer}/ags/{store.context_id}/lineitems/{item_id}/lineitem?type_id=1"


def _lineitem_json(store: PlatformStore, item: Any) -> dict[str, Any]:
    body = {
        "id": lineitem_url(store, item.id),
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
    if end is not None and parse_ts(end) is None:
        return "endDateTime must be ISO 8601 with a time zone"
    return label, float(maximum), end


def parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else None



def bearer_ok(scope: str) -> bool:
    """Whether the request carries a service token this platform issued, with `scope`."""
    store = platform_store()
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


@bp.route("/ags/<ctx>/lineitems", methods=["GET", "POST"])
def lineitems(ctx: str) -> ResponseReturnValue:
    store = platform_store()
    if ctx != store.context_id:
        return error(404, "unknown context")
    if request.method == "POST":
        if not bearer_ok(C.SCOPE_LINEITEM):
            return error(401, "invalid token")
        body = request.get_json(force=True, silent=True) or {}
        if "label" not in body or "scoreMaximum" not in body:
            return error(400, "label and scoreMaximum are required")
        item = store.add_lineitem(
            str(body["label"]),
            float(body["scoreMaximum"]),
            body.get("resourceLinkId"),
            str(body.get("resourceId", "")),
            str(body.get("tag", "")),
        )
        return jsonify(_lineitem_json(store, item)), 201
    if not (bearer_ok(C.SCOPE_LINEITEM_READONLY) or bearer_ok(C.SCOPE_LINEITEM)):
        return error(401, "invalid token")
    return jsonify([_lineitem_json(store, i) for i in store.lineitems.values()])


@bp.route("/ags/<ctx>/lineitems/<item_id>/lineitem", methods=["GET", "PUT"])
def lineitem(ctx: str, item_id: str) -> ResponseReturnValue:
    store = platform_store()
    item = store.lineitems.get(item_id)
    if item is None or ctx != store.context_id:
        return error(404, "unknown line item")
    if request.method == "PUT":
        # Column management: only the "lineitem" scope may change a column.
        if not bearer_ok(C.SCOPE_LINEITEM):
            return error(401, "invalid token")
        if request.mimetype != LINEITEM_TYPE:
            return error(415, f"content type must be {LINEITEM_TYPE}")
        update = _lineitem_update(request.get_json(force=True, silent=True))
        if isinstance(update, str):
            return error(400, update)
        label, maximum, end = update
        item = store.update_lineitem(
            item_id, label=label, score_maximum=maximum, end_date_time=end
        )
        return _lineitem_response(store, item)
    if not (bearer_ok(C.SCOPE_LINEITEM_READONLY) or bearer_ok(C.SCOPE_LINEITEM)):
        return error(401, "invalid token")
    return _lineitem_response(store, item)


@bp.post("/ags/<ctx>/lineitems/<item_id>/lineitem/scores")
def scores(ctx: str, item_id: str) -> ResponseReturnValue:
    store = platform_store()
    fault = store.next_score_fault()
    if fault == "hang":
        time.sleep(store.hang_s)
    elif fault:
        return error(int(fault), f"injected fault {fault}")
    item = store.lineitems.get(item_id)
    if item is None or ctx != store.context_id or request.args.get("type_id") != "1":
        return error(404, "unknown line item")
    if not bearer_ok(C.SCOPE_SCORE):
        return error(401, "invalid token")
    if request.mimetype != SCORE_TYPE:
        return error(415, f"content type must be {SCORE_TYPE}")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return error(400, "score must be a JSON object")
    missing = [
        k
        for k in ("userId", "timestamp", "activityProgress", "gradingProgress")
        if k not in body
    ]
    if missing:
        return error(400, "missing: " + ", ".join(missing))
    ts = parse_ts(body["timestamp"])
    if ts is None:
        return error(400, "timestamp must be ISO 8601 with a time zone")
    given, maximum = body.get("scoreGiven"), body.get("scoreMaximum")
    if given is not None and (not _number(given) or not _number(maximum) or not maximum):
        return error(400, "scoreGiven needs a numeric scoreMaximum above 0")
    user = str(body["userId"])
    with store.lock:
        store.score_posts.append(dict(body))
    # A held score waits here, received but not processed: the platform's clock keeps going.
    store.wait_if_held()
    score = None
    if body["gradingProgress"] == "FullyGraded" and given is not None and maximum:
        score = float(given) / float(maximum) * item.score_maximum
    # Any other gradingProgress clears the grade, as in Moodle.
    comment = body.get("comment") if isinstance(body.get("comment"), str) else None
    if not store.save_score(item, user, ts, str(body["timestamp"]), score, comment):
        return error(409, "Refusing score with an earlier timestamp for item "
                          f"{item.id} and user {user}")
    return Response(status=200)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@bp.get("/ags/<ctx>/lineitems/<item_id>/lineitem/results")
def results(ctx: str, item_id: str) -> ResponseReturnValue:
    store = platform_store()
    item = store.lineitems.get(item_id)
    if item is None or ctx != store.context_id:
        return error(404, "unknown line item")
    if not bearer_ok(C.SCOPE_RESULT_READONLY):
        return error(401, "invalid token")
    only = request.args.get("user_id")
    with store.lock:
        grades = sorted(item.results.items())
    # Like Moodle (result_for_json): only grades with a time; a grade without a score is just
    # its id and user; `timestamp` is when the platform processed the score, not the score's.
    out = [
        result_json(store, item, uid, g)
        for uid, g in grades
        if (only is None or only == uid) and g.timemodified is not None
    ]
    resp = jsonify(out)
    resp.headers["Content-Type"] = "application/vnd.ims.lis.v2.resultcontainer+json"
    return resp


def result_json(store: PlatformStore, item: LineItem, uid: str, grade: Grade) -> dict[str, Any]:
    result: dict[str, Any] = {"id": f"{lineitem_url(store, item.id)}&user_id={uid}",
                              "userId": uid}
    if grade.result_score is not None:
        result.update(resultScore=grade.result_score, resultMaximum=item.score_maximum,
                      scoreOf=lineitem_url(store, item.id), timestamp=grade.graded_at)
        if grade.comment:
            result["comment"] = grade.comment
    return result


@bp.get("/nrps/<ctx>/memberships")
def memberships(ctx: str) -> ResponseReturnValue:
    store = platform_store()
    if ctx != store.context_id:
        return error(404, "unknown context")
    if not bearer_ok(C.SCOPE_NRPS):
        return error(401, "invalid token")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        return error(400, "page must be a number")
    members = list(store.members.values())
    size = store.members_page_size
    chunk = members[(page - 1) * size : page * size]
    url = f"{store.issuer}/nrps/{ctx}/memberships"
    body = {
        "id": url,
        "context": {"id": ctx, "title": store.context_title},
        # As Moodle's memberships service: names and emails only when the tool's privacy
        # settings share them ("Share launcher's name with tool").
        "members": [
            {
                "user_id": m.user_id,
                **({"name": m.name, "email": m.email} if store.share_names else {}),
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
