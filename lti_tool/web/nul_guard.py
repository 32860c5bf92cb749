"""Refuse a NUL character in the address, the query or a form field with a 400 that says so.

No field of Metis can hold one, and PostgreSQL refuses it in any text value (psycopg raises
on the query: a 500 after the fact). Files keep their bytes: only the fields are checked, and
the form is checked when a view first reads it, so a view that raises its upload limit before
reading (the bank import) still gets to.
"""

from __future__ import annotations

from flask import Flask, Request, abort, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest

from lti_tool.web.messages import t

NUL = "\x00"


def _holds_nul(values: object) -> bool:
    items = getattr(values, "items", None)
    if items is None:
        return False
    return any(NUL in str(k) or NUL in str(v) for k, v in items(multi=True))


class NulCheckedRequest(Request):
    def _load_form_data(self) -> None:
        super()._load_form_data()
        if _holds_nul(self.__dict__.get("form")):
            # Emptied as well as refused: code that reads the form again after catching the
            # error sees no fields rather than the NUL.
            self.__dict__["form"] = ImmutableMultiDict()
            raise BadRequest(t("request.nul"))


def _refuse_nul_in_url() -> None:
    if NUL in request.path or _holds_nul(request.args):
        abort(400, t("request.nul"))


def init_app(app: Flask) -> None:
    app.request_class = NulCheckedRequest
    app.before_request(_refuse_nul_in_url)
