"""Moodle XML (the question bank export of Moodle 3.x/4.x): import and export.

Import is parsed with defusedxml with DTDs forbidden: Moodle never writes a DTD, and one is how
external entities (XXE) and entity bombs get in, so such a file is refused as a whole.

What maps where:
- `<question type="category">` sets the category of the questions after it; its path is kept
  without Moodle's `$course$/top/` prefix ("Fractions/Adding").
- Skills: the question's `<tags>` when it has any, otherwise the last segment of its category,
  otherwise "General". (Tags are how Moodle teachers label skills across categories; the
  category is the fallback that every bank has.) A tag "difficulty:hard" (or "difficulty=hard")
  is the stated difficulty instead (`itembank.difficulty`); export writes it back as a tag.
- multichoice -> "multichoice" (`<single>true`: the answers with the highest fraction, normally
  100, are right; an answer with a fraction between 0 and 100 earns that share of the marks) or
  "multiresponse" (`<single>false`: the answers with fraction > 0 are right; each ticked answer
  adds its fraction, wrong ones subtract theirs, as Moodle grades it). truefalse, shortanswer
  (fraction-100 answers accepted, `<usecase>`; answers between 0 and 100 earn their share),
  numerical (the fraction-100 answer's value and tolerance; others between 0 and 100 likewise).
  Partial credit is never turned into "wrong": see `lti_tool.core.answers.check`.
- `<generalfeedback>` -> feedback["general"], `<correctfeedback>`/`<partiallycorrectfeedback>`/
  `<incorrectfeedback>` -> "correct"/"partial"/"incorrect", per-answer `<feedback>` ->
  feedback["choices"], `<hint>` -> hints, `<idnumber>` -> external id.
- Export writes what a re-importing LMS should render: HTML fields (already sanitised) as
  `format="html"`, and the answer texts a student types or picks as true/false (short answer,
  numerical, true/false) as plain text in Moodle's own `moodle_auto_format`, escaped by the XML
  writer, never as markup.
- The worked solution has no Moodle field; export writes it as `<solution>`, which Moodle's
  importer ignores and Metis reads back.
Other question types (essay, matching, cloze...) are rejected one by one, with their position.
"""

from __future__ import annotations

import base64
import binascii
import math
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET

from lti_tool.core.itembank.difficulty import read_difficulty, tag_value, to_text
from lti_tool.core.itembank.model import (
    ImportFileError,
    ParseResult,
    Question,
    QuestionError,
    Rejected,
    check_count,
    check_size,
    parse_number,
)
from lti_tool.core.itembank.sanitize import Cleaner, ImageBudget

SUPPORTED = {"multichoice", "truefalse", "shortanswer", "numerical"}
NOT_QUESTIONS = {"description": "a description is text only, not a question"}
MAX_NAME = 255


def parse(data: bytes) -> ParseResult:
    """Parse a Moodle XML export. Raises ImportFileError when the file as a whole is unusable;
    single unsupported or broken questions are reported in the result instead."""
    check_size(data)
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise ImportFileError(
            "the file declares a DTD or XML entities, which Metis refuses for safety "
            "(Moodle's own exports never contain them)"
        ) from None
    except ET.ParseError as exc:
        raise ImportFileError(f"the file is not well-formed XML ({exc})") from None
    if root.tag != "quiz":
        raise ImportFileError("this is not a Moodle XML question file (it has no <quiz> element)")
    check_count(sum(1 for e in root.findall("question") if e.get("type") != "category"))

    result = ParseResult()
    budget = ImageBudget()
    category = ""
    position = 0
    for element in root.findall("question"):
        qtype = element.get("type", "")
        if qtype == "category":
            category = _category_path(_text(element.find("category")))
            continue
        position += 1
        name = _text(element.find("name")) or f"Question {position}"
        if qtype not in SUPPORTED:
            reason = NOT_QUESTIONS.get(qtype) or (
                f"{qtype or 'untyped'} questions are not supported (Metis imports multiple "
                "choice, true/false, short answer and numerical questions)"
            )
            result.rejected.append(Rejected(position, name, reason))
            continue
        remaining = budget.remaining
        try:
            question = _question(element, qtype, name[:MAX_NAME], category, result.warnings,
                                 position, budget)
        except QuestionError as exc:
            budget.remaining = remaining  # a rejected question stores no images
            result.rejected.append(Rejected(position, name, str(exc)))
            continue
        result.questions.append(question)
    if position == 0:
        result.warnings.append("the file contains no questions")
    return result


