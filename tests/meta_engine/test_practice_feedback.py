"""Feedback: per-skill mastery with interval, changes since the last set, next step."""

from __future__ import annotations

import json

from meta_engine import api
from meta_engine.types import Interaction


def test_feedback_contents(sim_model: api.Model) -> None:
    model = sim_model
    h1 = [Interaction(i, (1 + i % 3,), int(i % 2), float(i)) for i in range(1, 16)]
    h2 = h1 + [Interaction(i, (1,), 1, float(100 + i)) for i in (3, 6, 9, 12, 15, 18, 21)]
    s1, s2 = api.adapt(model, h1), api.adapt(model, h2)
    fb = api.feedback(model, s2, s1)
    skills = {r.skill: r for r in fb.skills}
    assert set(skills) == {1, 2, 3}  # only practised skills
    for r in fb.skills:
        assert 0 < r.low < r.mastery < r.high < 1
    assert skills[1].change is not None and skills[1].change > 0.03
    assert skills[1].attempts == 5 + 7
    assert any(c.startswith("Skill 1 rose") for c in fb.changes)
    rose = [c for c in fb.detail["changes"] if c["skill"] == 1]
    assert rose and rose[0]["code"] == "rose" and rose[0]["after"] > rose[0]["before"]
    assert fb.detail["next"]["kind"] in ("practise", "done")
    assert fb.next_step.startswith("Next:") or "mastered" in fb.next_step
    assert [r.mastery for r in fb.skills] == sorted(r.mastery for r in fb.skills)
    # The interval narrows with evidence on a skill.
    fb1 = api.feedback(model, s1, None)
    w1 = {r.skill: r.high - r.low for r in fb1.skills}
    assert skills[1].high - skills[1].low < w1[1]
    assert all(r.change is None for r in fb1.skills) and fb1.changes == []
    json.dumps(fb.to_dict())
    # Names word the default sentences; the structured detail keeps the ids.
    named = api.feedback(model, s2, s1, names={1: "Fractions"})
    assert any(c.startswith("Fractions rose") for c in named.changes)
    assert named.detail == fb.detail


def test_a_wrong_answer_never_raises_the_shown_mastery(sim_model: api.Model) -> None:
    """Whatever else moved the model (a table refit, forgetting), the skill of a wrong answer
    is never shown higher than just before it, a right one never lower."""
    model = sim_model
    h = [Interaction(i, (1 + i % 3,), int(i % 2), float(i)) for i in range(1, 16)]
    st = api.adapt(model, h)
    plain = {r.skill: r.mastery for r in api.feedback(model, st).skills}
    shown = {k: v - 0.2 for k, v in plain.items()}  # the page showed less just before
    wrong = Interaction(40, (1,), 0, 20.0)
    held = {r.skill: r for r in api.feedback(model, st, last=wrong, shown=shown).skills}
    assert held[1].mastery == shown[1] and held[1].low <= held[1].mastery <= held[1].high
    assert held[2].mastery == plain[2]  # not this answer's skill: as the model says
    right = Interaction(40, (1,), 1, 20.0)
    higher = {k: v + 0.2 for k, v in plain.items()}
    kept = {r.skill: r.mastery for r in api.feedback(model, st, last=right, shown=higher).skills}
    assert kept[1] == higher[1]


def test_mastered_is_the_activitys_threshold_and_changes_compare_like_with_like(
    sim_model: api.Model
) -> None:
    model = sim_model
    h = [Interaction(i, (1 + i % 3,), 1, float(i)) for i in range(1, 16)]
    st = api.adapt(model, h)
    rows = api.feedback(model, st).skills
    top = max(r.mastery for r in rows)
    low = api.feedback(model, st, mastered_at=top - 1e-6)
    high = api.feedback(model, st, mastered_at=min(top + 1e-3, 0.99))
    assert low.detail["mastered"] == 1 and high.detail["mastered"] == 0
    assert "95%" not in low.summary and f"{top - 1e-6:.0%}" in low.summary
    # "Since your last set": against the mastery shown when the set was planned.
    before = {r.skill: r.mastery - 0.1 for r in rows}
    fb = api.feedback(model, st, before=before)
    assert {c["skill"] for c in fb.detail["changes"]} == {r.skill for r in rows}
    assert all(abs(c["before"] - before[c["skill"]]) < 1e-9 for c in fb.detail["changes"])
