"""Locust users for `metis bench load`: each user is one student of the demo course.

A student launches through the demo LMS (a real signed LTI 1.3 launch), reads the page state,
answers the open questions of its set one at a time (a set stays until all its questions are
answered; a question is never answered twice), and after the set's last answer polls /state
until the next set is there. Run by Locust only (`locust -f` this file): Locust patches the
standard library with gevent when it is imported, which the CLI process must not be.

Reported names (Locust's request statistics): "launch" (button to student page), "answer" (the
POST; anything but 202 is a failure, a 409 included), "state" and "state poll" (the reads), and
"next set visible" (the set's last answer POST -> a new set in /state; over the bound, a
failure). Configured by the environment `metis bench load` sets:
  METIS_LOAD_CA_BUNDLE    CA bundle that trusts the demo certificate (default: system CAs)
  METIS_LOAD_LINK         the activity's link id on the LMS (default: asked from /as/student)
  METIS_LOAD_FIRST        index of the first demo learner (ids 900000 + n) to launch as
  METIS_LOAD_NEXT_SET_S   how long to wait for the next set (default 60)
  METIS_LOAD_ERRORS       write Locust's failures here as JSON when Locust quits
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

import requests
from locust import User, between, events, task
from locust.env import Environment

from lti_tool.devkit.demo.platform_wsgi import extra_learner
from lti_tool.devkit.load import student as flow
from lti_tool.devkit.lti_client import FlowError

POLL_S = 0.1  # "next set visible" is as fine as this; rare enough not to be the load itself
THINK_S = (0.5, 2.0)  # a student's pause between two answers
_numbers = itertools.count(int(os.environ.get("METIS_LOAD_FIRST", "0")))
_link: dict[str, str] = {}


def _verify() -> bool | str:
    return os.environ.get("METIS_LOAD_CA_BUNDLE") or True


def _activity_link(host: str) -> str:
    if "link" not in _link:
        _link["link"] = os.environ.get("METIS_LOAD_LINK") or flow.link_of(host, _verify())
    return _link["link"]


class PracticingStudent(User):
    wait_time = between(*THINK_S)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        number = next(_numbers)
        self.uid = extra_learner(number)
        self.rng = random.Random(number)
        self.student: flow.Student | None = None
        self.next_set_s = float(os.environ.get("METIS_LOAD_NEXT_SET_S", "60"))

    def _record(self, kind: str, name: str, started: float,
                exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=kind, name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=exception, context={"user": self.uid})

    @task
    def practise(self) -> None:
        if self.student is None:
            self._launch()
            return
        started = time.perf_counter()
        try:
            page = flow.state(self.student)
        except (FlowError, requests.RequestException) as exc:
            self._record("GET", "state", started, exc)
            return
        self._record("GET", "state", started)
        items = flow.open_items(self.student, page)
        if not items:
            # A finished set whose successor is late (e.g. after a relaunch): wait for it.
            self._wait_next_set(time.perf_counter(), measured=False)
            return
        self._answer(self.rng.choice(items), last=len(items) == 1)

    def _launch(self) -> None:
        started = time.perf_counter()
        host = self.host or ""
        try:
            self.student = flow.launch(host, self.uid, _activity_link(host), _verify())
        except (FlowError, requests.RequestException, KeyError) as exc:
            self._record("LTI", "launch", started, exc)
            return
        self._record("LTI", "launch", started)

    def _answer(self, item: int, *, last: bool) -> None:
        assert self.student is not None
        started = time.perf_counter()
        try:
            r = flow.answer(self.student, item, self.rng)
        except requests.RequestException as exc:
            self._record("POST", "answer", started, exc)
            return
        if r.status_code != 202:
            self._record("POST", "answer", started,
                         FlowError(f"answer answered {r.status_code}: {r.text[:120]}"))
            if r.status_code in (401, 403):
                self.student = None  # the launch expired: launch again
            return
        self._record("POST", "answer", started)
        if last:
            self._wait_next_set(started, measured=True)

    def _wait_next_set(self, since: float, *, measured: bool) -> None:
        """Poll /state until a set with open questions arrives; `since` is the last answer's
        POST, so "next set visible" is answer -> set on the page, as a student sees it."""
        assert self.student is not None
        deadline = since + self.next_set_s
        while time.perf_counter() < deadline:
            time.sleep(POLL_S)  # gevent's sleep under Locust: the other students run
            polled = time.perf_counter()
            try:
                page = flow.state(self.student)
            except (FlowError, requests.RequestException) as exc:
                self._record("GET", "state poll", polled, exc)
                continue
            self._record("GET", "state poll", polled)
            if flow.open_items(self.student, page):
                if measured:
                    self._record("SET", "next set visible", since)
                return
        self._record("SET", "next set visible", since,
                     FlowError(f"no new set within {self.next_set_s:.0f} s"))


@events.quitting.add_listener
def _write_errors(environment: Environment, **_kwargs: Any) -> None:
    path = os.environ.get("METIS_LOAD_ERRORS")
    if path and environment.runner is not None:
        errors = list(environment.runner.stats.serialize_errors().values())
        with open(path, "w") as f:
            json.dump(errors, f, indent=2)
