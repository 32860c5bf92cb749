"""Feedback after a practice set: mastery per skill with an interval, changes, next step.

"Changes" compare the mastery shown now with the mastery shown when the student's current set
was planned (`before`; or, without it, their state at the previous set, which the caller
adapts from the course history up to it), not with the state one answer ago: like with like.

Shown mastery is honest about the evidence: after a wrong answer, the mastery of that
answer's skills is never shown higher than it was shown just before (`shown`), and after a
right answer never lower, whatever the model's other updates (a table refit, forgetting) did.
"Mastered" has one meaning: at or above the activity's threshold (`mastered_at`). Codes and
parameters are in `detail`, in the course's own skill ids (`meta_engine.practice.reasons`);
the sentences are the default wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from meta_engine.model.serving import Mastery, Model, StudentState, mastery
from meta_engine.model.tables import CourseTables
from meta_engine.practice.reasons import STEADY, say_change, say_next
from meta_engine.types import Interaction


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


MASTERED = 0.8  # the default threshold, when the caller gives none
CHANGE = 0.03  # mastery moves smaller than this are not reported


def _with_evidence(row: SkillMastery, last: Interaction | None,
                   shown: Mapping[int, float] | None) -> SkillMastery:
    """`row` held to the direction of the last answer's evidence on its skill."""
    if last is None or not shown or row.skill not in shown or row.skill not in last.skills:
        return row
    was = float(shown[row.skill])
    held = min(row.mastery, was) if not last.correct else max(row.mastery, was)
    delta = held - row.mastery
    if delta == 0.0:
        return row
    return SkillMastery(row.skill, held, min(max(row.low + delta, 0.0), held),
                        max(min(row.high + delta, 1.0), held), row.attempts, row.change)


def feedback(model: Model, state: StudentState, previous_state: StudentState | None = None,
             max_changes: int = 5, state_mastery: Mastery | None = None,
             tables: CourseTables | None = None,
             names: Mapping[int, str] | None = None, *, mastered_at: float = MASTERED,
             last: Interaction | None = None, shown: Mapping[int, float] | None = None,
             before: Mapping[int, float] | None = None) -> Feedback:
    """Per-skill mastery (with its likely range) for the skills practised, and what changed
    since the current set was planned. `state_mastery`: the caller's mastery of (at least)
    these skills; `last`: the answer just given; `shown`: the mastery the page showed just
    before it; `before`: the mastery shown when the set was planned."""
    att = state.attempts()
    practised = sorted(k for k, n in att.items() if n > 0)
    ms = state_mastery
    if ms is None or any(k not in ms.index() for k in practised):
        ms = mastery(model, state, practised, tables)
    where = ms.index()
    compared = before is not None or previous_state is not None
    prev: dict[int, float] = dict(before or {})
    if before is None and previous_state is not None and practised:
        pm = mastery(model, previous_state, practised, tables)
        prev = {k: float(pm.mean[pm.index()[k]]) for k in practised}
    rows: list[SkillMastery] = []
    for k in practised:
        i = where[k]
        row = _with_evidence(SkillMastery(int(k), float(ms.mean[i]), float(ms.low[i]),
                                          float(ms.high[i]), int(att[k])), last, shown)
        row.change = row.mastery - prev[k] if k in prev else None
        rows.append(row)
    rows.sort(key=lambda r: r.mastery)
    changes: list[dict] = []
    if compared:
        moved = sorted((r for r in rows if r.change is not None and abs(r.change) >= CHANGE),
                       key=lambda r: -abs(r.change or 0.0))
        changes = [{"code": "rose" if (r.change or 0.0) > 0 else "fell", "skill": r.skill,
                    "before": r.mastery - (r.change or 0.0), "after": r.mastery}
                   for r in moved[:max_changes]]
    texts = [say_change(c, names) for c in changes]
    steady = compared and not changes
    if steady:
        texts.append(STEADY)
    mastered = [r for r in rows if r.mastery >= mastered_at]
    open_ = [r for r in rows if r.mastery < mastered_at]
    nxt: dict = {"kind": "done"}
    if not rows:
        nxt = {"kind": "first"}
    elif open_:
        weak = open_[0]
        nxt = {"kind": "practise", "skill": weak.skill, "mastery": weak.mastery,
               "unsure": weak.high - weak.low > 0.3}
    summary = (f"{len(mastered)} of {len(rows)} practised skills mastered "
               f"(at or above {mastered_at:.0%}).")
    detail = {"mastered": len(mastered), "practised": len(rows), "level": mastered_at,
              "compared": compared,
              "moved": [c["skill"] for c in changes], "changes": changes, "steady": steady,
              "next": nxt}
    return Feedback(rows, texts, say_next(nxt, names), summary,
                    {"n_answers": state.n_answers, "model_version": state.model_version,
                     "since_answers": (previous_state.n_answers if previous_state is not None
                                       else None)},
                    detail)
