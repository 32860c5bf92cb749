"""Structured reasons and their default English wording.

The engine decides and returns codes with parameters, always in the course's own ids; a page
words them from its own message catalogue (and language). The sentences here are the default
wording, used for `why` / `changes` / `next_step` and by callers without a catalogue; skill
names come from `names` (course skill id -> name) and fall back to "skill <id>".

Planned item (`PlannedItem.reason`, `PlannedItem.detail`):
    review    {p, skills, band, ago_s}          a missed question brought back
    explore   {p, skills, band}                 the model knows little about these skills
    weakness  {p, skills, band, skill, mastery} practises one of the weakest skills
    band      {p, skills, band, inside}         a well-matched (or nearest) challenge
    new       {p, skills, band}                 a first question on skills never tried
Feedback (`Feedback.detail`):
    changes   [{code: rose | fell, skill, before, after}]   since the previous set
    steady    no skill moved by CHANGE or more since the previous set
    next      {kind: first | practise | done, skill, mastery, unsure}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

REASON_CODES = ("review", "explore", "weakness", "band", "new")
RECENT_S = 3600.0  # a missed question brought back within this is "a little earlier" (same session)
CHANGE_CODES = ("rose", "fell")
NEXT_CODES = ("first", "practise", "done")


def skill_name(skill: int, names: Mapping[int, str] | None) -> str:
    return (names or {}).get(int(skill)) or f"skill {int(skill)}"


def _skills(skills: Sequence[int], names: Mapping[int, str] | None) -> str:
    return ", ".join(skill_name(k, names) for k in skills) or "no tagged skill"


def ago(dt: float) -> str:
    for unit, secs in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if dt >= secs:
            n = int(dt // secs)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{int(dt)} seconds"


def say_item(code: str, d: Mapping, names: Mapping[int, str] | None = None) -> str:
    p = float(d["p"])
    lo, hi = d["band"]
    if code == "review" and float(d["ago_s"]) < RECENT_S:
        return (f"You missed this question a little earlier; another try now (predicted "
                f"success {p:.0%}) helps it stick.")
    if code == "review":
        return (f"You missed this question {ago(float(d['ago_s']))} ago; bringing it back "
                f"now (predicted success {p:.0%}) helps it stick.")
    if code == "new":
        return (f"A first question on {_skills(d['skills'], names)}, which you have not "
                f"practised yet (predicted success {p:.0%}).")
    if code == "explore":
        return (f"We know little yet about your {_skills(d['skills'], names)}; this question "
                f"(predicted success {p:.0%}) will tell us the most.")
    if code == "weakness":
        return (f"Practises {skill_name(d['skill'], names)}, one of your weakest (mastery "
                f"{float(d['mastery']):.0%}), at a predicted success of {p:.0%}.")
    fit = "well-matched" if d.get("inside", lo <= p <= hi) else "nearest-available"
    return (f"A {fit} challenge on {_skills(d['skills'], names)}: predicted success {p:.0%} "
            f"(target band {lo:.0%}-{hi:.0%}).")


def say_change(c: Mapping, names: Mapping[int, str] | None = None) -> str:
    name = skill_name(c["skill"], names)
    return (f"{name[:1].upper()}{name[1:]} {c['code']} from {float(c['before']):.0%} to "
            f"{float(c['after']):.0%}.")


STEADY = "No skill moved by more than 3 points since the last set."


def say_next(n: Mapping, names: Mapping[int, str] | None = None) -> str:
    if n["kind"] == "first":
        return "Answer a first practice set so we can estimate your skills."
    if n["kind"] == "practise":
        return (f"Next: practise {skill_name(n['skill'], names)} (mastery "
                f"{float(n['mastery']):.0%}" + (", still uncertain" if n.get("unsure") else "")
                + ").")
    return "All practised skills look mastered: move on to new skills."
