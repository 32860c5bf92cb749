"""GIFT (Moodle's plain-text question format): import.

Written here rather than taken from PyPI: the GIFT parsers there (pygiftparser, last released
2017; pygiftparserrgmf, 2022, version 0.0.x) are unmaintained, and the subset Metis needs is
small. Supported:

- `// comment` lines, questions separated by blank lines, `$CATEGORY: path` for the following
  questions, `::title::`, a `[html]`/`[moodle]`/`[plain]`/`[markdown]` text format;
- multiple choice `{=right ~wrong}` (several `=` are all right; `~%50%half` earns half the
  marks), multiple answers with weights `{~%50%a ~%50%b ~%-100%c}` (each ticked answer adds its
  weight, as Moodle grades it), per-answer `#feedback`, general feedback `####text`;
- true/false `{T}`/`{TRUE}`/`{F}`/`{FALSE}` with `#feedback if wrong#feedback if right`;
- short answer `{=a =b =%50%c}` (100% answers accepted, weighted ones earn their share);
- numerical `{#3.14:0.01}`, ranges `{#1..5}`, several `{#=3.14:0.01#fb =%50%3:0.5#fb}`;
- escapes `\\~ \\= \\# \\{ \\} \\: \\\\` and `\\n`.

Text after the answer block ("missing word" questions) is kept, with a blank in its place.
Matching (`->`) and essay (`{}`) questions are rejected with their position.
Skills: the last segment of the category, as for Moodle XML questions without tags.
Difficulty: a Moodle 4 tag in a comment line among the question's lines,
`// [tag:difficulty:hard]` (or `difficulty=hard`; `itembank.difficulty`); other tags are ignored.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any

from lti_tool.core.itembank.difficulty import read_difficulty, tag_value
from lti_tool.core.itembank.model import (
    ParseResult,
    Question,
    QuestionError,
    Rejected,
    check_count,
    check_size,
    decode_text,
)
from lti_tool.core.itembank.sanitize import Cleaner

ESCAPABLE = "~=#{}:\\"
# Escaped characters become private-use code points while parsing, then are put back.
_HIDE = {c: chr(0xE000 + i) for i, c in enumerate(ESCAPABLE)}
_SHOW = {v: k for k, v in _HIDE.items()}
_FORMAT = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?[0-9]+(?:\.[0-9]+)?)%")
_TAG = re.compile(r"\[tag:([^\]]*)\]")


def parse(data: bytes) -> ParseResult:
    check_size(data)
    source = decode_text(data, "the GIFT file is not UTF-8 text")
    result = ParseResult()
    category = ""
    position = 0
    blocks = _blocks(source)
    check_count(sum(1 for b in blocks if any(
        line.strip() and not line.strip().startswith("$CATEGORY:")
        for line in b.text.split("\n"))))
    for block in blocks:
        lines = []
        for line in block.text.split("\n"):
            if line.strip().startswith("$CATEGORY:"):
                category = _category(line.strip()[len("$CATEGORY:"):])
            else:
                lines.append(line)
        body = "\n".join(lines).strip()
        if not body:
            continue
        position += 1
        title = _title(body)
        try:
            question = _question(body, category, result.warnings, position)
        except QuestionError as exc:
            result.rejected.append(Rejected(position, title or f"Question {position}", str(exc)))
            continue
        stated = [v for v in (tag_value(t) for t in block.tags) if v is not None]
        question.difficulty = read_difficulty(stated[0] if stated else "",
                                              f"question {position} ({question.name})",
                                              result.warnings)
        result.questions.append(question)
    if position == 0:
        result.warnings.append("the file contains no questions")
    return result


def _hide_escapes(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in _HIDE:
                out.append(_HIDE[nxt])
                i += 2
                continue
            if nxt == "n":
                out.append("\n")
                i += 2
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _show(text: str) -> str:
    return "".join(_SHOW.get(c, c) for c in text)


@dataclass(frozen=True)
class Block:
    """One question's lines: `text` without its `//` comment lines, `tags` from those comments
    (Moodle 4's `// [tag:name]`, which belong to the question whose lines they are among)."""

    text: str
    tags: tuple[str, ...]


def _blocks(source: str) -> list[Block]:
    """Questions: runs of non-blank lines; a comment line is part of its run (it holds the
    run's tags) but not of its text, and a blank line ends a run as in Moodle."""
    runs: list[list[str]] = [[]]
    for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    blocks: list[Block] = []
    for run in runs:
        text = [line for line in run if not line.lstrip().startswith("//")]
        comments = " ".join(line for line in run if line.lstrip().startswith("//"))
        tags = tuple(t.strip() for t in _TAG.findall(comments) if t.strip())
        if text:
            blocks.append(Block(_hide_escapes("\n".join(text)), tags))
    return blocks


def _category(raw: str) -> str:
    parts = [p.strip() for p in _show(_hide_escapes(raw)).split("/") if p.strip()]
    if parts and parts[0].startswith("$") and parts[0].endswith("$"):
        parts = parts[1:]
    if parts and parts[0].lower() == "top":
        parts = parts[1:]
    return "/".join(parts)


def _title(body: str) -> str:
    match = re.match(r"^\s*::(.*?)::", body, re.DOTALL)
    return _show(match.group(1)).strip() if match else ""


def _question(body: str, category: str, warnings: list[str], position: int) -> Question:
    title = _title(body)
    if title:
        body = body.split("::", 2)[2]
    fmt_match = _FORMAT.match(body)
    fmt = fmt_match.group(1).lower() if fmt_match else "moodle"
    body = body[fmt_match.end():] if fmt_match else body
    start = body.find("{")
    if start < 0:
        raise QuestionError("this item has no answer block {...}; descriptions are not questions")
    end = body.find("}", start)
    if end < 0:
        raise QuestionError("the answer block is not closed with }")
    before, block, after = body[:start].strip(), body[start + 1:end].strip(), body[end + 1:].strip()
    if "{" in block or "{" in after:
        raise QuestionError("a question may have only one answer block")
    text_raw = f"{before} _____ {after}" if after else before
    cleaner = Cleaner()

    def markup(raw: str) -> str:
        raw = _show(raw).strip()
        if fmt in ("plain", "markdown"):
            return cleaner.text(raw)
        return cleaner.html(raw if fmt == "html" else raw.replace("\n", "<br>"))

    text = markup(text_raw)
    if not text:
        raise QuestionError("the question has no text")
    general = ""
    if "####" in block:
        block, general_raw = block.split("####", 1)
        general = markup(general_raw)
    last = category.rsplit("/", 1)[-1] if category else ""
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    name = title or plain[:60].strip() or f"Question {position}"
    q = Question(name=name[:255], kind="", text=text, category=category,
                 feedback={"general": general} if general else {}, skills=[last or "General"])
    block = block.strip()
    if not block:
        raise QuestionError("essay questions (an empty answer block) are not supported")
    if "->" in block:
        raise QuestionError("matching questions are not supported")
    if block.startswith("#"):
        _numerical(q, block[1:], markup)
    elif re.fullmatch(r"(?i)(T|TRUE|F|FALSE)(#.*)?", block, re.DOTALL):
        _truefalse(q, block, markup)
    elif "~" in block:
        _choices(q, block, markup)
    elif block.startswith("="):
        _shortanswer(q, block)
        _short_feedback(q, block, markup)
    else:
        raise QuestionError("the answer block is not one Metis understands")
    for warning in dict.fromkeys(cleaner.warnings):
        warnings.append(f"question {position} ({q.name}): {warning}")
    return q


def _answers(block: str) -> list[tuple[str, float | None, str, str]]:
    """`=a#fb ~%50%b` -> [(marker, weight or None, text, feedback)]."""
    found: list[tuple[str, float | None, str, str]] = []
    for match in re.finditer(r"([=~])([^=~]*)", block):
        marker, rest = match.group(1), match.group(2)
        weight: float | None = None
        w = _WEIGHT.match(rest.strip())
        if w:
            weight = float(w.group(1))
            rest = rest.strip()[w.end():]
        answer, _, feedback = rest.partition("#")
        found.append((marker, weight, answer.strip(), feedback.strip()))
    if not found or block.strip()[0] not in "=~":
        raise QuestionError("every answer must start with = (right) or ~ (wrong)")
    return found


def _choices(q: Question, block: str, markup: Any) -> None:
    answers = _answers(block)
    if len(answers) < 2:
        raise QuestionError("a multiple choice question needs at least two answers")
    weights = [(100.0 if m == "=" else 0.0) if w is None else w for m, w, _, _ in answers]
    q.choices = [markup(a) for _, _, a, _ in answers]
    if any(not c for c in q.choices):
        raise QuestionError("an answer of this multiple choice question is empty")
    feedback = [markup(f) for *_, f in answers]
    if any(feedback):
        q.feedback["choices"] = feedback
    if max(weights) <= 0:
        raise QuestionError("no answer is marked right (with = or a positive %weight%)")
    # Weighted answers that do not reach 100% on their own mean "tick several" in Moodle.
    if max(weights) < 100 - 1e-9:
        q.kind = "multiresponse"
        q.answer = {"choices": [i for i, w in enumerate(weights) if w > 0],
                    "weights": [max(-1.0, min(1.0, w / 100)) for w in weights]}
    else:
        right = [i for i, w in enumerate(weights) if w >= 100 - 1e-9]
        q.kind = "multichoice"
        q.answer = {"choice": right[0]} if len(right) == 1 else {"choices": right}
        credits = [1.0 if i in right else _credit(w) for i, w in enumerate(weights)]
        if any(0 < c < 1 for c in credits):
            q.answer["credits"] = credits


def _truefalse(q: Question, block: str, markup: Any) -> None:
    value, *feedback = block.split("#")
    truth = value.strip().upper() in ("T", "TRUE")
    wrong_fb = markup(feedback[0]) if feedback else ""
    right_fb = markup(feedback[1]) if len(feedback) > 1 else ""
    q.kind = "truefalse"
    q.choices = ["True", "False"]
    q.answer = {"choice": 0 if truth else 1}
    per_choice = [right_fb, wrong_fb] if truth else [wrong_fb, right_fb]
    if any(per_choice):
        q.feedback["choices"] = per_choice


def _credit(weight: float | None) -> float:
    """A `%weight%` as a share of the marks for a partly right answer (0 to 1)."""
    return 0.0 if weight is None else round(min(1.0, max(0.0, weight / 100)), 7)


def _shortanswer(q: Question, block: str) -> None:
    answers = _answers(block)
    accepted = [" ".join(_show(a).split()) for m, w, a, _ in answers
                if m == "=" and (w is None or w >= 100 - 1e-9) and a]
    if not accepted:
        raise QuestionError("no answer is worth 100%, so no answer could ever be right")
    partial = [{"match": " ".join(_show(a).split()), "credit": _credit(w)}
               for m, w, a, _ in answers
               if m == "=" and w is not None and 0 < _credit(w) < 1 and a.strip()]
    q.kind = "shortanswer"
    q.answer = {"accepted": accepted, "case_sensitive": False}
    if partial:
        q.answer["partial"] = partial


def _short_feedback(q: Question, block: str, markup: Any) -> None:
    accepted = q.answer["accepted"]
    right: dict[str, str] = {}
    others: list[dict[str, Any]] = []
    for _m, _w, a, f in _answers(block):
        value, fb = " ".join(_show(a).split()), markup(f)
        if not fb:
            continue
        if value in accepted:
            right.setdefault(value, fb)
        else:
            others.append({"match": value, "feedback": fb})
    entries = [{"match": a, "feedback": right[a]} for a in accepted if a in right] + others
    if entries:
        q.feedback["choices"] = entries


def _number(raw: str) -> float:
    try:
        value = float(_show(raw).strip())
    except ValueError:
        raise QuestionError(f"{_show(raw).strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise QuestionError(f"{_show(raw).strip()!r} is not a number")
    return value


def _value(raw: str) -> tuple[float, float]:
    """`3.14:0.01` -> (3.14, 0.01); `1..5` -> (3, 2); `7` -> (7, 0)."""
    raw = raw.strip()
    if ".." in raw:
        low, high = (_number(p) for p in raw.split("..", 1))
        value, tolerance = (low + high) / 2, abs(high - low) / 2
    else:
        number, _, spread = raw.partition(":")
        value, tolerance = _number(number), abs(_number(spread)) if spread.strip() else 0.0
    # Finite ends can still overflow: 1e308..1.7e308 has an infinite midpoint, and
    # -1.7e308..1.7e308 an infinite tolerance (every answer right). JSON cannot store either.
    if not (math.isfinite(value) and math.isfinite(tolerance)):
        raise QuestionError(f"the range {_show(raw)!r} is too large to be graded")
    return value, tolerance


def _numerical(q: Question, block: str, markup: Any) -> None:
    q.kind = "numeric"
    block = block.strip()
    if not block.startswith("=") and not block.startswith("~"):
        raw, _, fb = block.partition("#")
        value, tolerance = _value(raw)
        q.answer = {"value": value, "tolerance": tolerance}
        if fb.strip():
            q.feedback["choices"] = [{"match": value, "tolerance": tolerance,
                                      "feedback": markup(fb)}]
        return
    right: tuple[float, float] | None = None
    entries: list[dict[str, Any]] = []
    partial: list[dict[str, Any]] = []
    for marker, weight, raw, fb in _answers(block):
        is_right = marker == "=" and (weight is None or weight >= 100 - 1e-9)
        if raw.strip() == "*":
            if fb:
                entries.append({"match": "*", "feedback": markup(fb)})
            continue
        value, tolerance = _value(raw)
        if is_right and right is None:
            right = (value, tolerance)
            if fb:
                entries.insert(0, {"match": value, "tolerance": tolerance,
                                   "feedback": markup(fb)})
            continue
        share = 1.0 if is_right else _credit(weight) if marker == "=" else 0.0
        if share:  # partly right, or a second fully right answer
            partial.append({"value": value, "tolerance": tolerance, "credit": share})
        if fb:
            entries.append({"match": value, "tolerance": tolerance, "feedback": markup(fb)})
    if right is None:
        raise QuestionError("no numerical answer is worth 100%")
    q.answer = {"value": right[0], "tolerance": right[1]}
    if partial:
        q.answer["partial"] = partial
    entries.sort(key=lambda e: e["match"] == "*")  # the catch-all last, order kept otherwise
    if entries:
        q.feedback["choices"] = entries