def _text(element: ET.Element | None) -> str:
    """The `<text>` child's content (or the element's own text), stripped."""
    if element is None:
        return ""
    inner = element.find("text")
    value = (inner.text if inner is not None else element.text) or ""
    return value.strip()


def _category_path(raw: str) -> str:
    """"$course$/top/Fractions/Adding" -> "Fractions/Adding" (Moodle's context and top removed)."""
    parts = [p.strip() for p in raw.split("/") if p.strip()]
    if parts and parts[0].startswith("$") and parts[0].endswith("$"):
        parts = parts[1:]
    if parts and parts[0].lower() == "top":
        parts = parts[1:]
    return "/".join(parts)


def _files(element: ET.Element) -> dict[str, bytes]:
    """Every `<file name=... encoding="base64">` below the question, by name."""
    found: dict[str, bytes] = {}
    for file in element.iter("file"):
        name = file.get("name")
        if not name or file.get("encoding", "base64") != "base64":
            continue
        try:
            found[name] = base64.b64decode((file.text or "").strip(), validate=False)
        except (binascii.Error, ValueError):
            continue
    return found


def _fraction(answer: ET.Element) -> float:
    try:
        value = float(answer.get("fraction", "0"))
    except ValueError:
        raise QuestionError(
            f"an answer has an invalid fraction {answer.get('fraction')!r}") from None
    if not math.isfinite(value):
        raise QuestionError("an answer has an invalid fraction")
    return value


def credit(fraction: float) -> float:
    """A Moodle fraction (0-100) as a share of the marks for a partly right answer: 0 for wrong
    or penalised answers, at most 1."""
    return round(min(1.0, max(0.0, fraction / 100)), 7)


def _html(element: ET.Element | None, cleaner: Cleaner) -> str:
    if element is None:
        return ""
    raw = _text(element)
    if element.get("format") in ("plain_text", "markdown"):
        return cleaner.text(raw)
    return cleaner.html(raw)


def _question(
    element: ET.Element, qtype: str, name: str, category: str, warnings: list[str], position: int,
    budget: ImageBudget,
) -> Question:
    cleaner = Cleaner(files=_files(element), budget=budget)
    text = _html(element.find("questiontext"), cleaner)
    if not text:
        raise QuestionError("the question has no text")
    feedback: dict[str, Any] = {}
    for key, tag in (("general", "generalfeedback"), ("correct", "correctfeedback"),
                     ("partial", "partiallycorrectfeedback"), ("incorrect", "incorrectfeedback")):
        value = _html(element.find(tag), cleaner)
        if value:
            feedback[key] = value
    hints = [h for h in (_html(e, cleaner) for e in element.findall("hint")) if h]
    tags = [t for t in (_text(e) for e in element.findall("tags/tag")) if t]
    # A "difficulty:hard" tag states the difficulty; it is not a skill.
    stated = [v for v in (tag_value(t) for t in tags) if v is not None]
    tags = [t for t in tags if tag_value(t) is None]
    last = category.rsplit("/", 1)[-1] if category else ""
    question = Question(
        name=name,
        kind=qtype,
        text=text,
        category=category,
        feedback=feedback,
        hints=hints,
        solution=_html(element.find("solution"), cleaner),
        skills=list(dict.fromkeys(tags)) or [last or "General"],
        external_id=(_text(element.find("idnumber")) or None),
        difficulty=read_difficulty(stated[0] if stated else "",
                                   f"question {position} ({name})", warnings),
    )
    answers = element.findall("answer")
    {"multichoice": _multichoice, "truefalse": _truefalse, "shortanswer": _shortanswer,
     "numerical": _numerical}[qtype](question, element, answers, cleaner)
    for warning in dict.fromkeys(cleaner.warnings):
        warnings.append(f"question {position} ({name}): {warning}")
    return question


