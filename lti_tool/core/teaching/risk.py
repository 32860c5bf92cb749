"""Which students may need help, each with the reason in words. Plain rules a teacher can check
against the numbers on the page: low mastery on most skills, falling mastery, inactivity."""

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


DEFAULT_RULES = RiskRules()


def _names(skills: list[int], names: Mapping[int, str], limit: int = 3) -> str:
    shown = [names.get(s, f"skill {s}") for s in skills[:limit]]
    more = len(skills) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def risk_reasons(*, on_roster: bool, launched: bool, last_answer: datetime | None,
                 cells: Mapping[int, Cell], history: Mapping[int, list[MasteryPoint]],
                 skill_names: Mapping[int, str], now: datetime,
                 rules: RiskRules = DEFAULT_RULES) -> list[str]:
    """The reasons a student is at risk; empty when none applies."""
    return (presence_reasons(on_roster=on_roster, launched=launched, last_answer=last_answer,
                             now=now, rules=rules)
            + mastery_reasons(cells=cells, history=history, skill_names=skill_names,
                              rules=rules))


def presence_reasons(*, on_roster: bool, launched: bool, last_answer: datetime | None,
                     now: datetime, rules: RiskRules = DEFAULT_RULES) -> list[str]:
    """Not started, or not answering lately (over the whole course)."""
    reasons: list[str] = []
    if last_answer is None:
        if on_roster and not launched:
            reasons.append("has not opened the activity yet")
        elif launched:
            reasons.append("opened the activity but has not answered a question yet")
    else:
        idle = (now - last_answer).days
        if idle >= rules.inactive_days:
            reasons.append(f"no answer for {idle} days")
    return reasons


def mastery_reasons(*, cells: Mapping[int, Cell], history: Mapping[int, list[MasteryPoint]],
                    skill_names: Mapping[int, str], rules: RiskRules = DEFAULT_RULES
                    ) -> list[str]:
    """Below the target on most skills, or a falling estimate: give the cells and history of
    one activity, so that each skill is judged against that activity's target."""
    reasons: list[str] = []
    low = sorted((s for s, c in cells.items() if c.below),
                 key=lambda s: (cells[s].mastery, s))
    if cells and len(low) * 2 > len(cells):
        reasons.append(f"mastery below the target on {len(low)} of {len(cells)} skills "
                       f"({_names(low, skill_names)})")
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
