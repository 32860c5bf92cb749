"""Refused and failed requests get the tool's own page (or JSON), never a stack trace."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient


def test_unknown_page_gets_the_tools_error_page(client: FlaskClient) -> None:
    r = client.get("/no/such/page", base_url="https://localhost")
    assert r.status_code == 404
    assert "This request was refused" in r.text and "HTTP 404" in r.text
    j = client.get("/no/such/page", base_url="https://localhost",
                   headers={"Accept": "application/json"})
    assert j.status_code == 404 and "not found" in j.json["error"].lower()


def test_a_crash_is_a_plain_500_without_traceback(app: Flask) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom-for-test")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    r = app.test_client().get("/boom-for-test", base_url="https://localhost")
    assert r.status_code == 500
    assert "Something went wrong" in r.text
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
