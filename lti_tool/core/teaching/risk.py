"""Which students may need help, each with the reason in words. Plain rules a teacher can check
against the numbers on the page: low mastery on most skills, falling mastery, few right answers
on a skill, inactivity.

This is the one definition: the class overview's "may need help" list and its students table
both show what `activity_reasons` and `presence_reasons` return, so they cannot disagree.
Mastery-based reasons need evidence: below `RiskRules.min_answers` answers in an activity the
page says "too few answers to judge" instead of calling the student at risk (one wrong first
answer would otherwise put everyone below the target).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from lti_tool.core.teaching.course import Cell, MasteryPoint


@dataclass(frozen=True)
class RiskRules:
    inactive_days: int = 7
    # A skill "falls" when its latest estimate is this much below the one `lookback` sets ago.
    fall_by: float = 0.1
    lookback: int = 3
    # Answers in an activity before any mastery-based reason is given for it.
    min_answers: int = 5
    # A skill is "few right" with at least this many answers and a share right under the bar.
    struggle_attempts: int = 3
    struggle_below: float = 0.5


DEFAULT_RULES = RiskRules()


def _names(skills: list[int], names: Mapping[int, str], limit: int = 3) -> str:
    shown = [names.get(s, f"skill {s}") for s in skills[:limit]]
    more = len(skills) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def enough_evidence(answers: int, rules: RiskRules = DEFAULT_RULES) -> bool:
    return answers >= rules.min_answers


def risk_reasons(*, on_roster: bool, launched: bool, last_answer: datetime | None,
                 answers: int, cells: Mapping[int, Cell],
                 history: Mapping[int, list[MasteryPoint]], skill_names: Mapping[int, str],
                 now: datetime, opened_at: datetime | None = None,
                 rules: RiskRules = DEFAULT_RULES) -> list[str]:
    """The reasons a student with one activity is at risk; empty when none applies."""
    return (presence_reasons(on_roster=on_roster, launched=launched, last_answer=last_answer,
                             now=now, opened_at=opened_at, rules=rules)
            + activity_reasons(answers=answers, cells=cells, history=history,
                               skill_names=skill_names, rules=rules))


def presence_reasons(*, on_roster: bool, launched: bool, last_answer: datetime | None,
                     now: datetime, opened_at: datetime | None = None,
                     rules: RiskRules = DEFAULT_RULES) -> list[str]:
    """Not started, or not answering lately (over the whole course). These need no minimum
    number of answers: they are facts, not estimates. `opened_at`: the student's first launch
    in the course; someone who opened it less than `inactive_days` ago and has not answered
    yet is just starting, not at risk."""
    reasons: list[str] = []
    if last_answer is None:
        if on_roster and not launched:
            reasons.append("has not opened the activity yet")
        elif launched and opened_at is None:  # when is unknown
            reasons.append("opened the activity but has not answered a question yet")
        elif launched and opened_at is not None:
            waited = (now - opened_at).days
            if waited >= rules.inactive_days:
                reasons.append(f"opened the activity {waited} days ago but has not answered "
                               "a question yet")
    else:
        idle = (now - last_answer).days
        if idle >= rules.inactive_days:
            reasons.append(f"no answer for {idle} days")
    return reasons


def activity_reasons(*, answers: int, cells: Mapping[int, Cell],
                     history: Mapping[int, list[MasteryPoint]], skill_names: Mapping[int, str],
                     rules: RiskRules = DEFAULT_RULES) -> list[str]:
    """Below the target on most skills, few right answers on a skill, or a falling estimate:
    give the answer count, cells and history of one activity, so that each skill is judged
    against that activity's target. Nothing below `rules.min_answers` answers."""
    if not enough_evidence(answers, rules):
        return []
    reasons: list[str] = []
    low = sorted((s for s, c in cells.items() if c.below),
                 key=lambda s: (cells[s].mastery, s))
    if cells and len(low) * 2 > len(cells):
        reasons.append(f"mastery below the target on {len(low)} of {len(cells)} skills "
                       f"({_names(low, skill_names)})")
    few = sorted((s for s, c in cells.items() if c.attempts >= rules.struggle_attempts
                  and c.correct < rules.struggle_below * c.attempts),
                 key=lambda s: (cells[s].correct / cells[s].attempts, s))
    for s in few:
        c = cells[s]
        reasons.append(f"{c.correct} of {c.attempts} right on "
                       f"{skill_names.get(s, f'skill {s}')}")
    falls: list[tuple[float, int, float, float]] = []
    for skill, points in history.items():
        if len(points) < 2:
            continue
        before = points[max(0, len(points) - 1 - rules.lookback)]
        drop = before.mastery - points[-1].mastery
        if drop >= rules.fall_by:
            falls.append((drop, skill, before.mastery, points[-1].mastery))
    if falls:
        falls.sort(key=lambda f: (-f[0], f[1]))
        _, skill, was, now_m = falls[0]
        more = f" (and {len(falls) - 1} more skills)" if len(falls) > 1 else ""
        reasons.append(f"mastery of {skill_names.get(skill, f'skill {skill}')} fell from "
                       f"{was:.0%} to {now_m:.0%} over the last practice sets{more}")
    return reasons
