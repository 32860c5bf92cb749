"""Grading of the kinds imports produce, with the matched per-answer feedback."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from lti_tool.core.answers.check import GradingError, grade
from lti_tool.core.itembank import moodle_xml
from tests.support.bank_samples import sample
from tests.support.items import Q


def test_multiresponse_needs_exactly_the_right_set() -> None:
    q = Q("multiresponse", {"choices": [0, 2]}, feedback={"choices": ["A!", "B?", "C!"]})
    right = grade(q, MultiDict([("choice", "2"), ("choice", "0")]))
    assert right.correct and right.response == {"choices": [0, 2]} and right.feedback == "A! C!"
    assert not grade(q, MultiDict([("choice", "0")])).correct
    assert not grade(q, MultiDict([("choice", "0"), ("choice", "1"), ("choice", "2")])).correct
    with pytest.raises(GradingError, match="at least one"):
        grade(q, MultiDict())
    with pytest.raises(GradingError, match="not one of"):
        grade(q, MultiDict([("choice", "0"), ("choice", "7")]))


def test_truefalse_accepts_index_or_word() -> None:
    q = Q("truefalse", {"choice": 1}, ["True", "False"], {"choices": ["No: it is false.", "Yes."]})
    assert grade(q, {"choice": "1"}).correct and grade(q, {"choice": "false"}).correct
    wrong = grade(q, {"choice": "true"})
    assert not wrong.correct and wrong.feedback == "No: it is false."
    with pytest.raises(GradingError):
        grade(q, {"choice": "2"})


def test_typed_feedback_first_match_then_catch_all() -> None:
    num = Q("numeric", {"value": 3.14, "tolerance": 0.005}, [], {"choices": [
        {"match": 3.14, "tolerance": 0.005, "feedback": "Yes"},
        {"match": 3, "tolerance": 0, "feedback": "More decimals"},
        {"match": "*", "feedback": "A bit more than 3"}]})
    assert grade(num, {"value": "3.141"}).feedback == "Yes"
    assert grade(num, {"value": "3"}).feedback == "More decimals"
    assert grade(num, {"value": "9"}).feedback == "A bit more than 3"
    short = Q("shortanswer", {"accepted": ["photo*"]}, [], {"choices": [
        {"match": "respiration", "feedback": "That releases energy."}]})
    assert grade(short, {"text": "Photosynthesis"}).correct  # Moodle's * wildcard
    assert grade(short, {"text": "respiration"}).feedback == "That releases energy."
    assert grade(short, {"text": "other"}).feedback == ""
    literal = Q("shortanswer", {"accepted": ["a\\*b"]}, [])
    assert grade(literal, {"text": "a*b"}).correct and not grade(literal, {"text": "axb"}).correct


def test_every_sample_question_is_right_with_its_answer_and_wrong_otherwise() -> None:
    for q in moodle_xml.parse(sample("sample-moodle.xml")).questions:
        right: MultiDict[str, str]
        if q.kind == "multiresponse":
            right = MultiDict([("choice", str(i)) for i in q.answer["choices"]])
        elif q.kind in ("multichoice", "truefalse"):
            right = MultiDict({"choice": str(q.answer["choice"])})
        elif q.kind == "numeric":
            right = MultiDict({"value": str(q.answer["value"])})
        else:
            right = MultiDict({"text": q.answer["accepted"][0].upper()})
        result = grade(q, right)
        assert result.correct, q.name
    mc = moodle_xml.parse(sample("sample-moodle.xml")).questions[0]
    assert grade(mc, {"choice": "1"}).feedback == "You added the tops and the bottoms."
