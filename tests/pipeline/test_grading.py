from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from lti_tool.grading import GradingError, grade


@dataclass
class Q:
    kind: str
    answer: dict[str, Any]
    choices: list[Any] = field(default_factory=lambda: ["a", "b", "c"])


def test_multichoice_right_and_wrong() -> None:
    q = Q("multichoice", {"choice": 1})
    assert grade(q, {"choice": "1"}).correct is True
    wrong = grade(q, {"choice": "2"})
    assert wrong.correct is False and wrong.response == {"choice": 2}


def test_multichoice_several_right_answers() -> None:
    q = Q("multichoice", {"choices": [0, 2]})
    assert [grade(q, {"choice": str(n)}).correct for n in range(3)] == [True, False, True]


@pytest.mark.parametrize("value", ["", "  ", "x", "-1", "3", "1.5"])
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
