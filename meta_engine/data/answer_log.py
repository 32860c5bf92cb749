"""Build a `Dataset` from the web app's stored answers (one record per answer)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from meta_engine.types import Dataset, Sequence


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def dataset_from_answer_log(
    records: Iterable[Mapping[str, Any]],
    *,
    n_items: int,
    n_skills: int,
    name: str = "answer_log",
) -> Dataset:
    """Group records by student and order them by timestamp.

    A record is {"student", "item", "skills", "correct", "timestamp"}. The app stores one record
    per answer, so no merging is needed. Ties in timestamp keep arrival order (stable sort), which
    is the order the app saw them.
    """
    by_student: dict[str, list[tuple[float, int, int, tuple[int, ...], int]]] = {}
    for n, r in enumerate(records):
        try:
            item = int(r["item"])
            skills = tuple(int(s) for s in r["skills"])
            correct = int(bool(r["correct"]))
            ts = _ts(r["timestamp"])
            student = str(r["student"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"answer record {n}: {exc!r}") from exc
        if not 0 <= item <= n_items or any(not 0 < s <= n_skills for s in skills):
            raise ValueError(f"answer record {n}: item/skill id out of range")
        by_student.setdefault(student, []).append((ts, n, item, skills, correct))
    k = max((len(x[3]) for rows in by_student.values() for x in rows), default=1) or 1
    seqs: list[Sequence] = []
    item_skills: dict[int, set[int]] = {}
    for student, rows in by_student.items():
        rows.sort(key=lambda x: (x[0], x[1]))
        sk = np.zeros((len(rows), k), dtype=np.int64)
        for t, row in enumerate(rows):
            sk[t, : len(row[3])] = row[3]
            if row[2]:
                item_skills.setdefault(row[2], set()).update(row[3])
        seqs.append(
            Sequence(
                student=student,
                items=np.array([x[2] for x in rows], dtype=np.int64),
                skills=sk,
                correct=np.array([x[4] for x in rows], dtype=np.int64),
                timestamps=np.array([x[0] for x in rows], dtype=np.float64),
            )
        )
    return Dataset(name, seqs, n_items, n_skills,
                   {i: tuple(sorted(v)) for i, v in item_skills.items()})
