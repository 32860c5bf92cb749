"""One simulated student's steps over plain `requests`: the LTI launch through the demo LMS, the
page state, an answer. No Locust here, so the steps are readable (and usable) on their own."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from lti_tool.devkit.lti_client import FlowError, login_and_launch, new_browser

CONFIG = re.compile(r'<script id="practice-config" type="application/json">(.*?)</script>', re.S)
TIMEOUT_S = 30.0


@dataclass
class Student:
    uid: str
    session: requests.Session
    page_url: str
    csrf: str
    set_id: str = ""
    posted: set[int] = field(default_factory=set)  # answered in the current set: never again


def link_of(platform_url: str, verify: bool | str) -> str:
    """The demo course's activity link id (the platform's /as/student shortcut names it)."""
    r = requests.get(f"{platform_url}/as/student", allow_redirects=False, verify=verify,
                     timeout=TIMEOUT_S)
    found = re.search(r"link=([\w-]+)", r.headers.get("Location", ""))
    if found is None:
        raise FlowError(f"the LMS at {platform_url} did not name its activity link")
    return found.group(1)


def launch(platform_url: str, uid: str, link: str, verify: bool | str) -> Student:
    """Platform launch button -> OIDC login -> auth -> signed launch POST -> the student page."""
    session = new_browser(verify)
    r = login_and_launch(session, platform_url, user=uid, link=link)
    if r.status_code != 303:
        raise FlowError(f"launch refused ({r.status_code}): {r.text[:200]}")
    # Metis's own address is where the launch POST went: nothing else needs configuring.
    page_url = urljoin(r.url, r.headers["Location"])
    page = session.get(page_url, timeout=TIMEOUT_S)
    if page.status_code != 200:
        raise FlowError(f"the student page answered {page.status_code}")
    config = CONFIG.search(page.text)
    if config is None:
        raise FlowError("the student page has no practice config")
    return Student(uid, session, page_url, json.loads(config.group(1))["csrf"])


def state(student: Student) -> dict[str, Any]:
    r = student.session.get(student.page_url + "/state", timeout=TIMEOUT_S)
    if r.status_code != 200:
        raise FlowError(f"/state answered {r.status_code}: {r.text[:200]}")
    body: dict[str, Any] = r.json()
    return body


def open_items(student: Student, page: dict[str, Any]) -> list[int]:
    """The set's questions still to answer. A new set forgets what was posted in the last one;
    a question posted in this set is never offered again, even if a page read just before its
    answer was stored still shows it open (a second answer would be a 409)."""
    set_id = str(page.get("set_id") or "")
    if set_id != student.set_id:
        student.set_id, student.posted = set_id, set()
    return [int(i["item_id"]) for i in page.get("items") or []
            if not i.get("answered") and int(i["item_id"]) not in student.posted]


def answer(student: Student, item: int, rng: random.Random) -> requests.Response:
    """Post one answer as the page's script does (JSON). "0"/"1" is a choice on every
    multiple-choice question and a value for numeric and short-text ones (often wrong: fine)."""
    student.posted.add(item)
    choice = rng.choice(["0", "1"])
    return student.session.post(
        student.page_url + "/answer",
        # Every answer field: the server reads the one the item's kind needs.
        data={"csrf_token": student.csrf, "item_id": str(item), "choice": choice,
              "value": choice, "text": choice},
        headers={"Accept": "application/json", "X-CSRFToken": student.csrf,
                 "Referer": student.page_url},
        timeout=TIMEOUT_S,
    )