def _multichoice(q: Question, element: ET.Element, answers: list[ET.Element],
                 cleaner: Cleaner) -> None:
    if len(answers) < 2:
        raise QuestionError("a multiple choice question needs at least two answers")
    fractions = [_fraction(a) for a in answers]
    q.choices = [_html(a, cleaner) for a in answers]
    if any(not c for c in q.choices):
        raise QuestionError("an answer of this multiple choice question is empty")
    choice_feedback = [_html(a.find("feedback"), cleaner) for a in answers]
    if any(choice_feedback):
        q.feedback["choices"] = choice_feedback
    best = max(fractions)
    if best <= 0:
        raise QuestionError("no answer is marked right (every fraction is 0 or less)")
    single = (_text(element.find("single")) or "true").lower() in ("true", "1")
    if single:
        right = [i for i, f in enumerate(fractions) if f >= best - 1e-9]
        q.kind = "multichoice"
        q.answer = {"choice": right[0]} if len(right) == 1 else {"choices": right}
        credits = [0.0 if i in right else credit(f) for i, f in enumerate(fractions)]
        if any(credits):
            q.answer["credits"] = [1.0 if i in right else c for i, c in enumerate(credits)]
    else:
        q.kind = "multiresponse"
        q.answer = {"choices": [i for i, f in enumerate(fractions) if f > 0],
                    "weights": [max(-1.0, min(1.0, f / 100)) for f in fractions]}


def _truefalse(q: Question, element: ET.Element, answers: list[ET.Element],
               cleaner: Cleaner) -> None:
    by_value: dict[str, ET.Element] = {}
    for a in answers:
        by_value[_text(a).lower()] = a
    if set(by_value) != {"true", "false"}:
        raise QuestionError("a true/false question needs one 'true' and one 'false' answer")
    q.choices = ["True", "False"]
    q.answer = {"choice": 0 if _fraction(by_value["true"]) > _fraction(by_value["false"]) else 1}
    choice_feedback = [_html(by_value[v].find("feedback"), cleaner) for v in ("true", "false")]
    if any(choice_feedback):
        q.feedback["choices"] = choice_feedback


def _shortanswer(q: Question, element: ET.Element, answers: list[ET.Element],
                 cleaner: Cleaner) -> None:
    accepted: list[str] = []
    partial: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    right_feedback: dict[str, str] = {}
    for a in answers:
        value = " ".join(_text(a).split())
        if not value:
            continue
        fb = _html(a.find("feedback"), cleaner)
        fraction = _fraction(a)
        if fraction >= 100 - 1e-9:
            accepted.append(value)
            if fb:
                right_feedback[value] = fb
            continue
        if credit(fraction):
            partial.append({"match": value, "credit": credit(fraction)})
        if fb:
            others.append({"match": value, "feedback": fb})
    if not accepted:
        raise QuestionError("no answer is worth 100%, so no answer could ever be right")
    q.kind = "shortanswer"
    q.answer = {"accepted": accepted,
                "case_sensitive": _text(element.find("usecase")) in ("1", "true")}
    if partial:
        q.answer["partial"] = partial
    entries = [{"match": a, "feedback": right_feedback[a]} for a in accepted
               if a in right_feedback]
    # Right answers first, the catch-all last: the grader takes the first entry that matches.
    entries += [e for e in others if e["match"] != "*"] + [e for e in others if e["match"] == "*"]
    if entries:
        q.feedback["choices"] = entries


