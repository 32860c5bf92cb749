"""The engine's reasons and feedback in the page's own words, from the message catalogue.

meta_engine explains each chosen question and the student's progress in English sentences. The
worker stores, beside them, the numbers behind each sentence (`detail`: predicted success, the
skills by name, how long ago, mastery, which skills moved), and the page says them with `t()`,
so every word a student reads comes from the catalogue. A set stored before `detail` existed
keeps its stored sentence.
"""

from __future__ import annotations

import math
from typing import Any

from lti_tool.web.messages import t

# meta_engine.practice.reasons.RECENT_S (lti_tool never imports the model's package; the
# catalogue test checks both say the same): a miss this recent is "a little earlier".
RECENT_S = 3600.0


def pct(share: Any) -> str:
    """A share as a whole percentage; "?" for anything that is not a finite number (stored
    data is read back from the database and Redis, and the page must still render)."""
    try:
        value = float(share)
    except (TypeError, ValueError):
        return "?"
    return f"{round(100 * value)}%" if math.isfinite(value) else "?"


def ago(seconds: float) -> str:
    for one, many, unit in (("student.ago.day", "student.ago.days", 86400.0),
                            ("student.ago.hour", "student.ago.hours", 3600.0),
                            ("student.ago.minute", "student.ago.minutes", 60.0)):
        if seconds >= unit:
            n = int(seconds // unit)
            return t(one) if n == 1 else t(many, n=n)
    return t("student.ago.seconds", n=int(seconds))


def _skill(skill: Any, name: Any) -> str:
    return str(name) if name else t("student.mastery.skill", id=skill)


def _skills(detail: dict[str, Any]) -> str:
    names = list(detail.get("skill_names") or [])
    said = [_skill(k, names[i] if i < len(names) else None)
            for i, k in enumerate(detail.get("skills") or [])]
    return ", ".join(said) if said else t("student.why.no_skill")


# What odd stored numbers raise; the engine's own sentence is shown instead.
_ODD = (TypeError, ValueError, KeyError, AttributeError, IndexError)


def why(entry: dict[str, Any]) -> str:
    """Why this question was chosen, for one stored set entry."""
    try:
        return _why(entry)
    except _ODD:
        return str(entry.get("why", ""))


def worded(state: dict[str, Any]) -> dict[str, Any]:
    """A page state (lti_tool.core.practice.page_state) in the page's words: each question's
    reason and the feedback said from their numbers; the numbers themselves stay server-side."""
    items = []
    for item in state.get("items") or []:
        shown = {k: v for k, v in item.items() if k not in ("reason", "detail")}
        shown["why"] = why(item)
        items.append(shown)
    return {**state, "items": items, "feedback": feedback(dict(state.get("feedback") or {}))}


def feedback(fb: dict[str, Any]) -> dict[str, Any]:
    """`fb` with its summary, next step and changes said from its `detail`."""
    try:
        return _feedback(fb)
    except _ODD:
        return fb


def _why(entry: dict[str, Any]) -> str:
    d = entry.get("detail")
    if not isinstance(d, dict) or "p" not in d:
        return str(entry.get("why", ""))
    p = pct(d["p"])
    lo, hi = (d.get("band") or [0.6, 0.8])[:2]
    reason = entry.get("reason")
    if reason == "review" and "ago_s" in d and float(d["ago_s"]) < RECENT_S:
        return t("student.why.review_recent", p=p)
    if reason == "review" and "ago_s" in d:
        return t("student.why.review", ago=ago(float(d["ago_s"])), p=p)
    if reason == "new":
        return t("student.why.new", skills=_skills(d), p=p)
    if reason == "explore":
        return t("student.why.explore", skills=_skills(d), p=p)
    if reason == "weakness" and "skill" in d:
        return t("student.why.weakness", skill=_skill(d["skill"], d.get("skill_name")),
                 mastery=pct(d["mastery"]), p=p)
    key = "student.why.band" if lo <= float(d["p"]) <= hi else "student.why.band_nearest"
    return t(key, skills=_skills(d), p=p, lo=pct(lo), hi=pct(hi))


def _feedback(fb: dict[str, Any]) -> dict[str, Any]:
    d = fb.get("detail")
    if not isinstance(d, dict) or "next" not in d:
        return fb
    rows = {int(r["skill"]): r for r in fb.get("skills") or [] if "skill" in r}
    changes = []
    for skill in d.get("moved") or []:
        row = rows.get(int(skill))
        if row is None or row.get("change") is None:
            continue
        now, change = float(row["mastery"]), float(row["change"])
        key = "student.feedback.rose" if change > 0 else "student.feedback.fell"
        changes.append(t(key, skill=_skill(skill, row.get("name")),
                         old=pct(now - change), new=pct(now)))
    if d.get("compared") and not changes:
        changes.append(t("student.feedback.none_moved"))
    nxt = d["next"] if isinstance(d["next"], dict) else {}
    kind = nxt.get("kind")
    if kind == "first":
        next_step = t("student.feedback.next_first")
    elif kind == "practise":
        key = ("student.feedback.next_practise_unsure" if nxt.get("unsure")
               else "student.feedback.next_practise")
        next_step = t(key, skill=_skill(nxt.get("skill"), nxt.get("skill_name")),
                      mastery=pct(nxt.get("mastery", 0)))
    else:
        next_step = t("student.feedback.next_done")
    summary = t("student.feedback.summary", mastered=d.get("mastered", 0),
                practised=d.get("practised", 0), level=pct(d.get("level", 0.8)))
    return {**fb, "summary": summary, "next_step": next_step, "changes": changes}
