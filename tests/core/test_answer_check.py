from __future__ import annotations

import time

import pytest

from lti_tool.core.answers.check import GradingError, grade
from tests.support.items import Q


def test_multichoice_right_and_wrong() -> None:
    q = Q("multichoice", {"choice": 1})
    assert grade(q, {"choice": "1"}).correct is True
    wrong = grade(q, {"choice": "2"})
    assert wrong.correct is False and wrong.response == {"choice": 2}


def test_multichoice_several_right_answers() -> None:
    q = Q("multichoice", {"choices": [0, 2]})
    assert [grade(q, {"choice": str(n)}).correct for n in range(3)] == [True, False, True]


@pytest.mark.parametrize("value", ["", "  ", "x", "-1", "3", "1.5", "+1", "1_0", "\uff11",
                                   "\u0661", "\u00b9"])
def test_multichoice_rejects_what_is_not_an_option(value: str) -> None:
    with pytest.raises(GradingError):
        grade(Q("multichoice", {"choice": 0}), {"choice": value})


def test_a_score_in_the_form_is_ignored() -> None:
    result = grade(Q("multichoice", {"choice": 0}), {"choice": "1", "correct": "1", "score": "1"})
    assert result.correct is False and result.response == {"choice": 1}


def test_numeric_with_tolerance_and_comma() -> None:
    q = Q("numeric", {"value": 3.14, "tolerance": 0.01})
    assert grade(q, {"value": "3,145"}).correct is True
    assert grade(q, {"value": "3.2"}).correct is False
    for bad in ("pi", "nan", "inf"):
        with pytest.raises(GradingError):
            grade(q, {"value": bad})


def test_shortanswer_ignores_case_and_spacing() -> None:
    q = Q("shortanswer", {"accepted": ["Photo synthesis"]})
    assert grade(q, {"text": "  photo   SYNTHESIS "}).correct is True
    assert grade(q, {"text": "respiration"}).correct is False
    strict = Q("shortanswer", {"accepted": ["NaCl"], "case_sensitive": True})
    assert grade(strict, {"text": "nacl"}).correct is False


def test_unknown_kind_and_oversized_answer() -> None:
    with pytest.raises(GradingError, match="cannot be answered"):
        grade(Q("essay", {}), {"text": "x"})
    with pytest.raises(GradingError, match="longer"):
        grade(Q("shortanswer", {"accepted": ["a"]}), {"text": "a" * 501})


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("photo*", "Photosynthesis", True),
    ("*synthesis", "photosynthesis", True),
    ("*synthesis", "synthesis", True),
    ("photo*sis", "photosynthesis", True),
    ("photo*sis", "photosynthesi", False),
    ("a*b*c", "abc", True),
    ("a*b*c", "aXbYc", True),
    ("a*b*c", "acb", False),
    ("ab*ba", "aba", False),  # prefix and suffix may not share characters
    ("*", "anything", True),
    ("**", "x", True),
    ("a**b", "ab", True),
    ("*mid*", "a mid b", True),
    ("*mid*", "a mi d b", False),
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("a\\**", "a*bc", True),
    ("a\\**", "abc", False),
    ("x *  y", "X   ANY Y", True),
])
def test_shortanswer_wildcards(pattern: str, text: str, expected: bool) -> None:
    assert grade(Q("shortanswer", {"accepted": [pattern]}), {"text": text}).correct is expected


def test_hostile_wildcard_pattern_is_linear() -> None:
    # With one `.*` per star, re.fullmatch took seconds on a 60-character answer.
    hostile = "a*" * 20 + "b"
    q = Q("shortanswer", {"accepted": [hostile]})
    q_feedback = Q("shortanswer", {"accepted": ["x"]},
                   feedback={"choices": [{"match": hostile, "feedback": "no"}]})
    started = time.perf_counter()
    assert grade(q, {"text": "a" * 500}).correct is False
    assert grade(q_feedback, {"text": "a" * 500}).feedback == ""
    assert grade(q, {"text": "a" * 499 + "b"}).correct is True
    assert time.perf_counter() - started < 0.05
