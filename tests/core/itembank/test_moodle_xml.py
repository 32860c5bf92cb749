"""Moodle XML import and export: every supported type with its feedback and hints, rejected
questions reported with their position, round trip, and hostile files refused whole."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from lti_tool.core.itembank import moodle_xml, read_bank
from lti_tool.core.itembank.model import MAX_FILE_BYTES, ImportFileError, Question
from lti_tool.core.itembank.sanitize import MAX_IMPORT_IMAGE_BYTES, MAX_QUESTION_IMAGE_BYTES
from tests.support.bank_samples import sample
from tests.support.hostile_banks import (
    XSS,
    billion_laughs,
    image_flood_moodle_xml,
    injected_moodle_xml,
    oversized_moodle_xml,
    xxe,
)


def by_name(questions: list[Question]) -> dict[str, Question]:
    return {q.name: q for q in questions}


def test_sample_imports_every_supported_type_and_rejects_the_essay() -> None:
    result = moodle_xml.parse(sample("sample-moodle.xml"))
    assert [r.position for r in result.rejected] == [6]
    rejected = result.rejected[0]
    assert rejected.name == "Explain fractions" and "essay" in rejected.reason
    q = by_name(result.questions)
    assert {x.kind for x in result.questions} == {
        "multichoice", "multiresponse", "truefalse", "shortanswer", "numeric"}

    mc = q["Adding halves and quarters"]
    assert mc.choices == ["3/4", "2/6", "1/8"] and mc.answer == {"choice": 0}
    assert mc.feedback["choices"][1] == "You added the tops and the bottoms."
    assert mc.feedback["general"] == "<p>Write both fractions in quarters first.</p>"
    assert mc.feedback["correct"] == "Well done." and mc.feedback["incorrect"] == "Not quite."
    assert mc.hints == ["How many quarters make a half?", "1/2 = 2/4."]
    assert mc.external_id == "frac-add-1" and mc.category == "Fractions"
    assert mc.skills == ["fraction addition"]  # tags win over the category
    assert 'src="data:image/png;base64,' in mc.text  # @@PLUGINFILE@@ image embedded

    mr = q["Fractions equal to one half"]
    # Moodle's fractions kept as weights: each right tick earns half, a wrong one takes all.
    assert mr.kind == "multiresponse"
    assert mr.answer == {"choices": [0, 2], "weights": [0.5, -1.0, 0.5]}
    assert mr.skills == ["Fractions"]  # no tags: the category's last segment

    tf = q["Zero is even"]
    assert tf.choices == ["True", "False"] and tf.answer == {"choice": 0}
    assert tf.feedback["choices"][1].startswith("0 divided by 2")
    assert tf.category == "Number facts"

    sa = q["Name of the top number"]
    assert sa.answer == {"accepted": ["numerator"], "case_sensitive": False}
    assert [e["match"] for e in sa.feedback["choices"]] == ["numerator", "denominator", "*"]

    num = q["Pi to two decimals"]
    assert num.answer == {"value": 3.14, "tolerance": 0.005}
    assert num.feedback["choices"][-1] == {"match": "*",
                                           "feedback": "Pi is a little more than 3."}
    assert result.warnings == []


def test_round_trip_import_export_import_gives_the_same_items() -> None:
    first = moodle_xml.parse(sample("sample-moodle.xml")).questions
    exported = moodle_xml.export(first)
    second = moodle_xml.parse(exported)
    assert second.questions == first and second.rejected == []
    assert moodle_xml.export(second.questions) == exported


def test_broken_questions_are_rejected_while_the_valid_ones_import() -> None:
    xml = b"""<?xml version="1.0"?><quiz>
<question type="multichoice"><name><text>No right answer</text></name>
  <questiontext><text>Pick</text></questiontext>
  <answer fraction="0"><text>a</text></answer><answer fraction="0"><text>b</text></answer>
</question>
<question type="matching"><name><text>Pairs</text></name>
  <questiontext><text>Match</text></questiontext></question>
<question type="numerical"><name><text>Bad number</text></name>
  <questiontext><text>How many?</text></questiontext>
  <answer fraction="100"><text>lots</text></answer></question>
<question type="shortanswer"><name><text>Good one</text></name>
  <questiontext><text>Capital of France?</text></questiontext>
  <usecase>1</usecase><answer fraction="100"><text>Paris</text></answer></question>
<question type="cloze"><name><text>Cloze</text></name>
  <questiontext><text>{1:SA:=x}</text></questiontext></question>
