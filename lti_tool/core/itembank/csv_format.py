"""The Metis CSV item bank: one row per question, documented in docs/item-bank-csv.md.

Lists inside a cell (choices, answers, skills, hints, per-choice feedback) are separated by `|`;
write `\\|` for a literal bar. Text cells may contain HTML, which is sanitised like every import.
The optional `difficulty` column states how hard the question is (`itembank.difficulty`).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from lti_tool.core.itembank.difficulty import read_difficulty
from lti_tool.core.itembank.model import (
    KINDS,
    MAX_QUESTIONS,
    ImportFileError,
    ParseResult,
    Question,
    QuestionError,
    Rejected,
    check_count,
    check_size,
    decode_text,
    parse_number,
)
from lti_tool.core.itembank.sanitize import Cleaner

COLUMNS = ("type", "name", "id", "category", "skills", "question", "choices", "answer",
           "tolerance", "case_sensitive", "feedback", "correct_feedback", "incorrect_feedback",
           "choice_feedback", "hint", "solution", "difficulty")
REQUIRED = ("type", "question", "answer")
_BAR = "\ue000"
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_DIGITS = re.compile(r"[0-9]{1,6}")


def split_list(cell: str, *, keep_empty: bool = False) -> list[str]:
    """`a|b\\|c||d` -> ["a", "b|c", "d"] (or with "" kept in place when `keep_empty`)."""
    parts = [p.replace(_BAR, "|").strip() for p in cell.replace("\\|", _BAR).split("|")]
    return parts if keep_empty else [p for p in parts if p]


def parse(data: bytes) -> ParseResult:
    check_size(data)
    source = decode_text(data, "the CSV file is not UTF-8 text (save it as 'CSV UTF-8')")
    first_line = source.split("\n", 1)[0]
    try:
        dialect: Any = csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(source, newline=""), dialect=dialect)
    header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportFileError(
            f"the CSV header has no {', '.join(missing)} column (the first row must name the "
            f"columns: {', '.join(COLUMNS)})"
        )
    reader.fieldnames = header
    result = ParseResult()
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        result.warnings.append(f"columns ignored: {', '.join(unknown)}")
    position = 0
    try:
        for row in reader:
            cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            if not any(cells.values()):
                continue
            position += 1
            if position > MAX_QUESTIONS:
                rows = position + sum(1 for r in reader if any((v or "").strip()
                                                               for v in r.values()
                                                               if isinstance(v, str)))
                check_count(rows)
            name = cells.get("name") or f"Question {position}"
            try:
                result.questions.append(_question(cells, position, result.warnings))
            except QuestionError as exc:
                result.rejected.append(Rejected(position, name, str(exc)))
    except csv.Error as exc:
        raise ImportFileError(f"the CSV file is malformed ({exc})") from None
    if position == 0:
        result.warnings.append("the file contains no questions")
    return result


def _indexes(raw: str) -> list[int]:
    """Right answers of a choice question, given as 1-based numbers. Only ASCII digits count:
    str.isdigit() also accepts "²", which int() then refuses."""
    return [int(p) - 1 for p in split_list(raw) if _DIGITS.fullmatch(p)]


def _question(cells: dict[str, str], position: int, warnings: list[str]) -> Question:
    kind = cells.get("type", "").lower()
    if kind not in KINDS:
        raise QuestionError(f"unknown type {kind!r} (use one of: {', '.join(KINDS)})")
    cleaner = Cleaner()
    text = cleaner.html(cells.get("question", ""))
    if not text:
        raise QuestionError("the question is empty")
    category = "/".join(p.strip() for p in cells.get("category", "").split("/") if p.strip())
    skills = split_list(cells.get("skills", ""))
    last = category.rsplit("/", 1)[-1] if category else ""
    plain = re.sub(r"<[^>]+>", "", text)
    feedback: dict[str, Any] = {}
    for key, column in (("general", "feedback"), ("correct", "correct_feedback"),
                        ("incorrect", "incorrect_feedback")):
        value = cleaner.html(cells.get(column, ""))
        if value:
            feedback[key] = value
    q = Question(
        name=(cells.get("name") or plain[:60]).strip()[:255] or f"Question {position}",
        kind=kind,
        text=text,
        category=category,
        feedback=feedback,
        hints=[h for h in (cleaner.html(x) for x in split_list(cells.get("hint", ""))) if h],
        solution=cleaner.html(cells.get("solution", "")),
        skills=skills or [last or "General"],
        external_id=cells.get("id") or None,
    )
    answer = cells.get("answer", "")
    if not answer:
        raise QuestionError("the answer is empty")
    choice_feedback = [cleaner.html(f) for f in
                       split_list(cells.get("choice_feedback", ""), keep_empty=True)]
    if kind in ("multichoice", "multiresponse"):
        q.choices = [cleaner.html(c) for c in split_list(cells.get("choices", ""))]
        if len(q.choices) < 2:
            raise QuestionError("a choice question needs at least two choices, separated by |")
        right = _indexes(answer)
        if not right or any(not 0 <= i < len(q.choices) for i in right) or \
                len(right) != len(split_list(answer)):
            raise QuestionError(f"the answer {answer!r} must be the number(s) of the right "
                           f"choice(s), 1 to {len(q.choices)}, separated by |")
        q.answer = ({"choice": right[0]} if kind == "multichoice" and len(right) == 1
                    else {"choices": sorted(set(right))})
        if any(choice_feedback):
            q.feedback["choices"] = (choice_feedback + [""] * len(q.choices))[:len(q.choices)]
    elif kind == "truefalse":
        value = answer.lower()
        if value not in _TRUE | _FALSE:
            raise QuestionError(f"the answer {answer!r} must be true or false")
        q.choices = ["True", "False"]
        q.answer = {"choice": 0 if value in _TRUE else 1}
        if any(choice_feedback):
            q.feedback["choices"] = (choice_feedback + ["", ""])[:2]
    elif kind == "numeric":
        # Each number is finite (parse_number), and abs() of a finite float stays finite.
        tolerance = abs(parse_number(cells.get("tolerance") or "0", "tolerance"))
        q.answer = {"value": parse_number(answer, "answer"), "tolerance": tolerance}
    else:
        case = cells.get("case_sensitive", "").lower() in _TRUE
        q.answer = {"accepted": [" ".join(a.split()) for a in split_list(answer)],
                    "case_sensitive": case}
    for warning in dict.fromkeys(cleaner.warnings):
        warnings.append(f"row {position} ({q.name}): {warning}")
    q.difficulty = read_difficulty(cells.get("difficulty", ""), f"row {position} ({q.name})",
                                   warnings)
    return q
