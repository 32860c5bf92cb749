"""The documented CSV format (docs/item-bank-csv.md)."""

from __future__ import annotations

import math

import pytest

from lti_tool.core.itembank import csv_format
from lti_tool.core.itembank.model import ImportFileError
from tests.support.bank_samples import sample


def test_sample_file() -> None:
    result = csv_format.parse(sample("sample.csv"))
    q = {x.external_id: x for x in result.questions}
    assert [(r.position, r.name) for r in result.rejected] == [(6, "Explain")]
    assert "unknown type 'essay'" in result.rejected[0].reason
    mc = q["csv-1"]
    assert mc.text == "What is <b>1/2 + 1/4</b>?" and mc.answer == {"choice": 0}
    assert mc.hints == ["How many quarters make a half?", "1/2 = 2/4"]
    assert mc.feedback["choices"][1] == "You added tops and bottoms."
    assert mc.solution.startswith("<p>1/2 + 1/4") and mc.skills == ["fraction addition"]
    assert q["csv-2"].kind == "multiresponse" and q["csv-2"].answer == {"choices": [0, 2]}
    assert q["csv-3"].answer == {"choice": 0} and q["csv-3"].skills == ["Number facts"]
    assert q["csv-4"].answer == {"value": 3.14, "tolerance": 0.005}
    assert q["csv-5"].answer == {"accepted": ["numerator", "the numerator"],
                                 "case_sensitive": False}


def test_row_errors_and_semicolons_and_escaped_bars() -> None:
    data = (b"type;question;choices;answer;skills;colour\n"
            b"multichoice;Pick;a\\|b|c;1;x|y;red\n"
            b"multichoice;Pick;a|b;3;;\n"
            b"numeric;How many?;;many;;\n"
            b"truefalse;Sure?;;maybe;;\n"
            b"shortanswer;<script>alert(1)</script>;;x;;\n")
    result = csv_format.parse(data)
    assert [q.choices for q in result.questions] == [["a|b", "c"]]
    assert result.questions[0].skills == ["x", "y"]
    assert "columns ignored: colour" in result.warnings
    reasons = {r.position: r.reason for r in result.rejected}
    assert "1 to 2" in reasons[2] and "not a number" in reasons[3]
    assert "true or false" in reasons[4] and "question is empty" in reasons[5]


def test_missing_columns_refuse_the_file() -> None:
    with pytest.raises(ImportFileError, match="no answer column"):
        csv_format.parse(b"type,question\nnumeric,2+2\n")


def test_non_ascii_digits_and_infinite_numbers_are_rejected_by_row() -> None:
    data = ("type,question,choices,answer,tolerance\n"
            "multichoice,Pick,a|b,\u00b2,\n"          # isdigit() is True, int() refuses it
            "multiresponse,Pick,a|b,1|\u0662,\n"     # an Arabic-Indic 2
            "numeric,Huge?,,1e400,\n"
            "numeric,Wide?,,1,1e309\n"
            "numeric,Not?,,inf,\n"
            "multichoice,Fine,a|b,2,\n").encode()
    result = csv_format.parse(data)
    assert [(q.name, q.answer) for q in result.questions] == [("Fine", {"choice": 1})]
    reasons = {r.position: r.reason for r in result.rejected}
    assert reasons[1] == "the answer '\u00b2' must be the number(s) of the right choice(s), " \
        "1 to 2, separated by |"
    assert "1 to 2" in reasons[2]
    assert reasons[3] == "the answer '1e400' is not a number"
    assert reasons[4] == "the tolerance '1e309' is not a number"
    assert reasons[5] == "the answer 'inf' is not a number"


def test_difficulty_column() -> None:
    data = (b"type,name,question,answer,difficulty\n"
            b"numeric,A,1+1?,2,easy\n"
            b"numeric,B,2+2?,4,4\n"
            b"numeric,C,3+3?,6,70%\n"
            b"numeric,D,4+4?,8,\n"
            b"numeric,E,5+5?,10,tricky\n")
    result = csv_format.parse(data)
    stated = {q.name: q.difficulty for q in result.questions}
    assert stated == {"A": -1.0, "B": 1.0, "C": pytest.approx(math.log(0.3 / 0.7)),
                      "D": None, "E": None}
    assert result.rejected == []  # a difficulty it cannot read never costs the question
    assert [w for w in result.warnings if "difficulty" in w] == [
        "row 5 (E): the difficulty 'tricky' is not understood and was left out (use easy, "
        "medium, hard, very easy, very hard, a level 1-5 or the share expected right such "
        "as 70%)"]
    assert not any("columns ignored" in w for w in result.warnings)
