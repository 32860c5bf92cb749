"""Plain data passed between the parsers, the store and the exporters (no database here).

Every HTML field of a `Question` has been sanitised by the parser that produced it, so the store
can save it as it is and pages may render it as markup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# The kinds `lti_tool.core.answers.check` can grade; anything else is rejected on import.
KINDS = ("multichoice", "multiresponse", "truefalse", "numeric", "shortanswer")
# A whole file larger than this is refused before parsing (a bank of plain questions is far
# smaller; embedded images are what makes real exports large).
MAX_FILE_BYTES = 5 * 1024 * 1024
# One import is one web request: past this many questions it is refused with a clear message
# (about a second of parsing and saving on a 2-core machine; 12,000 took 9-24 s).
MAX_QUESTIONS = 2000


class ImportFileError(ValueError):
    """The whole file cannot be imported (too large, not XML, hostile XML, not UTF-8...).
    The message is plain English, safe to show to a teacher."""


class QuestionError(ValueError):
    """One question (or CSV row) cannot be imported; the message says why. The parsers report
    it with the question's position and import the others."""


def check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(
            f"the file is {len(data) / 1024 / 1024:.1f} MB; files up to "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB can be imported (split the bank, or remove "
            "large images)"
        )


def check_count(questions: int) -> None:
    if questions > MAX_QUESTIONS:
        raise ImportFileError(
            f"the file holds {questions:,} questions; up to {MAX_QUESTIONS:,} can be imported "
            "at once (split the bank: Moodle exports one category at a time)"
        )


def decode_text(data: bytes, refusal: str) -> str:
    """A text bank's content (UTF-8, with or without a byte-order mark); `refusal` is the
    message when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(refusal) from None


def parse_number(raw: str, what: str) -> float:
    """A finite number, with a decimal comma accepted ("2,5")."""
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise QuestionError(f"the {what} {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise QuestionError(f"the {what} {raw!r} is not a number")
    return value


@dataclass
class Question:
    """One parsed question, in the same shape as `lti_tool.core.db.models.Item`.

    `feedback` keys (only those with content): "general", "correct", "incorrect", "choices"
    (choice kinds: a list parallel to `choices`; typed kinds: [{"match", "feedback"}] with
    "tolerance" for numeric and "*" as the catch-all match).
    `skills` are skill names; the store turns them into the bank's Skill rows.
    `difficulty` is the stated difficulty on the model's scale (`itembank.difficulty`), stored
    as `Item.difficulty_prior`; None when the bank states none.
    """

    name: str
    kind: str
    text: str
    choices: list[str] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)
    category: str = ""
    feedback: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    solution: str = ""
    skills: list[str] = field(default_factory=list)
    external_id: str | None = None
    difficulty: float | None = None


@dataclass(frozen=True)
class Rejected:
    """A question that was not imported: its 1-based position among the file's questions."""

    position: int
    name: str
    reason: str


@dataclass
class ParseResult:
    """What a parser read: the valid questions, the rejected ones and warnings about the rest."""

    questions: list[Question] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """What an import did to a bank, shown to the teacher."""

    bank_id: int
    bank_name: str
    imported: int = 0  # new items
    updated: int = 0  # items that existed (same external id or name) and were replaced
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
