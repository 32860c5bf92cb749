"""Ids (and counts) in URLs and forms, read one way: ASCII digits within the database's bounds
(lti_tool.core.parsing.parse_id), or a 4xx page that says what was wrong with the value.

`int()` takes "①"-free Unicode digits and numbers of any size; SQLite and PostgreSQL take
neither, so an id that skipped this check used to reach the query and answer 500. The URL
converter `id` (registered by `init_app`, used as `<id:item_id>`) covers path segments;
`form_id` and `query_id` cover fields, `field_count` the small counts that sit beside them.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, abort, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from lti_tool.core.parsing import MAX_ID, parse_id, parse_int
from lti_tool.web.messages import t

# Enough of the value to recognise it on the refusal page, never a megabyte of it.
_SHOWN = 40


def shown(raw: object) -> str:
    text = str(raw).replace("\x00", "\\0")
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def bad_id_reason(name: str, raw: object) -> str:
    return t("request.bad_id", name=name, value=shown(raw), max=MAX_ID)


def bad_path_id_reason(raw: object) -> str:
    return t("request.bad_path_id", value=shown(raw), max=MAX_ID)


class IdConverter(BaseConverter):
    """`<id:name>`: a database id, 1 .. 2^63-1. Any other segment matches too and is refused
    here with its reason (404: no row can have that id), instead of falling through to a bare
    "not found". Building a URL is left as it is (a page may build one with a placeholder id
    for its script to fill in)."""

    regex = r"[^/]+"
    # Before a string converter at the same place (as werkzeug's own int converter is).
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        found = parse_id(value)
        if found is None:
            raise NotFound(bad_path_id_reason(value))
        return found


def field_id(values: Mapping[str, str], name: str, *, required: bool = True) -> int | None:
    """The id in field `name`; None when it is absent and not required; else a 400 page (JSON
    for the page's fetches, lti_tool.web.errors) naming the field and the value."""
    raw = values.get(name)
    if raw is None or raw == "":
        if required:
            abort(400, t("request.missing_id", name=name))
        return None
    return read_id(name, raw)


def read_id(name: str, raw: object) -> int:
    """`raw` as an id, else a 400 page naming `name` and the value."""
    found = parse_id(raw)
    if found is None:
        abort(400, bad_id_reason(name, raw))
    return found


def field_count(values: Mapping[str, str], name: str, default: int, high: int) -> int:
    """A count (0 .. `high`) in field `name`, `default` when absent; else a 400 page. A count
    above `high` is read as `high` (a page may ask for more hints than a question has)."""
    raw = values.get(name)
    if raw is None:
        return default
    found = parse_int(raw, 0, MAX_ID)
    if found is None:
        abort(400, t("request.bad_count", name=name, value=shown(raw)))
    return min(found, high)


def form_id(name: str, *, required: bool = True) -> int | None:
    return field_id(request.form, name, required=required)


def query_id(name: str, *, required: bool = True) -> int | None:
    return field_id(request.args, name, required=required)


def init_app(app: Flask) -> None:
    """Register the converter; it must exist before the blueprints add their rules."""
    app.url_map.converters["id"] = IdConverter
