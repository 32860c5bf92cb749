"""GIFT import: every supported question form, escapes, feedback, and rejections."""

from __future__ import annotations

import math

import pytest

from lti_tool.core.itembank import gift
from lti_tool.core.itembank.model import ImportFileError
from tests.support.bank_samples import sample


def test_sample_file() -> None:
    result = gift.parse(sample("sample.gift"))
    q = {x.name: x for x in result.questions}
    assert [(r.position, r.name) for r in result.rejected] == [(8, "Match")]
    assert "matching" in result.rejected[0].reason

    mc = q["Adding halves and quarters"]
    assert mc.kind == "multichoice" and mc.answer == {"choice": 0}
    assert mc.feedback["choices"][0] == "Yes: 2/4 + 1/4 = 3/4."  # \= unescaped
    assert mc.feedback["general"] == "Write both fractions in quarters first."
    assert mc.category == "Fractions" and mc.skills == ["Fractions"]

    mr = q["Equal to one half"]
    assert mr.kind == "multiresponse"
    assert mr.answer == {"choices": [0, 1], "weights": [0.5, 0.5, -1.0]}

    tf = q["Zero is even"]
    assert tf.answer == {"choice": 0}
    # GIFT: the first #feedback is for a wrong answer, the second for a right one.
    assert tf.feedback["choices"] == ["Right.", "0 divided by 2 leaves no remainder."]
    assert tf.category == "Number facts"

    sa = q["Top number"]
    assert sa.kind == "shortanswer"
    assert sa.answer["accepted"] == ["numerator", "the numerator"]
    assert {"match": "denominator", "feedback": "That is the bottom number."} in \
        sa.feedback["choices"]

    assert q["Pi"].answer == {"value": 3.14, "tolerance": 0.005}
    assert q["Between"].answer == {"value": 3.0, "tolerance": 2.0}
    esc = q["Escapes"]
    assert esc.text == 'Which symbol means "approximately": ~ or =?'
    assert esc.choices == ["~", "=", "#"] and esc.answer == {"choice": 0}


def test_more_forms() -> None:
    source = """
// comment line
What is 2+2? {#=4:0#Yes =%50%4.5:0.1 ~*#No}

::Missing word::The sun rises in the {=east ~west ~north} every morning.

::Essay::Describe your day. {}

[html]<p>Is <b>this</b> bold?</p> {TRUE}

::No answers::Just a description.

::Numbers::Name a number. {#=5:0.5 =6:0}
"""
    result = gift.parse(source.encode())
    q = {x.name: x for x in result.questions}
    numeric = result.questions[0]
    assert numeric.name == "What is 2+2?" and numeric.answer == {
        "value": 4.0, "tolerance": 0.0,
        "partial": [{"value": 4.5, "tolerance": 0.1, "credit": 0.5}]}  # =%50%: half the marks
    assert numeric.feedback["choices"] == [
        {"match": 4.0, "tolerance": 0.0, "feedback": "Yes"}, {"match": "*", "feedback": "No"}]
    assert q["Missing word"].text == "The sun rises in the _____ every morning."
    assert q["Numbers"].answer == {  # a second fully right answer earns full marks too
        "value": 5.0, "tolerance": 0.5,
        "partial": [{"value": 6.0, "tolerance": 0.0, "credit": 1.0}]}
    html_q = result.questions[2]
    assert html_q.text == "<p>Is <b>this</b> bold?</p>" and html_q.kind == "truefalse"
    rejected = {r.name: (r.position, r.reason) for r in result.rejected}
    assert rejected["Essay"][0] == 3 and "essay" in rejected["Essay"][1]
    assert rejected["No answers"][0] == 5 and "no answer block" in rejected["No answers"][1]


def test_html_in_gift_is_sanitised_and_bad_files_refused() -> None:
    result = gift.parse(b"[html]<p onclick='x()'>Hi<script>alert(1)</script></p> {T}")
    assert result.questions[0].text == "<p>Hi</p>"
    with pytest.raises(ImportFileError, match="UTF-8"):
        gift.parse("Caf\u00e9? {T}".encode("latin-1"))


def test_numbers_that_overflow_are_rejected() -> None:
    # A finite range can still have an infinite midpoint or half-width: JSON cannot store
    # Infinity, and an infinite tolerance would make every answer right.
    source = """::Midpoint::Big? {#1e308..1.7e308}

::Width::Any? {#-1.7e308..1.7e308}

::Weighted::Any? {#=-1.7e308..1.7e308 ~1:0}

::Huge::Huge? {#1e400:1}

::Wide::Wide? {#1:1e400}

::Fine::Fine? {#1e300..1.1e300}
"""
    result = gift.parse(source.encode())
    assert [q.name for q in result.questions] == ["Fine"]
    assert all(math.isfinite(v) for v in result.questions[0].answer.values())
    reasons = {r.name: (r.position, r.reason) for r in result.rejected}
    assert reasons["Midpoint"] == (1, "the range '1e308..1.7e308' is too large to be graded")
    assert reasons["Width"][0] == 2 and "too large" in reasons["Width"][1]
    assert reasons["Weighted"][0] == 3 and "too large" in reasons["Weighted"][1]
    assert "not a number" in reasons["Huge"][1] and "not a number" in reasons["Wide"][1]


def test_difficulty_from_moodle_4_tag_comments() -> None:
    data = (b"// [id:q1] [tag:fractions] [tag:difficulty:hard]\n"
            b"::One::What is 1/2 + 1/4? {=3/4 ~2/6}\n\n"
            b"// a plain comment, then a tag among the question's lines\n"
            b"::Two::Zero is even. {T}\n"
            b"// [tag:Difficulty=20%]\n\n"
            b"// [tag:difficulty:very hard] (cut off by the blank line: belongs to nothing)\n\n"
            b"::Three::2 + 2 = {#4}\n\n"
            b"// [tag:difficulty:impossible]\n"
            b"::Four::Name the top number. {=numerator}\n")
    result = gift.parse(data)
    stated = {q.name: q.difficulty for q in result.questions}
    assert stated == {"One": 1.0, "Two": pytest.approx(math.log(4.0)), "Three": None,
                      "Four": None}
    assert [q.skills for q in result.questions] == [["General"]] * 4  # tags are not skills
    assert result.questions[0].answer == {"choice": 0}  # the comment is not question text
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(
        "question 4 (Four): the difficulty 'impossible' is not understood")
