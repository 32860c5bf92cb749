"""A learner on the practice page of a seeded activity whose first items cover every item kind,
after a real launch through the demo LMS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import update

from lti_tool.core.db.models import Activity, Item
from tests.support.course import Course
from tests.support.lti_world import LtiWorld
from tests.support.practice import seeded_practice_link

# The first five items of the seeded bank (the first set shown before any answer), rewritten to
# cover every kind with feedback, hints and a worked solution. Markers make leaks easy to spot.
RICH = {
    "kind": "multichoice",
    "text": "<p>What is <b>1 + 1</b>?</p>",
    "choices": ["2", "3", "1"],
    "answer": {"choice": 0},
    "feedback": {"general": "<p>GENERAL-FB: adding one to one.</p>",
                 "correct": "<p>RIGHT-FB well done</p>",
                 "incorrect": "<p>WRONG-FB have another look</p>",
                 "choices": ["<p>CHOICE0-FB</p>", "<p>CHOICE1-FB off by one</p>", ""]},
    "hints": ["<p>HINT-ONE count on your fingers</p>", "<p>HINT-TWO start at 1</p>"],
    "solution": "<p>SOLUTION-TEXT 1 + 1 = 2</p>",
}
MULTI = {"kind": "multiresponse", "text": "<p>Which are even?</p>",
         "choices": ["2", "3", "4"], "answer": {"choices": [0, 2]},
         "feedback": {"general": "<p>MULTI-GENERAL</p>"}, "hints": [], "solution": ""}
TRUEFALSE = {"kind": "truefalse", "text": "<p>Zero is even.</p>",
             "choices": ["True", "False"], "answer": {"choice": 0},
             "feedback": {}, "hints": [], "solution": "<p>TF-SOLUTION</p>"}
NUMERIC = {"kind": "numeric", "text": "<p>Half of 7?</p>", "choices": [],
           "answer": {"value": 3.5, "tolerance": 0.01}, "feedback": {},
           "hints": ["<p>HINT-HALF halve 6, then halve 1</p>"],
           "solution": ""}
SHORT = {"kind": "shortanswer", "text": "<p>Name the operation in 2 + 3.</p>", "choices": [],
         "answer": {"accepted": ["addition"]}, "feedback": {}, "hints": [], "solution": ""}
KINDS = [RICH, MULTI, TRUEFALSE, NUMERIC, SHORT]


@dataclass
class Learner:
    """A learner's browser on the practice page after a real launch."""

    world: LtiWorld
    browser: requests.Session
    url: str
    course: Course
    user_id: int

    @property
    def items(self) -> list[int]:
        return self.course.item_ids

    def page(self, **params: Any) -> requests.Response:
        r = self.browser.get(self.url, params=params)
        assert r.status_code == 200, r.text
        return r

    def token(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.page().text)
        assert found is not None
        return found.group(1)

    def answer(self, item_id: int, *, as_json: bool = True, **fields: Any) -> requests.Response:
        headers = {"Referer": self.url}
        if as_json:
            headers["Accept"] = "application/json"
        return self.browser.post(f"{self.url}/answer", headers=headers, allow_redirects=False,
                                 data={"csrf_token": self.token(), "item_id": item_id, **fields})

    def settings(self, **values: Any) -> None:
        with self.world.db.session() as s:
            activity = s.get(Activity, self.course.activity_id)
            assert activity is not None
            activity.settings = {**(activity.settings or {}), **values}


def open_practice(world: LtiWorld, user: str = "101") -> Learner:
    """Launch as a demo learner, then point the launch's link at a freshly seeded activity."""
    # The first set shows every seeded item (every kind), whatever order it picks them in.
    seeded = seeded_practice_link(world, "Fractions", items=8, user=user, score_maximum=10,
                                  activity={"settings": {"set_size": 8}})
    with world.db.session() as s:
        for item_id, fields in zip(seeded.course.item_ids, KINDS, strict=False):
            s.execute(update(Item).where(Item.id == item_id).values(**fields))
    return Learner(world, seeded.browser, seeded.page_url, seeded.course, seeded.user_id)


@pytest.fixture()
def learner(lti_world: LtiWorld) -> Iterator[Learner]:
    yield open_practice(lti_world)
