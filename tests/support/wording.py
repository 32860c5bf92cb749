"""Stray-English checks for templates whose every visible word must come from the message
catalogue: Jinja tags and comments are removed, then whatever an HTML parser sees as text or as
a user-facing attribute (aria-label, title, placeholder, alt) must hold no letter."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Text(HTMLParser):
    SHOWN_ATTRS = {"aria-label", "title", "placeholder", "alt", "value"}

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            shown = name in self.SHOWN_ATTRS and not (tag == "input" and name == "value")
            if shown and value and re.search(r"[A-Za-z]", value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and re.search(r"[A-Za-z]", data):
            self.found.append(data.strip())


def stray_words(template_source: str) -> list[str]:
    """The visible text of a Jinja template that does not come from `t(...)` or a variable."""
    bare = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", template_source, flags=re.S)
    parser = _Text()
    parser.feed(bare)
    return parser.found
