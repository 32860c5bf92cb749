"""The student's answer and the right answer(s) as the review shows them (Moodle's "Right
answer: ..." line), as HTML fragments.

Choices are item HTML, sanitised when the bank was imported; what a student typed, and numbers,
are escaped here. A short answer's accepted patterns are shown without Moodle's wildcards: a
pattern that is only a wildcard says nothing and is left out.
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from lti_tool.core.answers.check import GradableItem

TRUE_FALSE = ("True", "False")


def _choice_html(item: GradableItem, index: Any) -> str | None:
    choices = list(item.choices or []) or (list(TRUE_FALSE) if item.kind == "truefalse" else [])
    try:
        n = int(index)
    except (TypeError, ValueError):
        return None
    return str(choices[n]) if 0 <= n < len(choices) else None


def _number(value: Any) -> str:
    try:
        return str(escape(f"{float(value):g}"))
    except (TypeError, ValueError):
        return ""


def student_answer(item: GradableItem, response: dict[str, Any]) -> list[str]:
    """What the student answered (one entry per ticked option)."""
    if item.kind in ("multichoice", "truefalse", "multiresponse"):
        picked = response.get("choices", [response.get("choice")])
        return [h for h in (_choice_html(item, i) for i in picked or []) if h]
    if item.kind == "numeric" and "value" in response:
        return [_number(response["value"])]
    if item.kind == "shortanswer" and "text" in response:
        return [str(escape(str(response["text"])))]
    return []


def right_answers(item: GradableItem) -> list[str]:
    """The answers worth full marks."""
    answer = item.answer or {}
    if item.kind in ("multichoice", "truefalse", "multiresponse"):
        default = 0 if item.kind == "truefalse" else None
        right = answer.get("choices", [answer.get("choice", default)])
        return [h for h in (_choice_html(item, i) for i in right or []) if h]
    if item.kind == "numeric" and "value" in answer:
        tolerance = abs(float(answer.get("tolerance") or 0.0))
        value = _number(answer["value"])
        return [f"{value} ± {_number(tolerance)}" if tolerance else value]
    if item.kind == "shortanswer":
        shown = []
        for pattern in answer.get("accepted") or []:
            text = str(pattern).replace("\\*", "\0").replace("*", "").replace("\0", "*").strip()
            if text and text not in shown:
                shown.append(text)
        return [str(escape(t)) for t in shown]
    return []
