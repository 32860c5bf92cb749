"""Mastery bars with their interval, what changed, the next step, progress toward the
activity's goal and the gradebook score, on the page and in the state JSON."""

from __future__ import annotations

from lti_tool.core.db.models import PassbackStatus, PracticeSet, ScorePassback, Skill
from tests.support.learner import Learner


def _words(html: str) -> str:
    return " ".join(html.split())


def _stored_set(learner: Learner, skills: list[int]) -> None:
    """A practice set as the worker stores it (the worker itself runs in test_browser)."""
    with learner.world.db.session() as s:
        s.add(PracticeSet(
            user_id=learner.user_id, activity_id=learner.course.activity_id,
            event_id="set-for-progress", items=[{"item_id": learner.items[0], "why": "WHY-TEXT"}],
            feedback={
                "summary": "1 of 2 practised skills mastered.",
                "next_step": "Next: practise skill 0.",
                "changes": ["skill 1 rose from 40% to 62%."],
                "skills": [
                    {"skill": skills[0], "name": "Adding", "mastery": 0.62, "low": 0.5,
                     "high": 0.75, "attempts": 3},
                    {"skill": skills[1], "name": "Halving", "mastery": 0.91, "low": 0.84,
                     "high": 0.97, "attempts": 4},
                ],
            }))


def _skills(learner: Learner) -> list[int]:
    with learner.world.db.session() as s:
        return sorted(s.scalars(Skill.__table__.select().with_only_columns(Skill.id)
                                .where(Skill.bank_id == _bank(learner))))


def _bank(learner: Learner) -> int:
    from lti_tool.core.db.models import Activity

    with learner.world.db.session() as s:
        activity = s.get(Activity, learner.course.activity_id)
        assert activity is not None and activity.bank_id is not None
        return activity.bank_id


def test_mastery_bars_changes_next_step_and_goal(learner: Learner) -> None:
    skills = _skills(learner)
    assert len(skills) == 3
    _stored_set(learner, skills)
    learner.settings(grading="mastery", mastery_threshold=0.9)
    page = learner.page().text
    assert "1 of 3 skills mastered (the goal is 90% in each)." in page
    feedback = page.split('id="feedback"')[1]
    assert "62% (likely between 50% and 75%)" in feedback
    assert "91% (likely between 84% and 97%)" in feedback
    # The bar: mastery filled, the interval drawn on it, the goal marked.
    assert '<rect class="fill" width="62"' in feedback
    assert '<rect class="range" x="50" y="4.5" width="25"' in feedback
    assert 'x1="90" x2="90"' in feedback
    assert feedback.count("mastered</strong>") == 1
    assert "Since your last set" in feedback and "skill 1 rose from 40% to 62%." in feedback
    assert "Next: practise skill 0." in feedback
    assert "WHY-TEXT" in page
    state = learner.browser.get(f"{learner.url}/state").json()
    assert state["progress"]["skills_mastered"] == 1 and state["progress"]["skills_total"] == 3
    assert state["feedback"]["skills"][0]["low_pct"] == 50
    learner.settings(skills=[skills[1]])  # only the skill that is mastered counts now
    assert "1 of 1 skills mastered" in learner.page().text


def test_completion_best_set_and_default_goals(learner: Learner) -> None:
    learner.settings(grading="completion", goal=4)
    done = "of 4 questions done toward the goal (each question of a set counts once)."
    assert f"0 {done}" in learner.page().text
    learner.answer(learner.items[0], choice="0")
    # The same question again is refused (graded once), so it counts once.
    assert learner.answer(learner.items[0], choice="1").status_code == 409
    assert f"1 {done}" in learner.page().text
    learner.answer(learner.items[1], choice="0")
    page = learner.page().text
    assert f"2 {done}" in page
    assert '<progress id="goal-bar" max="100" value="50"' in page
    learner.settings(grading="best_set", set_size=2)
    assert "Your best set so far: 1 of 2 right." in learner.page().text
    learner.settings(grading=None)
    assert "1 of 2 answers right so far." in learner.page().text


def test_gradebook_score_in_words(learner: Learner) -> None:
    """The page says the gradebook shows the score only once it was read back from the LMS."""
    assert "No score yet" in learner.page().text
    with learner.world.db.session() as s:
        s.add(ScorePassback(user_id=learner.user_id, activity_id=learner.course.activity_id,
                            score_given=6.0, score_maximum=10.0, status=PassbackStatus.sent))
    assert "Score for your course gradebook: 6.0 of 10.0, sent; not yet checked against your " \
           "course gradebook." in _words(learner.page().text)
    for status, words in (
            (PassbackStatus.verified, "6.0 of 10.0, and your course gradebook shows it."),
            (PassbackStatus.mismatch, "but your course gradebook shows another score"),
            (PassbackStatus.pending, "waiting to be sent."),
            (PassbackStatus.failed, "your teacher can send it again.")):
        with learner.world.db.session() as s:
            row = s.query(ScorePassback).filter_by(user_id=learner.user_id).one()
            row.status = status
        assert words in _words(learner.page().text)
    gb = learner.browser.get(f"{learner.url}/state").json()["gradebook"]
    assert gb == {"given": 6.0, "maximum": 10.0, "status": "failed"}


def test_done_is_shown_when_the_score_is_full(learner: Learner) -> None:
    page = learner.page().text.split('<script id="practice-config"')[0]  # not the catalogue
    assert 'id="done"' in page and "reached this activity" not in page
    with learner.world.db.session() as s:
        s.add(ScorePassback(user_id=learner.user_id, activity_id=learner.course.activity_id,
                            score_given=10.0, score_maximum=10.0, status=PassbackStatus.sent))
    said = _words(learner.page().text.split('<script id="practice-config"')[0])
    assert "You have reached this activity&#39;s goal: 10.0 of 10.0 points. You may keep " \
           "practising." in said
    state = learner.browser.get(f"{learner.url}/state").json()
    assert state["progress"]["done"] is True and state["last_set"] is None
