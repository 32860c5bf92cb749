"""Readers for the public knowledge-tracing text layouts.

Three layouts occur in the wild, all "one student = a fixed number of lines":

* ``question_skill``: 4 lines, ``idx,user`` / question ids / skill ids / responses
  (AKT's assist2009_pid files);
* ``skill``: 3 lines, ``idx,user`` / skill ids / responses (AKT's assist2015 files);
* ``length``: 3 lines, ``<sequence length>`` / question *or* skill ids / responses (DKT and
  DKVMN style). Line 2 holds question ids when a question-to-skill map is given, skill ids
  otherwise.

Readers return raw rows; the strict protocol (merging repeated rows) lives in ``protocol.py``
so that a reader never decides anything about evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Layout = Literal["question_skill", "skill", "length"]
# question id -> its skill id, or several skill ids
QuestionSkillMap = Mapping[int, int | Iterable[int]]


def skill_tuple(value: int | Iterable[int]) -> tuple[int, ...]:
    if isinstance(value, int | np.integer):
        return (int(value),)
    return tuple(int(v) for v in value)


@dataclass
class RawSequence:
    """One student's rows exactly as in the file (before any merging).

    ``skills`` is (n, K) padded with 0 because a question-to-skill map can give a row several
    skills; in the files themselves K is 1.
    """

    student: str
    items: np.ndarray  # int64 (n,), 0 when the file has no question ids
    skills: np.ndarray  # int64 (n, K)
    correct: np.ndarray  # int64 (n,)


def _ints(text: str, path: Path, lineno: int) -> np.ndarray:
    # Trailing commas occur in some DKT-era files; empty fields carry no information.
    fields = [f for f in text.strip().split(",") if f.strip() != ""]
    try:
        return np.array([int(float(f)) if "." in f else int(f) for f in fields], dtype=np.int64)
    except ValueError:
        raise ValueError(
            f"{path}:{lineno}: expected comma-separated integers, got {text[:80]!r}"
        ) from None


def _read_lines(path: Path) -> list[tuple[int, str]]:
    with open(path, encoding="utf-8") as fh:
        # Keep original 1-based line numbers so errors point at the real line.
        return [(i + 1, ln.strip()) for i, ln in enumerate(fh) if ln.strip() != ""]


def _header_kind(text: str) -> Literal["pair", "length", "other"]:
    fields = [f for f in text.split(",") if f.strip() != ""]
    if len(fields) == 1 and fields[0].strip().isdigit():
        return "length"
    if len(fields) == 2:
        return "pair"
    return "other"


def _is_binary(text: str) -> bool:
    fields = [f.strip() for f in text.split(",") if f.strip() != ""]
    return len(fields) > 0 and all(f in ("0", "1") for f in fields)


def _n_fields(text: str) -> int:
    return len([f for f in text.split(",") if f.strip() != ""])


def _fits(
    lines: list[tuple[int, str]], layout: Layout, strict: bool = True, max_blocks: int = 50
) -> bool:
    """Whether the first blocks of ``lines`` have the shape of ``layout``.

    ``strict`` also asks the last line of each block to be 0/1 responses; the relaxed pass lets
    a file with a bad value still be recognised so the parser can name the offending line.
    """
    per = 4 if layout == "question_skill" else 3
    if len(lines) % per != 0 or not lines:
        return False
    for b in range(0, min(len(lines), per * max_blocks), per):
        head = lines[b][1]
        body = [t for _, t in lines[b + 1 : b + per]]
        kind = _header_kind(head)
        if layout == "length":
            if kind != "length" or int(head.split(",")[0]) != _n_fields(body[0]):
                return False
        elif kind != "pair":
            return False
        n = _n_fields(body[0])
        if any(_n_fields(t) != n for t in body) or (strict and not _is_binary(body[-1])):
            return False
    return True


def detect_layout(path: Path, lines: list[tuple[int, str]] | None = None) -> Layout:
    """Guess the layout from the file's first blocks; ValueError when none fits."""
    lines = _read_lines(path) if lines is None else lines
    if not lines:
        raise ValueError(f"{path}: empty file")
    # A 3-line file fits the 4-line checks only if, for 50 blocks in a row, a header looked like
    # a response line of the same length; trying 4-line first is therefore safe.
    layouts: tuple[Layout, ...] = ("question_skill", "skill", "length")
    for strict in (True, False):
        for layout in layouts:
            if _fits(lines, layout, strict):
                return layout
    raise ValueError(
        f"{path}:{lines[0][0]}: unrecognised layout (expected 4-line question/skill, 3-line "
        "'idx,user' skill, or 3-line length-prefixed blocks)"
    )


