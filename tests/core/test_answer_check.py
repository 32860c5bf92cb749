from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    ("*mid*", "a mi d b", True),  # inner spaces are ignored too
    ("*mid*", "a mxd b", False),
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


@pytest.mark.parametrize(("accepted", "typed"), [
    ("13/12", "13 / 12"),
    ("13 / 12", "13/12"),
    ("x=3", "x = 3"),
    ("x = 3", "  x=\t3 "),
    ("y=2x+1", "y = 2 x + 1"),
    ("New York", "newyork"),
    ("3/4", "3\u00a0/\u00a04"),  # a no-break space is whitespace too
])
def test_shortanswer_ignores_inner_whitespace(accepted: str, typed: str) -> None:
    result = grade(Q("shortanswer", {"accepted": [accepted]}), {"text": typed})
    assert result.correct is True
    assert result.response == {"text": typed.strip()}  # stored as typed, only trimmed


def test_shortanswer_inner_whitespace_keeps_case_sensitivity_and_wildcards() -> None:
    strict = Q("shortanswer", {"accepted": ["x = N a"], "case_sensitive": True})
    assert grade(strict, {"text": "x=Na"}).correct is True
    assert grade(strict, {"text": "x = n a"}).correct is False
    wild = Q("shortanswer", {"accepted": ["x = *"]})
    assert grade(wild, {"text": "X=7"}).correct is True
    assert grade(wild, {"text": "y = 7"}).correct is False
    literal = Q("shortanswer", {"accepted": ["2 \\* 3"]})
    assert grade(literal, {"text": "2*3"}).correct is True
    assert grade(literal, {"text": "2 x 3"}).correct is False


def test_shortanswer_partial_and_feedback_match_ignoring_whitespace() -> None:
    q = Q("shortanswer", {"accepted": ["13/12"], "partial": [{"match": "1 1/12", "credit": 0.5}]},
          feedback={"choices": [{"match": "13 / 12", "feedback": "Right"},
                                {"match": "26/24", "feedback": "Simplify it"},
                                {"match": "*", "feedback": "Add the fractions"}]})
    right = grade(q, {"text": "13/ 12"})
    assert (right.credit, right.feedback) == (1.0, "Right")
    half = grade(q, {"text": "11/12"})
    assert half.credit == 0.5 and half.partial is True
    unsimplified = grade(q, {"text": " 26 /24"})
    assert (unsimplified.credit, unsimplified.feedback) == (0.0, "Simplify it")
    assert grade(q, {"text": "7/12"}).feedback == "Add the fractions"


_ANSWER = st.text(alphabet="ab/=*x3 ", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(accepted=_ANSWER, typed=st.text(alphabet="aAbB/=x3", min_size=1, max_size=12),
       spaces=st.lists(st.tuples(st.integers(0, 12), st.sampled_from([" ", "  ", "\t"])),
                       max_size=5),
       case_sensitive=st.booleans())
def test_inserting_spaces_never_changes_the_grade(accepted: str, typed: str,
                                                  spaces: list[tuple[int, str]],
                                                  case_sensitive: bool) -> None:
    q = Q("shortanswer", {"accepted": [accepted], "case_sensitive": case_sensitive},
          feedback={"choices": [{"match": accepted, "feedback": "matched"}]})
    spaced = typed
    for at, space in spaces:
        spaced = spaced[:at] + space + spaced[at:]
    plain, with_spaces = grade(q, {"text": typed}), grade(q, {"text": spaced})
    assert (with_spaces.credit, with_spaces.feedback) == (plain.credit, plain.feedback)
    # And the teacher's spacing does not matter either.
    unspaced = Q("shortanswer", {"accepted": ["".join(accepted.split())],
                                 "case_sensitive": case_sensitive})
    assert grade(unspaced, {"text": typed}).credit == plain.credit
