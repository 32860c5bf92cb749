"""Feedback after a practice set: mastery per skill with an interval, changes, next step."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from meta_engine.model.runtime import Mastery, Model, StudentState, mastery


@dataclass
class SkillMastery:
    skill: int
    mastery: float
    low: float
    high: float
    attempts: int
    change: float | None = None  # since the previous state, None when there was none

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Feedback:
    skills: list[SkillMastery]
    changes: list[str]
    next_step: str
    summary: str
    extra: dict = field(default_factory=dict)
    # The numbers behind the sentences, so a page can say them in its own words:
    # mastered, practised, level, compared (an earlier state was given), moved (skills in
    # `changes` order), next {kind: first | practise | done, skill, mastery, unsure}.
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"skills": [s.to_dict() for s in self.skills], "changes": self.changes,
                "next_step": self.next_step, "summary": self.summary, "extra": self.extra,
                "detail": self.detail}


MASTERED = 0.8  # the lower end of the interval must clear this to call a skill mastered
CHANGE = 0.03  # mastery moves smaller than this are not reported


def feedback(model: Model, state: StudentState, previous_state: StudentState | None = None,
             max_changes: int = 5, state_mastery: Mastery | None = None) -> Feedback:
    """Per-skill mastery (95% interval) for the skills practised, and what changed.
    `state_mastery`: `mastery(model, state)` when the caller already has it."""
    ms = state_mastery if state_mastery is not None else mastery(model, state)
    prev = mastery(model, previous_state) if previous_state is not None else None
    practised = np.nonzero(ms.attempts > 0)[0]
    rows: list[SkillMastery] = []
    for i in practised:
        ch = float(ms.mean[i] - prev.mean[i]) if prev is not None else None
        rows.append(SkillMastery(int(ms.skills[i]), float(ms.mean[i]), float(ms.low[i]),
                                 float(ms.high[i]), int(ms.attempts[i]), ch))
    rows.sort(key=lambda r: r.mastery)
    changes: list[str] = []
    moved_skills: list[int] = []
    if prev is not None:
        moved = sorted((r for r in rows if r.change is not None and abs(r.change) >= CHANGE),
                       key=lambda r: -abs(r.change or 0.0))
        moved_skills = [r.skill for r in moved[:max_changes]]
        for r in moved[:max_changes]:
            verb = "rose" if (r.change or 0.0) > 0 else "fell"
            changes.append(f"Skill {r.skill} {verb} from {r.mastery - (r.change or 0.0):.0%} "
                           f"to {r.mastery:.0%}.")
        if not moved:
            changes.append("No skill moved by more than 3 points since the last set.")
    mastered = [r for r in rows if r.low >= MASTERED]
    open_ = [r for r in rows if r.low < MASTERED]
    nxt: dict = {"kind": "done"}
    if not rows:
        nxt = {"kind": "first"}
        next_step = "Answer a first practice set so we can estimate your skills."
    elif open_:
        weak = open_[0]
        unsure = weak.high - weak.low > 0.3
        nxt = {"kind": "practise", "skill": weak.skill, "mastery": weak.mastery,
               "unsure": unsure}
        next_step = (f"Next: practise skill {weak.skill} (mastery {weak.mastery:.0%}"
                     + (", still uncertain" if unsure else "") + ").")
    else:
        next_step = "All practised skills look mastered: move on to new skills."
    summary = (f"{len(mastered)} of {len(rows)} practised skills mastered "
               f"(95% interval above {MASTERED:.0%}).")
    detail = {"mastered": len(mastered), "practised": len(rows), "level": MASTERED,
              "compared": prev is not None, "moved": moved_skills, "next": nxt}
    return Feedback(rows, changes, next_step, summary,
                    {"n_answers": state.n_answers, "model_version": state.model_version},
                    detail)
