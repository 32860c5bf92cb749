"""Feedback after a practice set: mastery per skill with an interval, changes, next step.

"Changes" compare the student's state now with their state at the previous set (the caller
passes that state: `meta_engine.serve` adapts it from the course history up to the previous
set), not with the state one answer ago. Codes and parameters are in `detail`, in the course's
own skill ids (`meta_engine.practice.reasons`); the sentences are the default wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from meta_engine.model.serving import Mastery, Model, StudentState, mastery
from meta_engine.model.tables import CourseTables
from meta_engine.practice.reasons import STEADY, say_change, say_next


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
    # The structured feedback the sentences word: mastered, practised, level, compared (an
    # earlier state was given), moved (skills in `changes` order), changes [{code: rose |
    # fell, skill, before, after}], steady (nothing moved), next {kind: first | practise |
    # done, skill, mastery, unsure}.
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"skills": [s.to_dict() for s in self.skills], "changes": self.changes,
                "next_step": self.next_step, "summary": self.summary, "extra": self.extra,
                "detail": self.detail}


MASTERED = 0.8  # the lower end of the interval must clear this to call a skill mastered
CHANGE = 0.03  # mastery moves smaller than this are not reported


def feedback(model: Model, state: StudentState, previous_state: StudentState | None = None,
             max_changes: int = 5, state_mastery: Mastery | None = None,
             tables: CourseTables | None = None,
             names: Mapping[int, str] | None = None) -> Feedback:
    """Per-skill mastery (95% interval) for the skills practised, and what changed since
    `previous_state`. `state_mastery`: the caller's mastery of (at least) these skills."""
    att = state.attempts()
    practised = sorted(k for k, n in att.items() if n > 0)
    ms = state_mastery
    if ms is None or any(k not in ms.index() for k in practised):
        ms = mastery(model, state, practised, tables)
    where = ms.index()
    prev = (mastery(model, previous_state, practised, tables)
            if previous_state is not None and practised else None)
    rows: list[SkillMastery] = []
    for k in practised:
        i = where[k]
        ch = float(ms.mean[i] - prev.mean[prev.index()[k]]) if prev is not None else None
        rows.append(SkillMastery(int(k), float(ms.mean[i]), float(ms.low[i]),
                                 float(ms.high[i]), int(att[k]), ch))
    rows.sort(key=lambda r: r.mastery)
    changes: list[dict] = []
    if previous_state is not None:
        moved = sorted((r for r in rows if r.change is not None and abs(r.change) >= CHANGE),
                       key=lambda r: -abs(r.change or 0.0))
        changes = [{"code": "rose" if (r.change or 0.0) > 0 else "fell", "skill": r.skill,
                    "before": r.mastery - (r.change or 0.0), "after": r.mastery}
                   for r in moved[:max_changes]]
    texts = [say_change(c, names) for c in changes]
    steady = previous_state is not None and not changes
    if steady:
        texts.append(STEADY)
    mastered = [r for r in rows if r.low >= MASTERED]
    open_ = [r for r in rows if r.low < MASTERED]
    nxt: dict = {"kind": "done"}
    if not rows:
        nxt = {"kind": "first"}
    elif open_:
        weak = open_[0]
        nxt = {"kind": "practise", "skill": weak.skill, "mastery": weak.mastery,
               "unsure": weak.high - weak.low > 0.3}
    summary = (f"{len(mastered)} of {len(rows)} practised skills mastered "
               f"(95% interval above {MASTERED:.0%}).")
    detail = {"mastered": len(mastered), "practised": len(rows), "level": MASTERED,
              "compared": previous_state is not None,
              "moved": [c["skill"] for c in changes], "changes": changes, "steady": steady,
              "next": nxt}
    return Feedback(rows, texts, say_next(nxt, names), summary,
                    {"n_answers": state.n_answers, "model_version": state.model_version,
                     "since_answers": (previous_state.n_answers if previous_state is not None
                                       else None)},
                    detail)
