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