</quiz>"""
    result = moodle_xml.parse(xml)
    assert [q.name for q in result.questions] == ["Good one"]
    assert result.questions[0].answer == {"accepted": ["Paris"], "case_sensitive": True}
    reasons = {r.position: (r.name, r.reason) for r in result.rejected}
    assert reasons[1] == ("No right answer", reasons[1][1]) and "no answer is marked right" in \
        reasons[1][1]
    assert "matching questions are not supported" in reasons[2][1]
    assert "'lots' is not a number" in reasons[3][1]
    assert "cloze" in reasons[5][1]


def test_xxe_is_refused_and_the_local_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    with pytest.raises(ImportFileError, match="DTD or XML entities") as caught:
        moodle_xml.parse(xxe(secret))
    assert "TOP-SECRET" not in str(caught.value)


def test_billion_laughs_is_refused_quickly() -> None:
    with pytest.raises(ImportFileError, match="refuses for safety"):
        moodle_xml.parse(billion_laughs())


def test_oversized_and_malformed_files_are_refused() -> None:
    with pytest.raises(ImportFileError, match="up to 5 MB"):
        moodle_xml.parse(oversized_moodle_xml(MAX_FILE_BYTES + 1))
    with pytest.raises(ImportFileError, match="not well-formed"):
        moodle_xml.parse(b"<quiz><question>")
    with pytest.raises(ImportFileError, match="not a Moodle XML"):
        moodle_xml.parse(b"<html></html>")


def test_script_and_handlers_never_reach_any_field() -> None:
    result = moodle_xml.parse(injected_moodle_xml())
    assert len(result.questions) == len(XSS) and not result.rejected
    for q in result.questions:
        stored = " ".join([q.text, *q.choices, q.solution, *q.hints,
                           *(v for v in q.feedback.values() if isinstance(v, str)),
                           *q.feedback.get("choices", [])]).lower()
        for _html, marker in XSS.values():
            assert marker not in stored
    assert any("not embedded" in w for w in result.warnings)  # the remote image


def test_format_detection() -> None:
    assert read_bank("x.XML", sample("sample-moodle.xml")).questions
    with pytest.raises(ImportFileError, match="format could not be told"):
        read_bank("bank.docx", b"")


def _stored_size(q: Question) -> int:
    fields = [q.text, q.solution, *q.choices, *q.hints, *(v for v in q.feedback.values()
                                                        if isinstance(v, str))]
    return sum(len(f) for f in fields)


def test_one_image_named_thousands_of_times_stays_within_the_question_budget() -> None:
    # 2,000 references to one 150 kB image in a ~270 kB file once grew into a 400 MB text.
    data = image_flood_moodle_xml(questions=1, references=2000, image_bytes=150 * 1024)
    assert len(data) < 300 * 1024
    started = time.perf_counter()
    result = read_bank("flood.xml", data)
    assert time.perf_counter() - started < 5
    [question] = result.questions
    assert "data:image/png;base64," in question.text  # the first few are still embedded
    assert _stored_size(question) < MAX_QUESTION_IMAGE_BYTES + 64 * 1024
    assert any("Flood 0" in w and "in one question" in w for w in result.warnings)


def test_images_across_many_questions_stay_within_the_import_budget() -> None:
    per_question = MAX_QUESTION_IMAGE_BYTES // (150 * 1024 * 4 // 3)  # images one question holds
    questions = MAX_IMPORT_IMAGE_BYTES // MAX_QUESTION_IMAGE_BYTES + 2
    data = image_flood_moodle_xml(questions, references=per_question, image_bytes=150 * 1024)
    result = read_bank("flood.xml", data)
    assert len(result.questions) == questions and not result.rejected
    total = sum(_stored_size(q) for q in result.questions)
    assert total < MAX_IMPORT_IMAGE_BYTES + 64 * 1024
    assert "data:image" not in result.questions[-1].text  # the budget ran out before it
    assert any(f"Flood {questions - 1}" in w and "in one import" in w for w in result.warnings)


def test_infinite_numbers_are_rejected() -> None:
    def numerical(name: str, value: str, tolerance: str) -> str:
        return f"""<question type="numerical"><name><text>{name}</text></name>
  <questiontext><text>How much?</text></questiontext>
  <answer fraction="100"><text>{value}</text><tolerance>{tolerance}</tolerance></answer>
</question>"""

    xml = ("<quiz>" + numerical("Huge", "1e400", "0") + numerical("Wide", "1", "-1e400")
           + numerical("Inf", "inf", "0") + numerical("Fine", "1.7e308", "1.7e308") + "</quiz>")
    result = moodle_xml.parse(xml.encode())
    assert [q.answer for q in result.questions] == [{"value": 1.7e308, "tolerance": 1.7e308}]
    reasons = {r.name: (r.position, r.reason) for r in result.rejected}
    assert reasons["Huge"] == (1, "the answer '1e400' is not a number")
    assert reasons["Wide"] == (2, "the tolerance '-1e400' is not a number")
    assert reasons["Inf"] == (3, "the answer 'inf' is not a number")


def _tagged(name: str, *tags: str) -> str:
    listed = "".join(f"<tag><text>{t}</text></tag>" for t in tags)
    return (f'<question type="shortanswer"><name><text>{name}</text></name>'
            f"<questiontext><text>What is 1/2 + 1/4?</text></questiontext>"
            f'<answer fraction="100"><text>3/4</text></answer><tags>{listed}</tags></question>')


def test_difficulty_tags_state_the_difficulty_and_are_not_skills() -> None:
    xml = ("<quiz>" + _tagged("Hard", "fraction addition", "difficulty:hard")
           + _tagged("Share", "Difficulty=0.7") + _tagged("Level", "difficulty: 2")
           + _tagged("None", "fractions") + _tagged("Bad", "difficulty:tricky", "fractions")
           + "</quiz>").encode()
    result = moodle_xml.parse(xml)
    q = by_name(result.questions)
    assert {n: x.difficulty for n, x in q.items()} == {
        "Hard": 1.0, "Share": pytest.approx(math.log(0.3 / 0.7)), "Level": -1.0, "None": None,
        "Bad": None}
    assert q["Hard"].skills == ["fraction addition"]
    assert q["Share"].skills == ["General"]  # only a difficulty tag: skills as without tags
    assert q["Bad"].skills == ["fractions"]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("question 5 (Bad): the difficulty 'tricky'")


def test_export_writes_the_difficulty_back_as_a_tag() -> None:
    xml = ("<quiz>" + _tagged("Hard", "fractions", "difficulty:hard")
           + _tagged("Share", "difficulty:70%") + _tagged("None", "fractions") + "</quiz>")
    first = moodle_xml.parse(xml.encode()).questions
    exported = moodle_xml.export(first)
    assert b"<text>difficulty:hard</text>" in exported
    assert b"<text>difficulty:70%</text>" in exported
    second = moodle_xml.parse(exported).questions
    assert [(x.difficulty, x.skills) for x in second] == [(x.difficulty, x.skills) for x in first]
    assert second[2].difficulty is None
