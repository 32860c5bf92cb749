"""Server-side grading of one answer against `Item.answer`. The browser sends only what the
student chose or typed; whether it is correct is decided here.

`Item.answer` formats by `Item.kind`:
- "multichoice": {"choice": <index>} or {"choices": [<index>, ...]} (any listed index is right);
  the form field `choice` carries the chosen index. Optional "credits": a list parallel to the
  choices of each one's share of the marks (Moodle's `fraction` / 100): a choice outside the
  right ones with a credit between 0 and 1 is partly right.
- "multiresponse": {"choices": [<index>, ...]}: right only when exactly those are ticked; the
  form field `choice` is repeated, once per ticked option (a werkzeug MultiDict's `getlist`).
  Optional "weights": a list parallel to the choices of each one's weight in [-1, 1] (Moodle's
  multiple-answer fractions): the credit is the ticked weights' sum, kept within [0, 1].
- "truefalse": {"choice": 0 (true) | 1 (false)}; form field `choice` ("0"/"1" or "true"/"false").
- "numeric": {"value": <number>, "tolerance": <number, default 0>}; form field `value`.
  Optional "partial": [{"value", "tolerance", "credit"}] for answers worth part of the marks.
- "shortanswer": {"accepted": [<text>, ...], "case_sensitive": <bool, default false>};
  form field `text`. Whitespace never matters, around or inside ("13 / 12" is "13/12",
  "x = 3" is "x=3"); case only when the teacher set `case_sensitive`; `*` in an accepted
  answer is Moodle's wildcard (any text), `\\*` a literal star. Optional "partial":
  [{"match": <text>, "credit": <0..1>}] for answers worth part of the marks. Feedback
  entries' "match" is compared the same way.
For typed answers a fully right answer wins over a partial one that also matches; among partial
answers the first that matches counts (Moodle's order).

`Grade.credit` is the share of the marks in [0, 1]; `Grade.correct` means full credit (what the
student model learns from); anything in between is "partly right", never silently wrong.

`Grade.feedback` is the item's feedback for this particular answer, from `Item.feedback["choices"]`:
the chosen option's entry for choice kinds (the ticked options' entries, joined, for
"multiresponse"); for typed answers the first {"match", "feedback"} entry that matches (numeric
entries carry their own "tolerance"), else the "*" entry. General, correct and incorrect
feedback are the page's to show; they are not repeated here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MAX_TEXT = 500
_DIGITS = re.compile(r"[0-9]{1,6}")
NOT_AN_OPTION = "the chosen option is not one of the question's options"


class GradingError(ValueError):
    """The submitted form cannot be graded. `key` is the sentence the student reads, in the
    message catalogue (filled with `params`); the English text is for logs and for callers
    without a catalogue."""

    def __init__(self, key: str, text: str, **params: Any) -> None:
        super().__init__(text)
        self.key = key
        self.params = params


class GradableItem(Protocol):
    kind: str
    choices: list[Any]
    answer: dict[str, Any]


FULL = 1.0 - 1e-9  # a credit this close to 1 is full credit (fractions like 33.33333 x 3)


@dataclass(frozen=True)
class Grade:
    response: dict[str, Any]  # what is stored: the student's normalised input, nothing else
    credit: float  # the share of the question's marks, in [0, 1]
    # The item's feedback for this particular answer (sanitised HTML), "" when it has none.
    feedback: str = ""

    @property
    def correct(self) -> bool:
        return self.credit >= FULL

    @property
    def partial(self) -> bool:
        return 0.0 < self.credit < FULL


def share(value: Any) -> float:
    """A credit from stored data: a number within [0, 1], anything else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return min(1.0, max(0.0, float(value)))


