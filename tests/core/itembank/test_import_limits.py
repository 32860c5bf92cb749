"""An import is one web request, so its work is bounded: a file with more questions than
MAX_QUESTIONS is refused whole with a clear message before any question is parsed, and HTML
nested deeper than MAX_NESTING (whose sanitising grows with the square of the depth) is
refused for that question only."""

from __future__ import annotations

import pytest

from lti_tool.core.itembank import read_bank
from lti_tool.core.itembank.model import MAX_QUESTIONS, ImportFileError
from lti_tool.core.itembank.sanitize import MAX_NESTING, clean_html, nesting_depth


def moodle_xml(questions: int, text: str = "What is 1 + 1?") -> bytes:
    one = (f'<question type="truefalse"><name><text>Q</text></name><questiontext format="html">'
           f'<text><![CDATA[{text}]]></text></questiontext><answer fraction="100"><text>true'
           '</text></answer><answer fraction="0"><text>false</text></answer></question>')
    head = '<question type="category"><category><text>$course$/top/A</text></category></question>'
    return f'<?xml version="1.0"?><quiz>{head}{one * questions}</quiz>'.encode()


def test_twelve_thousand_questions_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ImportFileError) as err:
        read_bank("big.xml", moodle_xml(12_000))
    assert str(err.value) == (
        "the file holds 12,000 questions; up to 2,000 can be imported at once (split the bank: "
        "Moodle exports one category at a time)")


@pytest.mark.parametrize(("name", "make"), [
    ("bank.gift", lambda n: "\n\n".join(f"Q{i} {{T}}" for i in range(n)).encode()),
    ("bank.csv", lambda n: ("type,question,answer\n" + "truefalse,Q,true\n" * n).encode()),
    ("bank.xml", moodle_xml),
])
def test_every_format_stops_at_the_limit(name: str, make: object) -> None:
    assert callable(make)
    assert len(read_bank(name, make(MAX_QUESTIONS)).questions) == MAX_QUESTIONS
    with pytest.raises(ImportFileError, match=f"holds {MAX_QUESTIONS + 1:,} questions"):
        read_bank(name, make(MAX_QUESTIONS + 1))


def test_deeply_nested_html_rejects_that_question_only() -> None:
    deep = "<div>" * 100_000 + "x" + "</div>" * 100_000
    fine = "<div>" * MAX_NESTING + "fine" + "</div>" * MAX_NESTING
    data = moodle_xml(1, deep)[:-len("</quiz>")] + moodle_xml(1, fine).split(b"<quiz>")[1]
    result = read_bank("nested.xml", data)
    assert [r.position for r in result.rejected] == [1]
    assert f"more than {MAX_NESTING} levels deep" in result.rejected[0].reason
    assert len(result.questions) == 1 and "fine" in result.questions[0].text


def test_nesting_is_counted_as_the_browser_would_nest() -> None:
    assert nesting_depth("<p>a<p>b<p>c") == 0  # paragraphs close each other
    assert nesting_depth("<ul><li>a<li>b</ul><br><img src=x>") == 1
    assert nesting_depth("<div><span><b>x</b></span></div><div></div>") == 3
    assert nesting_depth("<div>" * 101) == 101
    # Items stored before the limit still show, as text.
    assert clean_html("<div>" * 200 + "<b>x</b>") .strip() == "x"
