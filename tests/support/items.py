"""A stand-in for an item bank question: just what grading reads (kind, answer, choices,
feedback)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Q:
    kind: str
    answer: dict[str, Any]
    choices: list[Any] = field(default_factory=lambda: ["a", "b", "c"])
    feedback: dict[str, Any] = field(default_factory=dict)
