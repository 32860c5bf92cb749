"""Driving the practice page in a browser: answering the open questions of the set."""

from __future__ import annotations

import time
from typing import Any

# Generous: on a loaded machine an answer's round trip can take seconds.
ANSWER_TIMEOUT_S = 60.0


def answer_question(item: Any) -> None:
    """Answer one question (`item`: its li.item locator, by id) with the first option or "1",
    and wait until it is marked answered, or gone because it finished the set and the next
    set took its place."""
    if item.locator("input[type=radio]").count():
        item.locator("input[type=radio]").first.check()
    elif item.locator("input[type=checkbox]").count():
        item.locator("input[type=checkbox]").first.check()
    else:
        item.locator("input[type=text]").first.fill("1")
    item.get_by_role("button", name="Submit answer").click()
    wait_answered(item)


def wait_answered(item: Any) -> None:
    """Until `item` is marked answered, or gone because it finished the set and the next set
    took its place."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    while item.count() and not item.locator(".answered").count():
        if time.monotonic() > deadline:
            raise AssertionError(f"the answer was not taken: {item.inner_text()[:800]}")
        time.sleep(0.05)


def finish_set(frame: Any) -> int:
    """Answer every open question of the set on the page (a set is finished only when all
    are answered, and only then does the next one come). Returns how many were answered."""
    open_items = frame.locator("#practice-set li.item:not(.answered-item):not(.stand-in)")
    # A new set has a new event id (the first set's stays empty when the workers store it).
    event_id = frame.locator("#practice-set").get_attribute("data-event-id")
    answered = 0
    while open_items.count() and frame.locator("#practice-set").get_attribute(
            "data-event-id") == event_id:
        # By id: once answered, the question leaves `open_items`.
        item_id = open_items.first.get_attribute("data-item-id")
        answer_question(frame.locator(f"#item-{item_id}"))
        answered += 1
    return answered
