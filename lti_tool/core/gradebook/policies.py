"""The score sent to the gradebook, as a fraction of the activity's points, by its grading
policy. Pure functions: the pipeline reads the rows and hands them over.

Policies (`Activity.settings["grading"]`):

- none set (activities from before policies existed): the share of right answers so far.
- "completion": answers so far / goal, at most 1.
- "best_set": the student's answers, in the order given, are cut into practice sets of
  `set_size`; each set scores its right answers / `set_size` (a set still in progress counts
  its missing answers as not right, so one lucky first answer is not 100%); the best set counts.
  The sets a student was shown are not stored per answer, which is why sets are counted this way.
- "mastery": the share of the chosen skills (all of the bank's skills when none were chosen)
  whose mastery in the latest practice set's feedback reaches the mastery threshold; a chosen
  skill without a mastery estimate yet counts as not mastered. Before the model has given any
  mastery at all, the share of right answers stands in for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

POLICIES = ("mastery", "best_set", "completion")


@dataclass(frozen=True)
class ScoringPolicy:
    grading: str | None = None  # None: the share of right answers
    set_size: int = 5
    goal: int = 20
    mastery_threshold: float = 0.8
    skills: tuple[int, ...] = ()  # empty: every skill of the bank

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any] | None) -> ScoringPolicy:
        """Read from `Activity.settings`; values that are missing or unusable keep defaults."""
        raw = raw or {}
        base = cls()
        grading = raw.get("grading")
        return cls(
            grading=grading if grading in POLICIES else None,
            set_size=_positive_int(raw.get("set_size"), base.set_size),
            goal=_positive_int(raw.get("goal"), base.goal),
            mastery_threshold=_fraction(raw.get("mastery_threshold"), base.mastery_threshold),
            skills=tuple(int(k) for k in raw.get("skills") or [] if _is_int(k)),
        )


def fraction_correct(answers: Sequence[bool]) -> float:
    return sum(answers) / len(answers) if answers else 0.0


def completion(answers: Sequence[bool], goal: int) -> float:
    return min(1.0, len(answers) / goal) if goal > 0 else 1.0


def best_set(answers: Sequence[bool], set_size: int) -> float:
    if not answers or set_size < 1:
        return 0.0
    return max(
        sum(answers[start : start + set_size]) / set_size
        for start in range(0, len(answers), set_size)
    )


def mastery_by_skill(feedback: Mapping[str, Any] | None) -> dict[int, float]:
    """{skill id: mastery} from a PracticeSet's feedback["skills"] entries."""
    out: dict[int, float] = {}
    rows = (feedback or {}).get("skills")
    if not isinstance(rows, list):
        return out
    for row in rows:
        if not isinstance(row, dict):
            continue
        skill, value = row.get("skill"), row.get("mastery")
        if skill is not None and _is_int(skill) and isinstance(value, int | float) \
                and not isinstance(value, bool):
            out[int(skill)] = float(value)
    return out


def mastered_share(
    mastery: Mapping[int, float], skills: Iterable[int], threshold: float
) -> float | None:
    """The share of `skills` at or above the threshold; None without any mastery estimate."""
    chosen = list(dict.fromkeys(skills))
    if not mastery or not chosen:
        return None
    return sum(1 for k in chosen if mastery.get(k, 0.0) >= threshold) / len(chosen)


def score(
    policy: ScoringPolicy,
    answers: Sequence[bool],
    *,
    mastery: Mapping[int, float] | None = None,
    bank_skills: Iterable[int] = (),
) -> float:
    """The score as a fraction in [0, 1]. `answers`: right/wrong of every answer so far, in
    order; `mastery`: the latest practice set's estimates; `bank_skills`: the bank's skill ids
    (the chosen skills when the activity names none)."""
    if policy.grading == "completion":
        return completion(answers, policy.goal)
    if policy.grading == "best_set":
        return best_set(answers, policy.set_size)
    if policy.grading == "mastery":
        skills = policy.skills or tuple(bank_skills)
        share = mastered_share(mastery or {}, skills, policy.mastery_threshold)
        return fraction_correct(answers) if share is None else share
    return fraction_correct(answers)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.isascii() and value.isdigit()
    )


def _positive_int(value: Any, default: int) -> int:
    return int(value) if _is_int(value) and int(value) > 0 else default


def _fraction(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    return default