def _numerical(q: Question, element: ET.Element, answers: list[ET.Element],
               cleaner: Cleaner) -> None:
    right: tuple[float, float] | None = None
    entries: list[dict[str, Any]] = []
    catch_all: list[dict[str, Any]] = []
    partial: list[dict[str, Any]] = []
    for a in answers:
        raw = _text(a)
        fb = _html(a.find("feedback"), cleaner)
        if raw == "*":
            if fb:
                catch_all.append({"match": "*", "feedback": fb})
            continue
        value = parse_number(raw, "answer")
        tolerance = abs(parse_number(_text(a.find("tolerance")) or "0", "tolerance"))
        fraction = _fraction(a)
        if fraction >= 100 - 1e-9 and right is None:
            right = (value, tolerance)
            if fb:
                entries.insert(0, {"match": value, "tolerance": tolerance, "feedback": fb})
            continue
        if credit(fraction):  # partly right, or a second fully right answer
            partial.append({"value": value, "tolerance": tolerance, "credit": credit(fraction)})
        if fb:
            entries.append({"match": value, "tolerance": tolerance, "feedback": fb})
    if right is None:
        raise QuestionError("no numerical answer is worth 100%")
    if element.find("units/unit") is not None:
        cleaner.warnings.append("units are ignored: only the number is graded")
    q.kind = "numeric"
    q.answer = {"value": right[0], "tolerance": right[1]}
    if partial:
        q.answer["partial"] = partial
    if entries or catch_all:
        q.feedback["choices"] = entries + catch_all


# --- export ------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.10g}"


PLAIN = "moodle_auto_format"  # what Moodle's own export writes for answers typed as text


def _add_text(parent: ET.Element, tag: str, value: str, *, html: bool = True) -> ET.Element:
    element = ET.SubElement(parent, tag, {"format": "html"} if html else {})
    ET.SubElement(element, "text").text = value
    return element


def _answer(parent: ET.Element, fraction: str, text: str, feedback: str, *,
            html: bool = True) -> ET.Element:
    """An `<answer>`: `text` is sanitised HTML (a choice) when `html`, else plain text that a
    student types (short answer, numerical) or the true/false word, written as such."""
    answer = ET.SubElement(parent, "answer",
                           {"fraction": fraction, "format": "html" if html else PLAIN})
    ET.SubElement(answer, "text").text = text
    _add_text(answer, "feedback", feedback)
    return answer


def _percent(share: Any) -> str:
    try:
        return _fmt(100 * float(share))
    except (TypeError, ValueError):
        return "0"


def export(questions: list[Question]) -> bytes:
    """Moodle XML for `questions`, importable by Moodle and by `parse` (round trip)."""
    root = ET.Element("quiz")
    current: str | None = None
    for q in questions:
        if q.category != current:
            current = q.category
            cat = ET.SubElement(root, "question", {"type": "category"})
            path = "$course$/top" + (f"/{q.category}" if q.category else "")
            _add_text(cat, "category", path, html=False)
        root.append(_export_question(q))
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _export_question(q: Question) -> ET.Element:
    moodle_type = {"multiresponse": "multichoice", "numeric": "numerical"}.get(q.kind, q.kind)
    element = ET.Element("question", {"type": moodle_type})
    _add_text(element, "name", q.name, html=False)
    _add_text(element, "questiontext", q.text)
    _add_text(element, "generalfeedback", q.feedback.get("general", ""))
    ET.SubElement(element, "defaultgrade").text = "1"
    ET.SubElement(element, "penalty").text = "0.3333333"
    ET.SubElement(element, "hidden").text = "0"
    ET.SubElement(element, "idnumber").text = q.external_id or ""
    fb = q.feedback
    if q.kind in ("multichoice", "multiresponse"):
        right = set(q.answer.get("choices", [q.answer.get("choice")]))
        ET.SubElement(element, "single").text = "true" if q.kind == "multichoice" else "false"
        ET.SubElement(element, "shuffleanswers").text = "true"
        ET.SubElement(element, "answernumbering").text = "abc"
        _add_text(element, "correctfeedback", fb.get("correct", ""))
        _add_text(element, "partiallycorrectfeedback", fb.get("partial", ""))
        _add_text(element, "incorrectfeedback", fb.get("incorrect", ""))
        per_choice = fb.get("choices") or [""] * len(q.choices)
        for i, choice in enumerate(q.choices):
            _answer(element, _choice_fraction(q, i, right), choice, per_choice[i])
    elif q.kind == "truefalse":
        per_choice = fb.get("choices") or ["", ""]
        right_index = int(q.answer.get("choice", 0))
        for i, word in enumerate(("true", "false")):
            _answer(element, "100" if i == right_index else "0", word, per_choice[i], html=False)
        _add_text(element, "correctfeedback", fb.get("correct", ""))
        _add_text(element, "incorrectfeedback", fb.get("incorrect", ""))
    elif q.kind == "shortanswer":
        ET.SubElement(element, "usecase").text = "1" if q.answer.get("case_sensitive") else "0"
        entries = list(fb.get("choices", []))
        by_match = {str(e["match"]): e["feedback"] for e in entries}
        accepted = [str(a) for a in q.answer.get("accepted", [])]
        partial = [(str(e.get("match", "")), e.get("credit")) for e in
                   q.answer.get("partial", []) if isinstance(e, dict)]
        for a in accepted:
            _answer(element, "100", a, by_match.get(a, ""), html=False)
        for match, share in partial:
            _answer(element, _percent(share), match, by_match.get(match, ""), html=False)
        written = set(accepted) | {m for m, _ in partial}
        for e in entries:
            if str(e["match"]) not in written:
                _answer(element, "0", str(e["match"]), e["feedback"], html=False)
        _add_text(element, "correctfeedback", fb.get("correct", ""))
        _add_text(element, "incorrectfeedback", fb.get("incorrect", ""))
    elif q.kind == "numeric":
        _export_numeric(element, q)
    for hint in q.hints:
        _add_text(element, "hint", hint)
    if q.solution:
        _add_text(element, "solution", q.solution)
    labels = list(q.skills)
    if q.difficulty is not None:
        labels.append(f"difficulty:{to_text(q.difficulty)}")
    if labels:
        tags = ET.SubElement(element, "tags")
        for label in labels:
            ET.SubElement(ET.SubElement(tags, "tag"), "text").text = label
    return element