class Fields(Mapping[str, str]):
    """Form fields that may repeat (like a browser's form), built from plain lists: what
    grading reads when a stored response is graded again outside a request."""

    def __init__(self, fields: Mapping[str, list[str]]) -> None:
        self._fields = {k: list(v) for k, v in fields.items() if v}

    def __getitem__(self, key: str) -> str:
        return self._fields[key][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def getlist(self, key: str) -> list[str]:
        return list(self._fields.get(key, []))


def grade(item: GradableItem, form: Mapping[str, str]) -> Grade:
    graders = {"multichoice": _multichoice, "multiresponse": _multiresponse,
               "truefalse": _truefalse, "numeric": _numeric, "shortanswer": _shortanswer}
    grader = graders.get(item.kind)
    if grader is None:
        raise GradingError("student.grading.kind",
                           f"this question type ({item.kind!r}) cannot be answered here",
                           kind=item.kind)
    return grader(item, form)


def _feedback_entries(item: GradableItem) -> list[Any]:
    # `feedback` is optional on the protocol: items built before per-answer feedback lack it.
    feedback = getattr(item, "feedback", None)
    entries = feedback.get("choices") if isinstance(feedback, dict) else None
    return entries if isinstance(entries, list) else []


def _choice_feedback(item: GradableItem, chosen: list[int]) -> str:
    entries = _feedback_entries(item)
    parts = [entries[i] for i in chosen if i < len(entries) and isinstance(entries[i], str)]
    return " ".join(p for p in parts if p)


def _field(form: Mapping[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise GradingError("student.grading.empty", "please give an answer before submitting")
    if len(value) > MAX_TEXT:
        raise GradingError("student.grading.too_long",
                           f"the answer is longer than {MAX_TEXT} characters", max=MAX_TEXT)
    return value


def _option(raw: str, count: int) -> int:
    # ASCII digits only: int() also takes "１", "٣", "+1" and "1_0", none of which a form sends.
    if not _DIGITS.fullmatch(raw):
        raise GradingError("student.grading.not_an_option", NOT_AN_OPTION)
    chosen = int(raw)
    if not 0 <= chosen < count:
        raise GradingError("student.grading.not_an_option", NOT_AN_OPTION)
    return chosen


def _right_choices(item: GradableItem) -> set[int]:
    right = item.answer.get("choices", [item.answer.get("choice")])
    return {int(r) for r in right if r is not None}


def _listed(value: Any, index: int) -> Any:
    return value[index] if isinstance(value, list) and index < len(value) else None


def _multichoice(item: GradableItem, form: Mapping[str, str]) -> Grade:
    chosen = _option(_field(form, "choice"), len(item.choices))
    credit = 1.0 if chosen in _right_choices(item) else \
        share(_listed(item.answer.get("credits"), chosen))
    return Grade(response={"choice": chosen}, credit=credit,
                 feedback=_choice_feedback(item, [chosen]))


def _multiresponse(item: GradableItem, form: Mapping[str, str]) -> Grade:
    getlist = getattr(form, "getlist", None)
    raw = getlist("choice") if callable(getlist) else [form.get("choice") or ""]
    values = [str(v).strip() for v in raw if str(v).strip()]
    if not values:
        raise GradingError("student.grading.tick_one",
                           "please tick at least one option before submitting")
    if len(values) > max(len(item.choices), 1):
        raise GradingError("student.grading.not_an_option", NOT_AN_OPTION)
    chosen = sorted({_option(v, len(item.choices)) for v in values})
    weights = item.answer.get("weights")
    if isinstance(weights, list) and weights:
        # Moodle's multiple answers: each ticked option adds its weight (wrong ones subtract).
        total = sum(_weight(_listed(weights, i)) for i in chosen)
        credit = 1.0 if total >= FULL else share(total)
    else:
        credit = 1.0 if set(chosen) == _right_choices(item) else 0.0
    return Grade(response={"choices": chosen}, credit=credit,
                 feedback=_choice_feedback(item, chosen))


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return min(1.0, max(-1.0, float(value)))


def _truefalse(item: GradableItem, form: Mapping[str, str]) -> Grade:
    raw = _field(form, "choice").lower()
    words = {"true": "0", "false": "1"}
    chosen = _option(words.get(raw, raw), 2)
    return Grade(response={"choice": chosen},
                 credit=1.0 if chosen == int(item.answer.get("choice", 0)) else 0.0,
                 feedback=_choice_feedback(item, [chosen]))


def _numeric(item: GradableItem, form: Mapping[str, str]) -> Grade:
    raw = _field(form, "value").replace(",", ".")
    try:
        value = float(raw)
    except ValueError:
        raise GradingError("student.grading.number", "please enter a number") from None
    if not math.isfinite(value):
        raise GradingError("student.grading.number", "please enter a number")
    target = float(item.answer["value"])
    tolerance = abs(float(item.answer.get("tolerance", 0.0)))
    if _close(value, target, tolerance):
        credit = 1.0
    else:
        credit = _first_partial(item, lambda e: _close(
            value, float(e["value"]), abs(float(e.get("tolerance", 0.0)))))
    return Grade(response={"value": value}, credit=credit,
                 feedback=_typed_feedback(item, lambda m, e: _close(
                     value, float(m), abs(float(e.get("tolerance", 0.0))))))


def _first_partial(item: GradableItem, matches: Any) -> float:
    """The credit of the first partly right answer that `matches(entry)`, else 0."""
    entries = item.answer.get("partial")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        try:
            if matches(entry):
                return share(entry.get("credit"))
        except (KeyError, TypeError, ValueError):
            continue
    return 0.0


def _close(value: float, target: float, tolerance: float) -> bool:
    return abs(value - target) <= tolerance + 1e-12


def _typed_feedback(item: GradableItem, matches: Any) -> str:
    """The first entry whose "match" fits the answer (`matches(match, entry)`), else "*"."""
    catch_all = ""
    for entry in _feedback_entries(item):
        if not isinstance(entry, dict) or "match" not in entry:
            continue
        text = str(entry.get("feedback") or "")
        if entry["match"] == "*":
            catch_all = catch_all or text
            continue
        try:
            if matches(entry["match"], entry):
                return text
        except (TypeError, ValueError):
            continue
    return catch_all


def _normalise(text: str, case_sensitive: bool) -> str:
    # All whitespace goes, not only the outer: students space formulas and fractions as they
    # like ("13 / 12", "x = 3"), and a short answer worth typing is rarely told apart from
    # another by a space alone.
    text = "".join(text.split())
    return text if case_sensitive else text.casefold()


def _wildcard_match(pattern: str, text: str, case_sensitive: bool) -> bool:
    """Moodle's short-answer matching: `*` matches any text, `\\*` a literal star.

    A linear glob match, not a regex: `.*` per star backtracks exponentially on patterns such
    as `a*a*a*a*a*a*a*a*b` (seconds for a 60-character answer)."""
    pattern, text = _normalise(pattern, case_sensitive), _normalise(text, case_sensitive)
    # The literal pieces between unescaped stars (an escaped star is part of its piece).
    pieces = [""]
    for token in re.split(r"(\\\*|\*)", pattern):
        if token == "*":
            pieces.append("")
        else:
            pieces[-1] += "*" if token == "\\*" else token
    if len(pieces) == 1:
        return pieces[0] == text
    first, *middle, last = pieces
    if len(first) + len(last) > len(text) or not text.startswith(first) \
            or not text.endswith(last):
        return False
    # Each middle piece at its leftmost place after the previous one: taking the leftmost
    # occurrence never loses a match a later one would find, so no backtracking is needed.
    position, end = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _shortanswer(item: GradableItem, form: Mapping[str, str]) -> Grade:
    text = _field(form, "text")
    case = bool(item.answer.get("case_sensitive", False))
    if any(_wildcard_match(str(a), text, case) for a in item.answer.get("accepted", [])):
        credit = 1.0
    else:
        credit = _first_partial(item, lambda e: _wildcard_match(str(e["match"]), text, case))
    return Grade(response={"text": text}, credit=credit,
                 feedback=_typed_feedback(item, lambda m, _e: _wildcard_match(str(m), text, case)))
