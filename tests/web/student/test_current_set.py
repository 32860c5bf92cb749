"""The page shows the set made from the newest answer, whatever order sets were stored in."""

from __future__ import annotations

from lti_tool.core.db import Database
from lti_tool.core.db.models import Answer, PracticeSet
from lti_tool.core.practice.page_state import current_set, place_of
from tests.support.course import seed_course


def test_a_late_older_set_does_not_replace_the_newer_one(db: Database) -> None:
    course = seed_course(db, items=4)
    user = course.user_ids[0]
    with db.session() as s:
        older = Answer(user_id=user, activity_id=course.activity_id,
                       item_id=course.item_ids[0], correct=True, event_id="ev-older")
        newer = Answer(user_id=user, activity_id=course.activity_id,
                       item_id=course.item_ids[1], correct=False, event_id="ev-newer")
        s.add_all([older, newer])
        s.flush()
        # The newer answer's set was stored first; the older one's came late (a redelivery).
        for event, item in (("ev-newer", course.item_ids[2]), ("ev-older", course.item_ids[3])):
            s.add(PracticeSet(user_id=user, activity_id=course.activity_id, event_id=event,
                              items=[{"item_id": item, "why": ""}]))
            s.flush()
    with db.session() as s:
        place = place_of(s, course.platform_id, course.resource_link_id)
        assert place is not None
        shown = current_set(s, place, user)
    assert shown["event_id"] == "ev-newer"
    assert [i["item_id"] for i in shown["items"]] == [course.item_ids[2]]