def _choice_fraction(q: Question, index: int, right: set[Any]) -> str:
    """The `fraction` of choice `index`: the stored weights or credits when the item has them
    (an imported Moodle or GIFT question), else all or nothing (shares of 100 with -100 for
    wrong ticks in a multiple-answer question, as Moodle's own editor suggests)."""
    if q.kind == "multiresponse":
        weights = q.answer.get("weights")
        if isinstance(weights, list) and index < len(weights):
            return _percent(weights[index])
        return _fmt(100 / max(len(right), 1)) if index in right else "-100"
    if index in right:
        return "100"
    credits = q.answer.get("credits")
    return _percent(credits[index]) if isinstance(credits, list) and index < len(credits) else "0"


def _export_numeric(element: ET.Element, q: Question) -> None:
    fb = q.feedback
    target, tolerance = float(q.answer["value"]), float(q.answer.get("tolerance", 0))
    entries = list(fb.get("choices", []))
    right_fb = ""
    if entries and entries[0]["match"] != "*" and float(entries[0]["match"]) == target \
            and float(entries[0].get("tolerance", 0)) == tolerance:
        right_fb = entries.pop(0)["feedback"]
    right_answer = _answer(element, "100", _fmt(target), right_fb, html=False)
    ET.SubElement(right_answer, "tolerance").text = _fmt(tolerance)

    def same(entry: dict[str, Any], value: float, spread: float) -> bool:
        return entry["match"] != "*" and float(entry["match"]) == value \
            and float(entry.get("tolerance", 0)) == spread

    for p in q.answer.get("partial", []):
        if not isinstance(p, dict):
            continue
        value, spread = float(p["value"]), float(p.get("tolerance", 0))
        found = next((e for e in entries if same(e, value, spread)), None)
        if found is not None:
            entries.remove(found)
        other = _answer(element, _percent(p.get("credit")), _fmt(value),
                        found["feedback"] if found else "", html=False)
        ET.SubElement(other, "tolerance").text = _fmt(spread)
    for e in entries:
        match = "*" if e["match"] == "*" else _fmt(float(e["match"]))
        other = _answer(element, "0", match, e["feedback"], html=False)
        ET.SubElement(other, "tolerance").text = _fmt(float(e.get("tolerance", 0)))
    _add_text(element, "correctfeedback", fb.get("correct", ""))
    _add_text(element, "incorrectfeedback", fb.get("incorrect", ""))
