"""Text to numbers, the same way everywhere: ids, whole numbers and decimals typed by people or
sent by browsers. Python's `int()` accepts "①"-like digits only sometimes and any size always;
the database does not, so every id that reaches a query comes through here first."""

from __future__ import annotations

import math
from typing import Any

# The largest id a database column can hold (BIGINT / SQLite INTEGER are signed 64-bit).
MAX_ID = 2**63 - 1
# Longest run of digits worth converting: anything longer is out of range anyway, and int() on
# a megabyte of digits costs real time.
_MAX_DIGITS = len(str(MAX_ID))


def is_digits(text: str) -> bool:
    """Only ASCII 0-9: `str.isdigit` also accepts "²" or "①", which `int()` then refuses."""
    return text.isascii() and text.isdigit()


def parse_int(text: Any, low: int, high: int) -> int | None:
    """A whole number written in ASCII digits within [low, high], else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        value = text
    else:
        raw = str(text).strip() if text is not None else ""
        if not is_digits(raw) or len(raw.lstrip("0")) > _MAX_DIGITS:
            return None
        value = int(raw)
    return value if low <= value <= high else None


def parse_id(text: Any) -> int | None:
    """A database id (1 .. 2^63-1), else None."""
    return parse_int(text, 1, MAX_ID)


def parse_float(text: Any) -> float | None:
    """A finite decimal number, else None (NaN and infinities are not numbers to a teacher)."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        value = float(text)
    else:
        try:
            value = float(str(text).strip())
        except (TypeError, ValueError):
            return None
    return value if math.isfinite(value) else None
