"""Server-side grading of one answer against `Item.answer`. The browser sends only what the
student chose or typed; whether it is correct is decided here.

`Item.answer` formats by `Item.kind`:
- "multichoice": {"choice": <index>} or {"choices": [<index>, ...]} (any listed index is right);
  the form field `choice` carries the chosen index.
- "numeric": {"value": <number>, "tolerance": <number, default 0>}; form field `value`.
- "shortanswer": {"accepted": [<text>, ...], "case_sensitive": <bool, default false>};
  form field `text`. Surrounding and repeated whitespace never matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MAX_TEXT = 500


class GradingError(ValueError):
    """The submitted form cannot be graded; the message is safe to show to the student."""


class GradableItem(Protocol):
    kind: str
    choices: list[Any]
    answer: dict[str, Any]


@dataclass(frozen=True)
class Grade:
    correct: bool
    response: dict[str, Any]  # what is stored: the student's normalised input, nothing else
    # The item's feedback for this particular answer (sanitised HTML), "" when it has none.
    feedback: str = ""


def grade(item: GradableItem, form: Mapping[str, str]) -> Grade:
    graders = {"multichoice": _multichoice, "numeric": _numeric, "shortanswer": _shortanswer}
    grader = graders.get(item.kind)
    if grader is None:
        raise GradingError(f"this question type ({item.kind!r}) cannot be answered here")
    return grader(item, form)


def _field(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise GradingError("please give an answer before submitting")
    if len(value) > MAX_TEXT:
        raise GradingError(f"the answer is longer than {MAX_TEXT} characters")
    return value


def _multichoice(item: GradableItem, form: Mapping[str, str]) -> Grade:
    raw = _field(form, "choice")
    try:
        chosen = int(raw)
    except ValueError:
        raise GradingError("the chosen option is not one of the question's options") from None
    if not 0 <= chosen < len(item.choices):
        raise GradingError("the chosen option is not one of the question's options")
    right = item.answer.get("choices", [item.answer.get("choice")])
    return Grade(correct=chosen in {int(r) for r in right if r is not None},
                 response={"choice": chosen})


def _numeric(item: GradableItem, form: Mapping[str, str]) -> Grade:
    raw = _field(form, "value").replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        raise GradingError("please enter a number") from None
    if not math.isfinite(value):
        raise GradingError("please enter a number")
    target = float(item.answer["value"])
    tolerance = abs(float(item.answer.get("tolerance", 0.0)))
    return Grade(correct=abs(value - target) <= tolerance + 1e-12, response={"value": value})


def _normalise(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


def _shortanswer(item: GradableItem, form: Mapping[str, str]) -> Grade:
    text = _field(form, "text")
    case = bool(item.answer.get("case_sensitive", False))
    accepted = {_normalise(str(a), case) for a in item.answer.get("accepted", [])}
    return Grade(correct=_normalise(text, case) in accepted, response={"text": text})
