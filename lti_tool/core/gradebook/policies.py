"""The score sent to the gradebook, as a fraction of the activity's points, by its grading
policy (`ActivitySettings.grading`). Pure functions: the callers read the rows and hand them over.

- "fraction_correct": the share of right answers so far (what every activity from before
  grading policies was graded by).
- "completion": completions so far / goal, at most 1: one completion per item of a practice
  set, however often it is answered (`lti_tool.core.gradebook.completions` counts them).
- "best_set": the student's answers, in the order given, are cut into practice sets of
  `set_size`; each set scores its right answers / `set_size` (a set still in progress counts
  its missing answers as not right, so one lucky first answer is not 100%); the best set counts.
- "mastery": the share of the chosen skills (all of the bank's skills when none were chosen)
  whose mastery in the latest practice set's feedback reaches the mastery threshold; a chosen
  skill without a mastery estimate yet counts as not mastered. Before the model has given any
  mastery at all, the share of right answers stands in for it.

`answers` are credits in [0, 1] in answer order (True/False count as 1/0): a partly right
answer counts its share of the question's marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lti_tool.core.activities import ActivitySettings
from lti_tool.core.parsing import parse_id


def fraction_correct(answers: Sequence[float]) -> float:
    return sum(answers) / len(answers) if answers else 0.0


def completion(completed: int, goal: int) -> float:
    return min(1.0, completed / goal) if goal > 0 else 1.0


def best_set_right(answers: Sequence[float], set_size: int) -> float:
    """Right answers in the best set: consecutive runs of `set_size` answers in answer order."""
    if not answers or set_size < 1:
        return 0.0
    return max(
        float(sum(answers[start : start + set_size]))
        for start in range(0, len(answers), set_size)
    )


def best_set(answers: Sequence[float], set_size: int) -> float:
    return best_set_right(answers, set_size) / set_size if set_size >= 1 else 0.0


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
        skill_id = parse_id(skill)
        if skill_id is not None and isinstance(value, int | float) \
                and not isinstance(value, bool):
            out[skill_id] = float(value)
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
    settings: ActivitySettings,
    answers: Sequence[float],
    *,
    mastery: Mapping[int, float] | None = None,
    bank_skills: Iterable[int] = (),
    completed: int | None = None,
) -> float:
    """The score as a fraction in [0, 1]. `answers`: the credit of every answer so far, in
    order; `mastery`: the latest practice set's estimates; `bank_skills`: the bank's skill ids
    (the chosen skills when the activity names none); `completed`: the completions counted so
    far ("completion" only; every answer counts once when not given)."""
    if settings.grading == "completion":
        return completion(len(answers) if completed is None else completed, settings.goal)
    if settings.grading == "best_set":
        return best_set(answers, settings.set_size)
    if settings.grading == "mastery":
        skills = settings.skills or tuple(bank_skills)
        share = mastered_share(mastery or {}, skills, settings.mastery_threshold)
        return fraction_correct(answers) if share is None else share
    return fraction_correct(answers)
