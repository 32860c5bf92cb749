"""Partial credit from Moodle XML `fraction` values between 0 and 100 and GIFT `%50%` weights:
imported, graded as partly right (never silently wrong), exported back with the same fractions,
and typed answers exported as plain text an LMS renders as written."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from lti_tool.core.answers.check import Fields, grade
from lti_tool.core.itembank import gift, moodle_xml
from lti_tool.core.itembank.model import Question


def _question(kind: str, body: str, single: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?><quiz>
<question type="{kind}"><name><text>Q</text></name>
<questiontext format="html"><text>Which?</text></questiontext>{single}
{body}</question></quiz>""".encode()


def _one(data: bytes) -> Question:
    result = moodle_xml.parse(data)
    assert result.rejected == [], result.rejected
    (q,) = result.questions
    return q


def _credit(q: Question, **form: Any) -> float:
    fields = {k: v if isinstance(v, list) else [v] for k, v in form.items()}
    return grade(q, Fields(fields)).credit


def test_short_answer_fractions_grade_partly_right() -> None:
    q = _one(_question("shortanswer", """
<answer fraction="100" format="moodle_auto_format"><text>Paris</text>
  <feedback format="html"><text>Yes.</text></feedback></answer>
<answer fraction="50" format="moodle_auto_format"><text>Par*</text>
  <feedback format="html"><text>Nearly: check the spelling.</text></feedback></answer>
<answer fraction="0" format="moodle_auto_format"><text>*</text></answer>"""))
    assert q.answer["partial"] == [{"match": "Par*", "credit": 0.5}]
    assert _credit(q, text="paris") == 1.0
    partly = grade(q, Fields({"text": ["Parris"]}))
    assert partly.credit == 0.5 and partly.partial and not partly.correct
    assert partly.feedback == "Nearly: check the spelling."
    assert _credit(q, text="London") == 0.0


def test_numerical_fractions_grade_partly_right() -> None:
    q = _one(_question("numerical", """
<answer fraction="100"><text>3.14</text><tolerance>0.005</tolerance></answer>
<answer fraction="33.33333"><text>3</text><tolerance>0.2</tolerance></answer>"""))
    assert _credit(q, value="3.141") == 1.0
    assert _credit(q, value="3.1") == pytest.approx(0.3333333)
    assert _credit(q, value="4") == 0.0


def test_single_choice_with_a_half_right_option() -> None:
    q = _one(_question("multichoice", """
<answer fraction="100"><text>3/4</text></answer>
<answer fraction="50"><text>0.75 written as 75/100</text></answer>
<answer fraction="0"><text>1/8</text></answer>""", "<single>true</single>"))
    assert q.kind == "multichoice" and q.answer["credits"] == [1.0, 0.5, 0.0]
    assert [_credit(q, choice=str(i)) for i in range(3)] == [1.0, 0.5, 0.0]


def test_multiple_answers_add_their_fractions() -> None:
    q = _one(_question("multichoice", """
<answer fraction="50"><text>2/4</text></answer>
<answer fraction="-100"><text>2/3</text></answer>
<answer fraction="50"><text>3/6</text></answer>
<answer fraction="0"><text>1/4</text></answer>""", "<single>false</single>"))
    assert _credit(q, choice=["0", "2"]) == 1.0
    assert _credit(q, choice=["0"]) == 0.5  # one of the two right ones: half the marks
    assert _credit(q, choice=["0", "1"]) == 0.0  # a wrong tick takes it all back
    assert _credit(q, choice=["0", "3"]) == 0.5  # a 0% option costs nothing, as in Moodle


def test_partiallycorrectfeedback_is_kept_and_exported() -> None:
    q = _one(_question("multichoice", """
<correctfeedback format="html"><text>All right.</text></correctfeedback>
<partiallycorrectfeedback format="html"><text>Some right.</text></partiallycorrectfeedback>
<answer fraction="50"><text>a</text></answer><answer fraction="50"><text>b</text></answer>
<answer fraction="-100"><text>c</text></answer>""", "<single>false</single>"))
    assert q.feedback["partial"] == "Some right."
    assert b"<text>Some right.</text>" in moodle_xml.export([q])


def test_gift_weights_grade_partly_right() -> None:
    result = gift.parse(b"""::Capital::The capital of France? {=Paris =%50%Pari}

::Pick::Pick the best. {=three quarters ~%50%seventy-five hundredths ~one eighth}

::Half::Which are halves? {~%50%2/4 ~%50%3/6 ~%-100%2/3}
""")
    q = {x.name: x for x in result.questions}
    assert _credit(q["Capital"], text="pari") == 0.5
    assert _credit(q["Pick"], choice="1") == 0.5 and _credit(q["Pick"], choice="2") == 0.0
    assert _credit(q["Half"], choice=["0"]) == 0.5 and _credit(q["Half"], choice=["0", "1"]) == 1


def test_fractions_survive_export_and_reimport() -> None:
    source = _question("shortanswer", """
<answer fraction="100"><text>Paris</text></answer>
<answer fraction="25"><text>Pa*</text></answer>""")
    first = _one(source)
    exported = moodle_xml.export([first])
    again = _one(exported)
    assert again.answer == first.answer
    answers = {a.findtext("text"): a.get("fraction")
               for a in ET.fromstring(exported).iter("answer")}
    assert answers == {"Paris": "100", "Pa*": "25"}


def test_typed_answers_are_exported_as_plain_text_not_markup() -> None:
    """A short answer is what a student types: exported as Moodle's own plain format, escaped,
    so an LMS re-importing it shows `<b>x</b> & y` as written, never as bold markup."""
    q = Question(name="Typed", kind="shortanswer", text="<p>Type it.</p>",
                 answer={"accepted": ["<b>x</b> & y", "a < b"], "case_sensitive": False},
                 feedback={"choices": [{"match": "<b>x</b> & y", "feedback": "<p>Yes</p>"}]})
    exported = moodle_xml.export([q])
    assert b"<b>x</b>" not in exported and b"&lt;b&gt;x&lt;/b&gt; &amp; y" in exported
    question = next(e for e in ET.fromstring(exported).iter("question")
                    if e.get("type") == "shortanswer")
    formats = {a.findtext("text"): a.get("format") for a in question.iter("answer")}
    assert formats == {"<b>x</b> & y": "moodle_auto_format", "a < b": "moodle_auto_format"}
    assert question.find("answer/feedback").get("format") == "html"  # type: ignore[union-attr]
    assert _one(exported).answer["accepted"] == ["<b>x</b> & y", "a < b"]
