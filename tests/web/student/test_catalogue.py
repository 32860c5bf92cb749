"""The message catalogue: every key the student page uses (templates, views, practice.js)
exists, every student key is used, and the page's templates and script hold no stray English.

The templates' stray-text check is tests/support/wording.py. In the script, a string literal
that reads like prose (a capitalised word followed by another word, or words ending in . ! ?)
is taken for a user-visible string."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lti_tool.web import messages
from tests.support.wording import stray_words

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = [ROOT / "templates/student/practice.html", ROOT / "templates/student/_parts.html",
             ROOT / "templates/base.html"]
SCRIPT = ROOT / "lti_tool/web/static/practice.js"
VIEWS = [ROOT / "lti_tool/web/views/student.py", ROOT / "lti_tool/web/practice_text.py",
         ROOT / "lti_tool/core/answers/check.py"]
CATALOGUE = json.loads((ROOT / "lti_tool/web/messages/en.json").read_text(encoding="utf-8"))
KEY = r"""["']((?:student|app)\.[a-z0-9_.]+)["']"""
ENDPOINT = re.compile(r"url_for\(\s*['\"][\w.]+['\"]")  # "student.page" is a view, not a key


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*TEMPLATES, SCRIPT, *VIEWS]:
        keys |= set(re.findall(KEY, ENDPOINT.sub("", path.read_text(encoding="utf-8"))))
    return keys


def test_every_key_used_exists_and_every_student_key_is_used() -> None:
    used = _used_keys()
    assert len(used) > 30
    assert not sorted(used - set(CATALOGUE)), "keys missing from en.json"
    unused = {k for k in CATALOGUE if k.startswith(("student.", "app."))} - used
    assert not sorted(unused), "strings no page uses"


def test_catalogue_fills_placeholders_like_the_script() -> None:
    catalogue = messages.load()
    assert catalogue.t("student.set.question", n=3) == "Question 3"
    assert catalogue.t("student.hint.label", n=1) == "Hint 1 of {total}:"  # left as written
    assert catalogue.t("no.such.key") == "no.such.key"
    assert messages.fill("{a.__class__} {a}", {"a": 1}) == "{a.__class__} 1"
    assert catalogue.bundle("student.")["student.correct"] == "Correct!"
    # practice.js implements the same rule with the same regex.
    assert r"/\{(\w+)\}/g" in SCRIPT.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_stray_words(path: Path) -> None:
    assert stray_words(path.read_text(encoding="utf-8")) == []


def test_script_holds_no_stray_words() -> None:
    source = SCRIPT.read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", source)  # comments are for developers
    literals = re.findall(r'"((?:[^"\\\n]|\\.)*)"', code)
    assert len(literals) > 50
    prose = [s for s in literals
             if re.search(r"\b[A-Z][a-z]+ [a-z]+", s) or re.search(r"[a-z] \w+[.!?]$", s)]
    assert prose == []
