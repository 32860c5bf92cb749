"""Stated difficulty: what a teacher may write, on the model's logit scale (harder = larger)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lti_tool.core.itembank.difficulty import (
    LIMIT,
    parse_difficulty,
    read_difficulty,
    tag_value,
    to_text,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("very easy", -2.0), ("easy", -1.0), ("medium", 0.0), ("hard", 1.0), ("very hard", 2.0),
    ("  Very  HARD ", 2.0), ("very-easy", -2.0), ("Very_Easy", -2.0),
    ("1", -2.0), ("3", 0.0), ("5", 2.0), ("4", 1.0), ("2.5", -0.5), ("2,5", -0.5),
    ("50%", 0.0), ("50 %", 0.0), ("0.5", 0.0), (".5", 0.0), ("0,5", 0.0),
    (0.5, 0.0), (4, 1.0),
])
def test_words_levels_and_shares(text: str | float, expected: float) -> None:
    assert parse_difficulty(text) == pytest.approx(expected)


def test_a_share_right_is_the_logit_of_the_share_wrong() -> None:
    assert parse_difficulty("70%") == pytest.approx(math.log(0.3 / 0.7))
    assert parse_difficulty("0.7") == parse_difficulty("70%")
    assert parse_difficulty("20%") == pytest.approx(math.log(4.0))
    # Every student right (or none) is as far as a statement goes, not infinite.
    assert parse_difficulty("100%") == -LIMIT and parse_difficulty("0%") == LIMIT
    assert parse_difficulty("1%") == LIMIT


@pytest.mark.parametrize("text", [
    "", "  ", "impossible", "medium-hard", "0", "6", "-1", "150%", "-5%", "1e3", "nan", "inf",
    "3 stars", "½", "٣", "%", "very", math.nan, math.inf, True, None,
])
def test_anything_else_is_none(text: str | float | None) -> None:
    assert parse_difficulty(text) is None


def test_read_difficulty_warns_only_about_what_it_cannot_read() -> None:
    warnings: list[str] = []
    assert read_difficulty("", "row 1 (Q)", warnings) is None
    assert read_difficulty("hard", "row 2 (Q)", warnings) == 1.0
    assert warnings == []
    assert read_difficulty("tricky", "row 3 (Q)", warnings) is None
    assert len(warnings) == 1 and warnings[0].startswith("row 3 (Q): the difficulty 'tricky'")
    assert "easy, medium, hard" in warnings[0]


@pytest.mark.parametrize(("tag", "value"), [
    ("difficulty:hard", "hard"), ("Difficulty = very easy", "very easy"),
    ("difficulty:70%", "70%"), ("difficulty:", ""),
    ("fractions", None), ("hard", None), ("my difficulty:hard", None),
])
def test_tag_value(tag: str, value: str | None) -> None:
    assert tag_value(tag) == value


@given(st.floats(-LIMIT, LIMIT))
def test_what_export_writes_reads_back_as_the_same_difficulty(value: float) -> None:
    back = parse_difficulty(to_text(value))
    assert back is not None and back == pytest.approx(value, abs=2e-3)


@given(st.floats(0.001, 0.999))
def test_more_students_right_is_never_harder(share: float) -> None:
    lower, higher = parse_difficulty(share), parse_difficulty(min(share + 0.01, 0.999))
    assert lower is not None and higher is not None and higher <= lower
