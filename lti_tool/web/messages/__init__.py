"""The message catalogue: every string a student sees, by key, English first.

`en.json` maps dotted keys ("student.submit") to plain text with `{name}` placeholders. It is
read once when the app is built (`init_app`) and exposed to templates as `t(key, **params)`;
pages pass the strings their JS needs through their JSON config (`bundle`). Placeholders are
replaced by a small regex, the same rule as in the JS, so a catalogue string can never reach
into Python objects the way `str.format` could.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, current_app

log = logging.getLogger("metis.messages")

CATALOGUE_DIR = Path(__file__).resolve().parent
DEFAULT_LOCALE = "en"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_EXTENSION = "metis.messages"


class Catalogue:
    """One locale's strings. Unknown keys come back as the key itself (logged), so a missing
    string shows up as an odd word on the page rather than a 500; the tests keep it complete."""

    def __init__(self, strings: Mapping[str, str]) -> None:
        self.strings = dict(strings)

    def __contains__(self, key: object) -> bool:
        return key in self.strings

    def t(self, key: str, /, **params: Any) -> str:
        text = self.strings.get(key)
        if text is None:
            log.warning("message %r is not in the catalogue", key)
            return key
        return fill(text, params)

    def bundle(self, prefix: str) -> dict[str, str]:
        """The raw strings under `prefix` (placeholders left in), for a page's JS."""
        return {k: v for k, v in self.strings.items() if k.startswith(prefix)}


def fill(text: str, params: Mapping[str, Any]) -> str:
    """Replace `{name}` with params[name]; a placeholder without a value stays as written."""
    return _PLACEHOLDER.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], text)


def load(locale: str = DEFAULT_LOCALE) -> Catalogue:
    path = CATALOGUE_DIR / f"{locale}.json"
    strings = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(strings, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in strings.items()
    ):
        raise ValueError(f"{path} must be one JSON object of strings")
    return Catalogue(strings)


def init_app(app: Flask) -> None:
    loaded = load()
    app.extensions[_EXTENSION] = loaded
    app.jinja_env.globals["t"] = loaded.t


def catalogue() -> Catalogue:
    found: Catalogue = current_app.extensions[_EXTENSION]
    return found


def t(key: str, /, **params: Any) -> str:
    """The string for `key` in the current app's catalogue (for views and JSON replies)."""
    return catalogue().t(key, **params)
