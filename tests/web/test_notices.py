"""Signed notices in redirect URLs show only in the launch they were made for."""

from __future__ import annotations

from flask import Flask, get_flashed_messages

from lti_tool.web import notices


def test_a_notice_shows_only_in_its_own_launch(app: Flask) -> None:
    with app.test_request_context("/student/launch-a"):
        signed = notices._serializer().dumps(["launch-a", [["ok", "Your settings were saved."]]])
    with app.test_request_context(f"/student/launch-a?{notices.PARAM}={signed}"):
        notices.restore_from_url()
        assert get_flashed_messages() == ["Your settings were saved."]
    with app.test_request_context(f"/student/launch-b?{notices.PARAM}={signed}"):
        notices.restore_from_url()
        assert get_flashed_messages() == []
    with app.test_request_context(f"/student/launch-a?{notices.PARAM}={signed[:-2]}xx"):
        notices.restore_from_url()
        assert get_flashed_messages() == []
