"""The engine's reasons and feedback said from the catalogue (lti_tool.web.practice_text)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask

from lti_tool.web import messages, practice_text


@pytest.fixture(autouse=True)
def app_context() -> Iterator[None]:
    app = Flask(__name__)
    messages.init_app(app)
    with app.app_context():
        yield


def _entry(reason: str, **detail: object) -> dict:
    base = {"p": 0.71, "skills": [4, 9], "skill_names": ["Fractions", "Ratios"],
            "band": [0.6, 0.8]}
    return {"reason": reason, "why": "stored English", "detail": {**base, **detail}}


def test_each_reason_in_catalogue_words() -> None:
    assert practice_text.why(_entry("band")) == (
        "A well-matched challenge on Fractions, Ratios: predicted success 71% "
        "(target band 60%-80%).")
    assert practice_text.why(_entry("band", p=0.93)).startswith(
        "A nearest-available challenge on Fractions, Ratios: predicted success 93%")
    assert practice_text.why(_entry("weakness", skill=9, skill_name="Ratios", mastery=0.34)) == (
        "Practises Ratios, one of your weakest (mastery 34%), at a predicted success of 71%.")
    assert practice_text.why(_entry("review", ago_s=2 * 86400 + 5)) == (
        "You missed this question 2 days ago; bringing it back now (predicted success 71%) "
        "helps it stick.")
    assert "1 hour ago" in practice_text.why(_entry("review", ago_s=3600))
    assert practice_text.why(_entry("band", skill_names=[None, "Ratios"])).startswith(
        "A well-matched challenge on Skill 4, Ratios:")  # a skill without a name
    assert practice_text.why(_entry("weakness", skill=4, skill_name=None, mastery=0.2)).startswith(
        "Practises Skill 4, one of your weakest (mastery 20%)")
    assert practice_text.why(_entry("explore", skills=[], skill_names=[])) == (
        "We know little yet about your no tagged skill; this question (predicted success 71%) "
        "will tell us the most.")


def test_a_set_stored_without_detail_keeps_its_sentence() -> None:
    assert practice_text.why({"reason": "band", "why": "stored English"}) == "stored English"
    assert practice_text.why({}) == ""
    old = {"summary": "s", "next_step": "n", "changes": ["c"], "skills": []}
    assert practice_text.feedback(old) == old


def _fb(**detail: object) -> dict:
    skills = [{"skill": 4, "name": "Fractions", "mastery": 0.62, "change": 0.12},
              {"skill": 9, "name": "Ratios", "mastery": 0.41, "change": -0.05}]
    base = {"mastered": 0, "practised": 2, "level": 0.8, "compared": True, "moved": [4, 9],
            "next": {"kind": "practise", "skill": 9, "skill_name": "Ratios", "mastery": 0.41,
                     "unsure": True}}
    return {"skills": skills, "summary": "x", "next_step": "x", "changes": ["x"],
            "detail": {**base, **detail}}


def test_feedback_in_catalogue_words() -> None:
    fb = practice_text.feedback(_fb())
    assert fb["changes"] == ["Fractions rose from 50% to 62%.", "Ratios fell from 46% to 41%."]
    assert fb["next_step"] == "Next: practise Ratios (mastery 41%, still uncertain)."
    assert fb["summary"] == "0 of 2 practised skills mastered (at or above 80%)."
    assert practice_text.feedback(_fb(moved=[]))["changes"] == [
        "No skill moved by more than 3 points since the last set."]
    assert practice_text.feedback(_fb(moved=[], compared=False))["changes"] == []
    assert practice_text.feedback(_fb(next={"kind": "first"}))["next_step"] == (
        "Answer a first practice set so we can estimate your skills.")
    assert practice_text.feedback(_fb(next={"kind": "done"}))["next_step"] == (
        "All practised skills look mastered: move on to new skills.")


def _jobs(n_skills: int) -> list:
    """The worker benchmark's synthetic jobs on `n_skills` named skills, one with an old miss
    (so that a review reason can come up)."""
    from workers.bench.batch import synthetic_jobs

    def fold(skills: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted({(k - 1) % n_skills + 1 for k in skills}))

    names = {k: f"Topic {chr(64 + k)}" for k in range(1, n_skills + 1)}
    jobs = []
    for j in synthetic_jobs(6, 40, 120, seed=3):
        bank = tuple(replace(b, skill_ids=fold(b.skill_ids)) for b in j.bank)
        history = tuple(replace(a, skill_ids=fold(a.skill_ids)) for a in j.history)
        jobs.append(replace(j, bank=bank, history=history, skill_names=names))
    first = jobs[0].history[0]
    old_miss = replace(first, correct=False, answered_at=first.answered_at - timedelta(days=3))
    jobs[0] = replace(jobs[0], history=(old_miss, *jobs[0].history[1:]))
    # Jobs of one activity share one bank tuple, as the worker's batches do.
    return [replace(j, bank=jobs[0].bank) for j in jobs]


def test_catalogue_says_what_the_engine_says() -> None:
    """On a real worker plan (engine, skill names), the catalogue's English gives back the
    engine's own sentences, so the words moved without changing."""
    from workers.engine_adapter import load_engine

    engine = load_engine()
    plans = engine.plan_batch(_jobs(3))
    checked = 0
    for plan in plans:
        assert plan.items is not None  # each job finishes a set (new_set), so a set is chosen
        for item in plan.items:
            assert practice_text.why(item) == item["why"]
            checked += 1
        said = practice_text.feedback(plan.feedback)
        for key in ("summary", "next_step", "changes"):
            assert said[key] == plan.feedback[key], key
    assert checked
    assert any("Topic" in item["why"] for plan in plans for item in plan.items or [])


