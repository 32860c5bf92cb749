"""The pages a student can meet during the launch (refusal, new window, platform storage, lost
sign-in) take every word from the message catalogue."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.wording import stray_words

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "templates/lti" / name for name in (
    "error.html", "new_window.html", "new_window_form.html", "signin_lost.html",
    "storage_login.html", "storage_launch.html")]
KEY = re.compile(r"""\bt\(["']([a-z0-9_.]+)["']""")
CATALOGUE = json.loads((ROOT / "lti_tool/web/messages/en.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_launch_pages_hold_no_stray_words_and_their_keys_exist(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert stray_words(source) == []
    keys = KEY.findall(source)
    assert keys and not [k for k in keys if k not in CATALOGUE]


def test_every_launch_page_key_is_used() -> None:
    used = {k for p in PAGES for k in KEY.findall(p.read_text(encoding="utf-8"))}
    assert {k for k in CATALOGUE if k.startswith("lti.")} == used
