"""Ids in URLs and forms (issue 12): the `id` converter's bounds, the field readers, NUL, and
each request of the issue that answered 500, now a 4xx that says why."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from werkzeug.test import TestResponse

from lti_tool.core.parsing import MAX_ID
from lti_tool.web import page_token
from lti_tool.web.ids import field_count, form_id, query_id
from lti_tool.web.security import csrf
from tests.support.lti_world import LtiWorld
from tests.support.route_fuzz import Launched, launch_everyone

HUGE = str(MAX_ID + 1)


@pytest.fixture()
def probe(app: Flask) -> FlaskClient:
    """The real app with one extra route taking an id in its path, a query and a form."""

    @app.route("/probe-ids/<id:thing_id>", methods=["GET", "POST"])
    def probe_ids(thing_id: int) -> ResponseReturnValue:
        return jsonify(path=thing_id, query=query_id("q", required=False),
                       form=form_id("f", required=False) if request.method == "POST" else None,
                       n=field_count(request.args, "n", 0, 20))

    csrf(app).exempt(probe_ids)  # the forms of this probe are not the point
    return app.test_client()


@pytest.mark.parametrize("good", ["1", "42", str(MAX_ID), "007"])
def test_an_id_in_the_path_within_bounds_reaches_the_view(probe: FlaskClient, good: str) -> None:
    r = probe.get(f"/probe-ids/{good}")
    assert r.status_code == 200 and r.json["path"] == int(good)


@pytest.mark.parametrize("bad", ["0", "-1", HUGE, str(2**64), "9" * 400, "①", "٣", "²", "1.0",
                                 "+1", "0x10", "abc", "1 2"])
def test_any_other_path_segment_is_a_404_that_says_why(probe: FlaskClient, bad: str) -> None:
    r = probe.get(f"/probe-ids/{bad}", headers={"Accept": "application/json"})
    assert r.status_code == 404
    assert "is not an id: ids are whole numbers from 1 to 9223372036854775807" in r.json["error"]
    page = probe.get(f"/probe-ids/{bad}")
    assert page.status_code == 404 and "in this address is not an id" in page.text
    assert "Traceback" not in page.text


def test_fields_are_read_with_the_same_bounds(probe: FlaskClient) -> None:
    ok = probe.post("/probe-ids/1?q=2&n=99", data={"f": "3"})
    assert ok.json == {"path": 1, "query": 2, "form": 3, "n": 20}  # a count is capped
    assert probe.get("/probe-ids/1?q=").json["query"] is None  # empty: not given
    for field, where in (("q", "query"), ("f", "form")):
        for bad in (HUGE, "①", "-3", "x"):
            args = {"q": bad} if where == "query" else {}
            r = probe.post("/probe-ids/1", query_string=args, data={"f": bad} if
                           where == "form" else {}, headers={"Accept": "application/json"})
            assert r.status_code == 400, (field, bad)
            assert f"The field {field} must be an id" in r.json["error"]
    r = probe.get("/probe-ids/1?n=①", headers={"Accept": "application/json"})
    assert r.status_code == 400 and "The field n must be a whole number" in r.json["error"]


def test_nul_in_the_address_query_or_form_is_a_400(probe: FlaskClient) -> None:
    for r in (probe.get("/probe-ids/1%00"), probe.get("/probe-ids/1?q=1%00"),
              probe.get("/probe-ids/1?x%00=1"),
              probe.post("/probe-ids/1", data={"f": "1\x00"}),
              probe.post("/probe-ids/1", data={"other": "a\x00b"})):
        assert r.status_code == 400, r.text
        assert "NUL character" in r.text and "Traceback" not in r.text
    # A file's bytes are the file's business (a bank file may hold anything).
    r = probe.post("/probe-ids/1", data={"f": "1", "file": (io.BytesIO(b"a\x00b"), "x.bin")})
    assert r.status_code == 200


# --- the requests of issue 12, after real launches ----------------------------------------


def _get(done: Launched, role: str, path: str, **kwargs: Any) -> TestResponse:
    launch_id = done.launches[role]
    headers = {page_token.HEADER: done.token(launch_id), "Accept": "application/json",
               "Referer": done.world.metis.url + "/"}
    return done.client.open(path.format(L=launch_id), base_url=done.world.metis.url,
                            headers=headers, **kwargs)


def test_huge_and_unicode_ids_of_issue_12_get_their_reason(lti_world: LtiWorld) -> None:
    done = launch_everyone(lti_world)
    done.app.config["PROPAGATE_EXCEPTIONS"] = False
    in_path = [
        ("learner", "GET", "/student/{L}/items/%s/hint"),
        ("instructor", "GET", "/teacher/{L}/students/%s"),
        ("instructor", "GET", "/teacher/{L}/banks/%s"),
        ("instructor", "GET", "/teacher/{L}/banks/%s/export.xml"),
        ("instructor", "POST", "/teacher/{L}/passback/%s/resend"),
        ("admin", "POST", "/admin/{L}/platforms/%s/approve"),
        ("admin", "POST", "/admin/{L}/platforms/%s/deployments/approve"),
    ]
    for role, method, path in in_path:
        for bad in (HUGE, "①"):
            r = _get(done, role, path % bad, method=method)
            assert r.status_code == 404, (path, bad, r.status_code)
            assert "is not an id" in r.json["error"], path

    answer = _get(done, "learner", "/student/{L}/answer", method="POST",
                  data={"item_id": HUGE, "choice": "0"})
    assert answer.status_code == 400
    assert answer.json["error"] == "The answer did not say which question it is for."
    for params in ({"h1": "①"}, {"hints_for": "①"}, {"hints_for": "1", "hints": "①"},
                   {f"h{HUGE}": "1"}):
        page = _get(done, "learner", "/student/{L}", query_string=params)
        assert page.status_code == 400, params
        assert "①" in page.json["error"] or HUGE in page.json["error"]
    resend = _get(done, "instructor", "/teacher/{L}/passback/1/resend", method="POST",
                  data={"student": HUGE})
    assert resend.status_code == 400
    assert "The field student must be an id" in resend.json["error"]


def test_a_huge_bank_in_the_activity_forms_is_a_form_error(lti_world: LtiWorld) -> None:
    done = launch_everyone(lti_world)
    done.app.config["PROPAGATE_EXCEPTIONS"] = False
    form = {"title": "Fractions", "bank": HUGE, "points": "10", "set_size": "5",
            "band_low": "60", "band_high": "80", "mastery_threshold": "80", "grading": "mastery"}
    for role, path in (("deep_link", "/lti/deep-link/{L}"),
                       ("instructor", "/teacher/{L}/activity")):
        launch_id = done.launches[role]
        r = done.client.post(path.format(L=launch_id), base_url=done.world.metis.url,
                             data=form, headers={page_token.HEADER: done.token(launch_id)})
        assert r.status_code == 400, (path, r.status_code)
        assert "Please choose an item bank." in r.text