@pytest.mark.parametrize("ago_s", [2 * 86400 + 5, 40.0])
@pytest.mark.parametrize("code", ["review", "explore", "weakness", "band", "new"])
def test_catalogue_says_each_reason_as_the_engine_words_it(code: str, ago_s: float) -> None:
    """Every reason code the engine can give (meta_engine.practice.reasons), not only the ones
    a particular model happens to choose: the page's wording equals the engine's default."""
    from meta_engine.practice import reasons

    assert code in reasons.REASON_CODES
    names = {4: "Fractions", 9: "Ratios"}
    detail = {"p": 0.71, "skills": [4, 9], "band": [0.6, 0.8], "skill": 9, "mastery": 0.34,
              "ago_s": ago_s, "skill_names": ["Fractions", "Ratios"],
              "skill_name": "Ratios"}
    item = {"reason": code, "why": reasons.say_item(code, detail, names), "detail": detail}
    assert practice_text.why(item) == item["why"]


def test_reasons_name_the_items_own_skills() -> None:
    """The transferable core has no skill slots: a bank's skills are never folded, and the
    page names each question's own skills, whatever their ids."""
    from workers.engine_adapter import load_engine

    engine = load_engine()
    jobs = _jobs(40)  # more skills than the old default model had slots
    skills_of = {b.item_id: b.skill_ids for b in jobs[0].bank}
    names = jobs[0].skill_names
    seen: set[int] = set()
    for plan in engine.plan_batch(jobs):
        assert plan.items is not None
        for item in plan.items:
            own = skills_of[item["item_id"]]
            seen.update(own)
            assert tuple(item["skills"]) == own
            assert item["detail"]["skill_names"] == [names[k] for k in own]
            if "skill" in item["detail"]:
                assert item["detail"]["skill"] in own
                assert practice_text.why(item).count(names[item["detail"]["skill"]]) == 1
        for row in plan.feedback["skills"]:
            assert row["name"] == names[row["skill"]]
    assert len(seen) > 1


@pytest.mark.parametrize("detail", [
    {"p": float("nan")}, {"p": "x"}, {"p": None}, {"p": 0.7, "band": "ab"},
    {"p": 0.7, "ago_s": float("nan")}, {"p": 0.7, "skill_name": "A", "mastery": None},
    {"p": 0.7, "skill_names": None}, {"p": [1]},
])
def test_odd_stored_numbers_never_break_the_page(detail: dict) -> None:
    for reason in ("band", "review", "weakness", "explore", None):
        said = practice_text.why({"reason": reason, "why": "stored", "detail": detail})
        assert isinstance(said, str) and "nan" not in said


@pytest.mark.parametrize("detail", [
    {"next": None}, {"next": {"kind": "practise", "mastery": "x"}}, {"next": {}, "moved": [None]},
    {"next": {}, "moved": "12"}, {"next": {}, "mastered": None, "level": float("inf")},
])
def test_odd_stored_feedback_never_breaks_the_page(detail: dict) -> None:
    fb = {"summary": "stored", "next_step": "n", "changes": [], "detail": detail,
          "skills": [{"skill": 1, "mastery": 0.5, "change": 0.1}, {"mastery": 1}]}
    said = practice_text.feedback(fb)
    assert isinstance(said["summary"], str) and isinstance(said["changes"], list)


def test_the_page_and_the_engine_agree_on_a_recent_miss() -> None:
    from meta_engine.practice import reasons

    assert practice_text.RECENT_S == reasons.RECENT_S
