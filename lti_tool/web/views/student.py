"""The student's practice page: the current set, the answer POST with its feedback, hints one at
a time, and live updates (SSE with a polling fallback). Thin: grading and storage live in
lti_tool.core.answers.submit, reading in lti_tool.core.practice.page_state, words in
lti_tool.web.messages."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from redis import RedisError

from lti_tool.core.answers import submit as events
from lti_tool.core.outbox import relay
from lti_tool.core.parsing import MAX_ID, parse_id
from lti_tool.core.practice import live as practice_cache
from lti_tool.core.practice import page_state as practice
from lti_tool.core.practice.page_state import Place, place_of, set_view
from lti_tool.lti.roles import Role
from lti_tool.task_queue import ADAPT_TASK
from lti_tool.web import practice_text
from lti_tool.web.access import require_launch
from lti_tool.web.after_response import after_response
from lti_tool.web.extensions import celery_client, database, redis_client
from lti_tool.web.ids import field_count, field_id, read_id
from lti_tool.web.messages import catalogue, t

log = logging.getLogger("metis.student")
bp = Blueprint("student", __name__)

STREAM_SECONDS = 55  # then the browser reconnects (EventSource does it by itself)
HEARTBEAT_SECONDS = 10
RELAY_EVERY_S = 10.0
_last_relay = 0.0


def send_event(event_id: str) -> None:
    celery_client().send_task(ADAPT_TASK, args=[event_id], retry=False)


@bp.before_app_request
def relay_outbox() -> None:
    """Answers stored while Redis was down go out with the first request once it is back."""
    global _last_relay
    now = time.monotonic()
    if now - _last_relay < RELAY_EVERY_S:
        return
    _last_relay = now
    try:
        relay(database(), send_event, limit=200)
    except Exception:  # noqa: BLE001 - the relay must never break the page being served
        log.exception("outbox relay from the web process failed")


def _place() -> Place:
    launch = g.launch
    if launch.user_id is None:
        _refuse(403, t("student.error.no_user"))
    with database().session() as s:
        place = place_of(s, launch.platform_id, launch.resource_link_id)
    if place is None or place.bank_id is None:
        _refuse(404, t("student.error.no_practice"))
    return place


def _refuse(status: int, reason: str) -> NoReturn:
    """Stop with the friendly refusal page (JSON for the page's own fetches)."""
    if request.accept_mimetypes.best == "application/json":
        abort(make_response(jsonify(error=reason), status))
    page = render_template("lti/error.html", reason=reason, detail="", status=status)
    abort(make_response(page, status))


def _state(place: Place) -> dict[str, Any]:
    with database().session() as s:
        return practice_text.worded(practice.page_state(s, place, g.launch.user_id))


@bp.get("/student/<launch_id>")
@require_launch(Role.learner)
def page(launch_id: str) -> ResponseReturnValue:
    place = _place()
    shown = None
    answered = request.args.get("answered", "")
    if answered:
        # The page after a form POST without JS: the reveal of that answer (this student's only).
        with database().session() as s:
            shown = practice.answered(s, place, g.launch.user_id, answered[:64])
    return _render_page(place, launch_id, answered=shown)


def _render_page(place: Place, launch_id: str, *, answered: dict[str, Any] | None = None,
                 error: str = "", error_for: int | None = None, status: int = 200
                 ) -> ResponseReturnValue:
    """The practice page; `error` sits next to question `error_for` when that question is in
    the set shown, else at the top (a refused answer without JS)."""
    state = _state(place)
    in_set = {item["item_id"] for item in state["items"]}
    if error_for not in in_set:
        error_for = None
    # After a refused answer without JS the open hints come in the posted form: the question
    # answered keeps its own count too.
    opened = _opened_hints(request.values)
    seen = field_count(request.form, events.HINTS_FIELD, 0, MAX_HINTS)
    if error_for is not None and seen > 0:
        opened[error_for] = seen
    shown = {i: _shown_hints(place, i, n) for i, n in opened.items() if i in in_set}
    html = render_template(
        "student/practice.html", launch_id=launch_id, place=place, state=state,
        answered=answered, shown_hints={i: h for i, h in shown.items() if h},
        error=error, error_for=error_for,
        js_messages=catalogue().bundle("student."),
    )
    return html, status


MAX_HINTS = 20
# An ASCII-digit item id after the "h": other names are not this page's (and "h①" is not one).
_OPENED = re.compile(r"h([0-9]+)")


def _opened_hints(params: Mapping[str, str]) -> dict[int, int]:
    """Without JS, the page's URL remembers how many hints each question has open: one
    `h<item id>=<count>` per question, and `hints_for`/`hints` for the one just asked for.
    Every hint form and answer form carries the others forward, so a hint opened on one
    question is still counted when another is answered first. An id or count that is not
    one is refused with its reason (lti_tool.web.ids)."""
    opened: dict[int, int] = {}
    for key in list(params.keys())[:200]:
        found = _OPENED.fullmatch(key)
        if found:
            opened[read_id(key, found[1])] = field_count(params, key, 0, MAX_HINTS)
    asked = field_id(params, "hints_for", required=False)
    if asked is not None:
        opened[asked] = field_count(params, "hints", 1, MAX_HINTS)
    return {i: n for i, n in opened.items() if n > 0}


def _shown_hints(place: Place, item_id: int, count: int) -> list[str]:
    """The first `count` hints of a question (as many as it has), for the page without JS."""
    found: list[str] = []
    with database().session() as s:
        for n in range(min(max(count, 1), MAX_HINTS)):
            hint = practice.hint(s, place, item_id, n)
            if hint is None:
                break
            found.append(hint[0])
    return found


@bp.get("/student/<launch_id>/state")
@require_launch(Role.learner)
def state(launch_id: str) -> ResponseReturnValue:
    return jsonify(_state(_place()))


@bp.get("/student/<launch_id>/items/<id:item_id>/hint")
@require_launch(Role.learner)
def hint(launch_id: str, item_id: int) -> ResponseReturnValue:
    """One hint, on request, for an item of this activity's bank. Hints come one at a time from
    here rather than hidden in the page so that what the student has not asked for is not in
    the page, and so that hint use could be counted on the server later."""
    place = _place()
    n = field_count(request.args, "n", 0, MAX_ID)
    with database().session() as s:
        if practice.bank_item(s, place, item_id) is None:
            return jsonify(error=t("student.error.unknown_item")), 404
        found = practice.hint(s, place, item_id, n)
    if found is None:
        return jsonify(error=t("student.error.no_more_hints")), 404
    html, total = found
    return jsonify(n=n, hint=html, total=total, more=n + 1 < total)


@bp.post("/student/<launch_id>/answer")
@require_launch(Role.learner)
def answer(launch_id: str) -> ResponseReturnValue:
    place = _place()
    launch = g.launch
    wants_json = request.accept_mimetypes.best == "application/json"

    def refuse(message: str, status: int = 400, item_id: int | None = None
               ) -> ResponseReturnValue:
        return _refused(place, launch_id, wants_json, message, status, item_id)

    item_id = parse_id(request.form.get("item_id"))
    if item_id is None:
        return refuse(t("student.error.which_question"))
    # Read (and refused if malformed) before the answer is stored, never after.
    still_open: dict[str, Any] = {
        f"h{i}": n for i, n in _opened_hints(request.form).items() if i != item_id}
    learner = events.Learner(launch.platform_id, launch.deployment_id, launch.context_id,
                             place.activity_id, launch.user_id, launch.resource_link_id)
    started = time.perf_counter()
    try:
        stored = events.submit(database(), learner, item_id, request.form, send_event,
                               after_response)
    except events.UnknownItem:
        return refuse(t("student.error.unknown_item"), 404)
    except events.AlreadyAnswered:
        return refuse(t("student.error.already_answered"), 409, item_id)
    except events.GradingError as exc:
        return refuse(t(exc.key, **exc.params), 400, item_id)
    # Grade + store + enqueue, for `metis bench pipeline` and browser dev tools.
    timing = {"Server-Timing": f"submit;dur={(time.perf_counter() - started) * 1000:.2f}"}
    if not wants_json:
        # The other questions' open hints stay open (and counted) on the page that follows.
        return redirect(url_for("student.page", launch_id=launch_id, answered=stored.event_id,
                                _anchor="answer-feedback", **still_open), code=303)
    with database().session() as s:
        item = practice.bank_item(s, place, item_id)
        shown = practice.reveal(item, stored.credit, stored.feedback, stored.response,
                                tries_left=stored.tries_left, tries_used=stored.tries_used
                                ) if item else {}
    verdict = "student.correct" if stored.correct else \
        "student.partly_right" if stored.credit > 0 else "student.incorrect"
    if stored.tries_left:
        verdict = "student.try_again"
    body = {**shown, "event_id": stored.event_id, "correct": stored.correct,
            "credit": stored.credit, "queued": stored.queued, "message": t(verdict)}
    return jsonify(body), 202, timing


def _refused(place: Place, launch_id: str, wants_json: bool, message: str, status: int,
             item_id: int | None) -> ResponseReturnValue:
    """A refused answer: the script shows the message next to its question; without JS the
    page comes back with the message there (the choices have to be made again)."""
    if wants_json:
        return jsonify(error=message), status
    return _render_page(place, launch_id, error=message, error_for=item_id, status=status)


@bp.get("/student/<launch_id>/events")
@require_launch(Role.learner)
def stream(launch_id: str) -> ResponseReturnValue:
    place = _place()
    user_id = g.launch.user_id
    last_seen = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    try:
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(practice_cache.channel(user_id, place.activity_id))
    except RedisError:
        # No live updates now: the page falls back to polling /state.
        return jsonify(error="live updates are unavailable; the page will poll"), 503

    def render(payload: dict[str, Any]) -> str:
        with database().session() as s:
            payload = {**payload, "items": set_view(s, place, payload.get("items", []))}
            payload = practice_text.worded(practice.with_standing(s, place, user_id, payload))
        return f"id: {payload.get('revision') or ''}\nevent: practice-set\n" \
               f"data: {json.dumps(payload)}\n\n"

    def generate() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            # A set that was published before this stream opened is sent at once.
            cached = practice_cache.read(redis_client(), user_id, place.activity_id)
            if cached and cached.get("revision") and cached.get("revision") != last_seen:
                yield render(cached)
            deadline = time.monotonic() + STREAM_SECONDS
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=HEARTBEAT_SECONDS)
                if message is None:
                    yield ": keep-alive\n\n"
                    continue
                yield render(json.loads(message["data"]))
        except RedisError:
            yield "event: unavailable\ndata: {}\n\n"
        finally:
            pubsub.close()

    return Response(
        stream_with_context(generate()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
