"""Read the teacher pages as a person would: a table's cells by row, an SVG as XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import requests
from sqlalchemy import select

from lti_tool.core.db.models import Launch
from lti_tool.devkit.lti_client import login_and_launch
from tests.support.lti_world import LtiWorld


class _Tables(HTMLParser):
    """Collects every <table>'s rows as lists of (cell text, cell class), keyed by its class,
    and each table's caption as shown (screen-reader-only text left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[tuple[str, str]]]]] = []
        self.captions: list[str] = []
        self._depth = 0
        self._cell: list[str] | None = None
        self._cell_class = ""
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.tables.append((a.get("class", ""), []))
            self.captions.append("")
        elif tag == "caption" and self.tables:
            self._caption = []
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell, self._cell_class = [], a.get("class", "")
        elif tag == "span" and "visually-hidden" in a.get("class", "") and (
                self._cell is not None or self._caption is not None):
            self._depth += 1  # screen-reader-only text is not what the cell shows

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = " ".join("".join(self._cell).split())
            self.tables[-1][1][-1].append((text, self._cell_class))
            self._cell = None
        elif tag == "caption" and self._caption is not None:
            self.captions[-1] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "span" and self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)


def table(html: str, css_class: str) -> list[list[tuple[str, str]]]:
    """The rows (header row first) of the first table with this class."""
    parser = _Tables()
    parser.feed(html)
    for cls, rows in parser.tables:
        if css_class in cls.split():
            return rows
    raise AssertionError(f"no table with class {css_class!r}")


def tables(html: str, css_class: str) -> list[tuple[str, list[list[tuple[str, str]]]]]:
    """(caption, rows) of every table with this class, in page order."""
    parser = _Tables()
    parser.feed(html)
    return [(caption, rows) for caption, (cls, rows) in zip(parser.captions, parser.tables,
                                                            strict=True)
            if css_class in cls.split()]


def table_by_caption(html: str, caption_start: str) -> list[list[tuple[str, str]]]:
    """The rows of the table whose <caption> starts with `caption_start`."""
    found = re.search(r"<table[^>]*>\s*<caption>" + re.escape(caption_start) + r".*?</table>",
                      html, re.S)
    assert found is not None, f"no table captioned {caption_start!r}"
    parser = _Tables()
    parser.feed(found.group(0))
    return parser.tables[0][1]


def row_of(rows: list[list[tuple[str, str]]], first_cell: str) -> list[tuple[str, str]]:
    for row in rows:
        if row and row[0][0] == first_cell:
            return row
    raise AssertionError(f"no row starting with {first_cell!r} in {[r[0] for r in rows]}")


def svg(html: str) -> ET.Element:
    """The page's inline SVG, parsed as XML (so it must be well formed)."""
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found is not None, "no SVG on the page"
    return ET.fromstring(found.group(0))


# --- launches as a teacher or learner ---------------------------------------------------


def launch(world: LtiWorld, browser: requests.Session, user: str, link: str,
           platform_url: str | None = None) -> str:
    r = login_and_launch(browser, platform_url or world.platform.url, user=user, link=link)
    assert r.status_code == 303, r.text
    return world.metis.url + r.headers["Location"]


def launch_row(world: LtiWorld, page_url: str) -> Launch:
    with world.db.session() as s:
        row = s.scalar(select(Launch).where(Launch.launch_id == page_url.rsplit("/", 1)[1]))
        assert row is not None
        s.expunge(row)
        return row


def csrf(html: str) -> str:
    found = re.search(r'name="csrf[-_]token" (?:value|content)="([^"]+)"', html)
    assert found is not None
    return found.group(1)
