"""What a browser does in `metis bench pipeline`: the LTI launch through the demo LMS, the
student page's event stream, and the answer POST. Plain `requests`, no Flask."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from lti_tool.devkit.lti_client import login_and_launch, new_browser


@dataclass
class Student:
    uid: str
    session: requests.Session
    page_url: str
    csrf: str
    items: list[int]
    event_id: str
    revision: str = ""
    set_id: str = ""
    answered: set[int] = field(default_factory=set)  # posted in the current set
    lock: threading.Lock = field(default_factory=threading.Lock)


def launch(platform_url: str, metis_url: str, uid: str, link: str, verify: str) -> Student:
    """Platform launch button -> OIDC login -> auth -> launch POST -> the student page."""
    s = new_browser(verify)
    r = login_and_launch(s, platform_url, user=uid, link=link)
    if r.status_code != 303:
        raise RuntimeError(f"launch refused ({r.status_code}): {r.text[:200]}")
    page_url = urljoin(metis_url, r.headers["Location"])
    page = s.get(page_url)
    page.raise_for_status()
    config = re.search(r'<script id="practice-config" type="application/json">(.*?)</script>',
                       page.text, re.S)
    if config is None:
        raise RuntimeError("the student page has no practice config")
    csrf = json.loads(config.group(1))["csrf"]
    items = [int(x) for x in re.findall(r'<li class="item"[^>]*data-item-id="(\d+)"', page.text)]
    event = re.search(r'id="practice-set" data-event-id="([^"]*)"', page.text)
    revision = re.search(r'data-revision="([^"]*)"', page.text)
    return Student(uid, s, page_url, csrf, items, event.group(1) if event else "",
                   revision.group(1) if revision else "")


def link_of(platform_url: str, verify: str) -> str:
    """The demo course's activity link id (the platform's /as/student shortcut names it)."""
    r = requests.get(f"{platform_url}/as/student", allow_redirects=False, verify=verify,
                     timeout=10)
    found = re.search(r"link=([\w-]+)", r.headers.get("Location", ""))
    if found is None:
        raise RuntimeError("the demo LMS did not name its activity link")
    return found.group(1)


@dataclass(frozen=True)
class Posted:
    event_id: str
    uid: str
    t_post: float  # perf_counter at the start of the POST
    epoch_post: float
    http_ms: float
    submit_ms: float | None
    status: int


OPEN_WAIT_S = 60.0  # how long an answer waits for a question to open (the next set)


def answer(student: Student, choose: Callable[[list[int]], tuple[int, str]]) -> Posted:
    """Answer one of the student's open questions (each question of a set is answered once:
    when all are, wait for the next set, or the page's stand-in question, to arrive)."""
    deadline = time.monotonic() + OPEN_WAIT_S
    while True:
        with student.lock:
            if student.items:
                item, choice = choose(student.items)
                student.items = [i for i in student.items if i != item]
                student.answered.add(item)
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"no open question for {student.uid} after {OPEN_WAIT_S} s")
        time.sleep(0.02)
    epoch, t0 = time.time(), time.perf_counter()
    r = student.session.post(
        student.page_url + "/answer",
        # Every answer field: the server reads the one the item's kind needs.
        data={"csrf_token": student.csrf, "item_id": str(item), "choice": choice,
              "value": choice, "text": choice},
        headers={"Accept": "application/json", "X-CSRFToken": student.csrf,
                 "Referer": student.page_url},
        timeout=30,
    )
    http_ms = (time.perf_counter() - t0) * 1000
    timing = re.search(r"submit;dur=([\d.]+)", r.headers.get("Server-Timing", ""))
    event_id = r.json().get("event_id", "") if r.status_code == 202 else ""
    return Posted(event_id, student.uid, t0, epoch, http_ms,
                  float(timing.group(1)) if timing else None, r.status_code)


class Stream(threading.Thread):
    """The page's EventSource: records when each practice set arrives (perf_counter)."""

    def __init__(self, student: Student, on_set: Callable[[str, str, float], None]) -> None:
        super().__init__(daemon=True, name=f"sse-{student.uid}")
        self.student = student
        self.on_set = on_set
        self.stopped = threading.Event()
        self.connected = threading.Event()
        self.session = requests.Session()
        self.session.verify = student.session.verify
        self.session.trust_env = False
        self.session.cookies.update(student.session.cookies)

    def run(self) -> None:
        url = self.student.page_url + "/events"
        while not self.stopped.is_set():
            try:
                with self.session.get(url, params={"after": self.student.revision},
                                      stream=True, timeout=(10, 30)) as r:
                    self.connected.set()
                    self._read(r)
            except requests.RequestException:
                time.sleep(0.2)

    def _read(self, r: requests.Response) -> None:
        event, data = "", ""
        for raw in r.iter_lines(decode_unicode=True):
            if self.stopped.is_set():
                return
            if raw == "":
                if event == "practice-set" and data:
                    self._deliver(json.loads(data))
                event, data = "", ""
            elif raw.startswith("event:"):
                event = raw[6:].strip()
            elif raw.startswith("data:"):
                data += raw[5:].strip()

    def _deliver(self, payload: dict[str, Any]) -> None:
        now = time.perf_counter()
        # The answer the set's feedback is as of (the set itself stays until it is finished).
        event_id = str(payload.get("as_of_event") or payload.get("event_id") or "")
        items = [int(i["item_id"]) for i in payload.get("items", [])
                 if "item_id" in i and not i.get("answered")]
        if not items and isinstance(payload.get("stand_in"), dict):
            items = [int(payload["stand_in"]["item_id"])]
        with self.student.lock:
            set_id = str(payload.get("set_id") or "")
            if set_id != self.student.set_id:
                self.student.set_id, self.student.answered = set_id, set()
            # A page rendered just before our last answer was stored still shows it open.
            items = [i for i in items if i not in self.student.answered]
            self.student.event_id = event_id
            self.student.revision = str(payload.get("revision") or "")
            self.student.items = items
        self.on_set(self.student.uid, event_id, now)


def host_port(url: str) -> int:
    return int(urlsplit(url).port or 443)