def _map_skills(
    items: np.ndarray, qmap: QuestionSkillMap, path: Path, lineno: int
) -> np.ndarray:
    rows: list[tuple[int, ...]] = []
    for q in items.tolist():
        s = qmap.get(q)
        if s is None:
            raise ValueError(f"{path}:{lineno}: question {q} missing from question_skill_map")
        rows.append(skill_tuple(s))
    k = max((len(r) for r in rows), default=1) or 1
    out = np.zeros((len(rows), k), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def read_sequences(
    path: Path,
    *,
    layout: Layout | None = None,
    question_skill_map: QuestionSkillMap | None = None,
) -> tuple[list[RawSequence], Layout]:
    """Read every student of ``path``; the layout is auto-detected unless given."""
    path = Path(path)
    lines = _read_lines(path)
    layout = detect_layout(path, lines) if layout is None else layout
    per = 4 if layout == "question_skill" else 3
    if len(lines) % per != 0:
        raise ValueError(
            f"{path}:{lines[-1][0]}: {len(lines)} non-empty lines is not a multiple of {per} "
            f"({layout} layout); the last block is truncated"
        )
    out: list[RawSequence] = []
    for b in range(0, len(lines), per):
        hno, head = lines[b]
        if layout == "length":
            student = f"{path.stem}:{b // per}"
        else:
            fields = [f.strip() for f in head.split(",") if f.strip() != ""]
            if len(fields) != 2:
                raise ValueError(f"{path}:{hno}: expected header 'index,user id', got {head!r}")
            student = fields[1]
        body = [(no, _ints(t, path, no)) for no, t in lines[b + 1 : b + per]]
        n = body[0][1].shape[0]
        for no, arr in body[1:]:
            if arr.shape[0] != n:
                raise ValueError(f"{path}:{no}: {arr.shape[0]} values, expected {n} as on line "
                                 f"{body[0][0]}")
        if layout == "length" and int(_ints(head, path, hno)[0]) != n:
            raise ValueError(f"{path}:{hno}: length {head} but {n} values follow")
        correct_no, correct = body[-1]
        if n == 0:
            raise ValueError(f"{path}:{hno}: empty sequence")
        if not np.isin(correct, (0, 1)).all():
            raise ValueError(f"{path}:{correct_no}: responses must be 0 or 1")
        ids_no, ids = body[0]
        if (ids < 0).any():
            raise ValueError(f"{path}:{ids_no}: negative id")
        if layout == "question_skill":
            items, skills = ids, body[1][1][:, None]
            if (skills < 0).any():
                raise ValueError(f"{path}:{body[1][0]}: negative skill id")
        elif question_skill_map is not None:
            items, skills = ids, _map_skills(ids, question_skill_map, path, ids_no)
        else:
            items, skills = np.zeros(n, dtype=np.int64), ids[:, None]
        if question_skill_map is not None and layout == "question_skill":
            skills = _map_skills(items, question_skill_map, path, ids_no)
        out.append(RawSequence(student, items, skills, correct))
    return out, layout


def load_skill_map(path: Path) -> dict[int, tuple[int, ...]]:
    """A question-to-skill map from a file: JSON ({"question": skill or [skills]}) or text
    lines "question,skill[,skill...]" (commas, tabs, spaces or semicolons; '#' comments and a
    non-numeric header line are skipped)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    out: dict[int, tuple[int, ...]] = {}
    if text.lstrip().startswith("{"):
        import json

        for q, v in json.loads(text).items():
            out[int(q)] = skill_tuple(v if isinstance(v, list) else int(v))
        return out
    import re

    for no, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f for f in re.split(r"[,\t; ]+", line) if f]
        try:
            nums = [int(f) for f in fields]
        except ValueError:
            if not out:  # a header line
                continue
            raise ValueError(f"{path}:{no}: expected 'question,skill[,skill...]', got {line!r}"
                             ) from None
        if len(nums) < 2:
            raise ValueError(f"{path}:{no}: a question needs at least one skill")
        out[nums[0]] = tuple(sorted(set(out.get(nums[0], ())) | set(nums[1:])))
    return out
