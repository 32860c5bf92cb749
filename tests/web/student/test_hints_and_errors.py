"""Hint use stored with the answer (for teachers, never for grading), refused answers shown next
to their question (with and without JS), and the page after an answer: the verdict once, then a
quiet line while the next set is computed. Over a real learner launch."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from sqlalchemy import select

from lti_tool.core.answers.submit import hints_seen
from lti_tool.core.db.models import Answer, Item
from tests.support.learner import Learner


def _stored(learner: Learner, event_id: str) -> dict[str, object]:
    """The stored answer's response."""
    with learner.world.db.session() as s:
        answer = s.scalars(select(Answer).where(Answer.event_id == event_id)).one()
        return dict(answer.response)


def _item_html(page: str, item_id: int) -> str:
    return page.split(f'id="item-{item_id}"')[1].split("</li>")[0]


def test_hints_seen_is_stored_capped_and_never_graded(learner: Learner) -> None:
    rich, multi = learner.items[0], learner.items[1]  # two hints; none
    learner.settings(tries=3)
    wrong = learner.answer(rich, choice="1", hints_seen="2").json()
    assert wrong["correct"] is False  # hints change nothing about the grade
    assert "hints" not in wrong  # stored only, not echoed to the page
    assert _stored(learner, wrong["event_id"]) == {"choice": 1, "hints": 2}

    right = learner.answer(rich, choice="0", hints_seen="1").json()
    assert right["correct"] is True
    assert _stored(learner, right["event_id"]) == {"choice": 0, "hints": 1}

    # The browser reports the count, so it is bounded by the item's hints and ignored when odd.
    with learner.world.db.session() as s:
        item = s.get(Item, rich)
        assert item is not None
        for sent, kept in (("99", 2), ("-3", 0), ("two", 0), ("", 0), ("0", 0)):
            assert hints_seen({"hints_seen": sent}, item) == kept, sent
    no_hints = learner.answer(multi, choice=["0", "2"], hints_seen="5").json()
    assert _stored(learner, no_hints["event_id"]) == {"choices": [0, 2]}
    plain = learner.answer(learner.items[3], value="2").json()  # never sends the field
    assert "hints" not in _stored(learner, plain["event_id"])


def test_without_script_the_hint_links_carry_the_count_to_the_answer(learner: Learner) -> None:
    rich, other = learner.items[0], learner.items[3]
    page = learner.page().text
    assert 'name="hints_seen" value="0"' in _item_html(page, rich)
    page = learner.page(hints_for=rich, hints=2).text
    assert 'name="hints_seen" value="2"' in _item_html(page, rich)
    assert 'name="hints_seen" value="0"' in _item_html(page, other)
    # The answer form as the page has it, posted without JS.
    form = _item_html(page, rich).split('class="answer-form"')[1].split("</form>")[0]
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form))
    assert fields["hints_seen"] == "2"
    r = learner.browser.post(f"{learner.url}/answer", headers={"Referer": learner.url},
                             data={**fields, "choice": "0"}, allow_redirects=False)
    assert r.status_code == 303
    event_id = r.headers["Location"].split("answered=")[1].split("#")[0]
    assert _stored(learner, event_id) == {"choice": 0, "hints": 2}


def _hidden(form_html: str) -> dict[str, str]:
    return dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form_html))


def _form(page: str, item_id: int, kind: str) -> str:
    return _item_html(page, item_id).split(f'class="{kind}"')[1].split("</form>")[0]


def test_without_script_hints_open_on_two_questions_are_both_counted(learner: Learner) -> None:
    """Open a hint on one question, then on another, answer the first, then the second: each
    answer carries its own question's count, as it does with the script."""
    rich, numeric = learner.items[0], learner.items[3]
    page = learner.page(hints_for=rich, hints=1).text
    asked = _hidden(_form(page, numeric, "hint-form"))  # "Show a hint" on the second question
    assert asked["hints_for"] == str(numeric) and asked[f"h{rich}"] == "1"
    page = learner.page(**{k: v for k, v in asked.items() if k != "lt"}).text
    assert "HINT-ONE" in _item_html(page, rich) and "HINT-HALF" in _item_html(page, numeric)
    first = _hidden(_form(page, rich, "answer-form"))
    assert first["hints_seen"] == "1" and first[f"h{numeric}"] == "1"
    r = learner.browser.post(f"{learner.url}/answer", headers={"Referer": learner.url},
                             data={**first, "choice": "0"}, allow_redirects=False)
    assert r.status_code == 303 and f"h{numeric}=1" in r.headers["Location"]
    assert f"h{rich}=" not in r.headers["Location"]
    answered_rich = r.headers["Location"].split("answered=")[1].split("&")[0].split("#")[0]
    page = learner.browser.get(urljoin(learner.url, r.headers["Location"])).text
    second = _hidden(_form(page, numeric, "answer-form"))
    assert second["hints_seen"] == "1"
    r = learner.browser.post(f"{learner.url}/answer", headers={"Referer": learner.url},
                             data={**second, "value": "3.5"}, allow_redirects=False)
    answered_numeric = r.headers["Location"].split("answered=")[1].split("&")[0].split("#")[0]
    assert _stored(learner, answered_rich) == {"choice": 0, "hints": 1}
    assert _stored(learner, answered_numeric) == {"value": 3.5, "hints": 1}


def test_without_script_a_refused_answer_keeps_the_open_hints(learner: Learner) -> None:
    rich, numeric = learner.items[0], learner.items[3]
    page = learner.page(**{f"h{rich}": "2", "hints_for": str(numeric), "hints": "1"}).text
    form = _hidden(_form(page, numeric, "answer-form"))
    assert form["hints_seen"] == "1" and form[f"h{rich}"] == "2"
    again = learner.browser.post(f"{learner.url}/answer", headers={"Referer": learner.url},
                                 data={**form, "value": "seven"})
    assert again.status_code == 400
    assert "HINT-TWO" in _item_html(again.text, rich)
    assert "HINT-HALF" in _item_html(again.text, numeric)
    assert _hidden(_form(again.text, numeric, "answer-form"))["hints_seen"] == "1"


def test_odd_hint_counts_in_the_url_are_refused_with_their_reason(learner: Learner) -> None:
    rich = learner.items[0]
    # Not this page's fields, or an item not in the set: nothing to open, the page as usual.
    for params in ({"h": "2"}, {"hx": "2"}, {"h99999999": "3"}):
        assert learner.page(**params).status_code == 200, params
    # An id or a count that is not one: a 400 that names the field (issue 12: no more 500s
    # for "①", and no silent guess either).
    for params, field in (({f"h{rich}": "-1"}, f"h{rich}"), ({f"h{rich}": "x"}, f"h{rich}"),
                          ({f"h{rich}": "①"}, f"h{rich}"),
                          ({"hints_for": "abc", "hints": "2"}, "hints_for"),
                          ({"hints_for": str(rich), "hints": "z"}, "hints")):
        r = learner.browser.get(learner.url, params=params)
        assert r.status_code == 400, params
        assert f"The field {field} must be" in r.text and "Traceback" not in r.text
    page = learner.page(**{f"h{rich}": "999"}).text
    assert "HINT-TWO" in _item_html(page, rich)
    assert _hidden(_form(page, rich, "answer-form"))["hints_seen"] == "2"


def test_refused_answers_are_sentences_next_to_their_question(learner: Learner) -> None:
    multi, numeric = learner.items[1], learner.items[3]
    empty = learner.answer(multi)
    assert empty.status_code == 400
    assert empty.json()["error"] == "Please tick at least one option before submitting."
    assert learner.answer(numeric, value="seven").json()["error"] == "Please enter a number."

    # Without JS the page comes back with the message beside that question, focus on it.
    page = learner.answer(multi, as_json=False)
    assert page.status_code == 400 and "Traceback" not in page.text
    item = _item_html(page.text, multi)
    assert re.search(r'<p class="item-error" id="error-\d+"\s*>Please tick at least one option',
                     item)
    assert f'aria-describedby="q-{multi} error-{multi}"' in item
    assert item.count("autofocus") == 1
    for other in (learner.items[0], numeric):
        assert "autofocus" not in _item_html(page.text, other)
        assert re.search(r'class="item-error" id="error-\d+" hidden>', _item_html(page.text, other))
    assert 'id="page-error"' not in page.text

    # An answer for no question of this set has no question to sit beside: it goes on top.
    away = learner.answer(999_999, as_json=False, choice="0")
    assert away.status_code == 404
    top = away.text.split('id="page-error">')[1].split("</p>")[0]
    assert top == "That question is not part of this activity."
    assert "autofocus" not in away.text


def test_after_an_answer_the_verdict_once_then_a_quiet_line(learner: Learner) -> None:
    r = learner.answer(learner.items[0], as_json=False, choice="1")
    page = learner.browser.get(learner.world.metis.url + r.headers["Location"]).text
    shown = page.split('<script id="practice-config"')[0]  # the script's catalogue aside
    assert shown.count("Not quite.") == 1  # the card's heading, nothing else
    assert '<h2 id="answer-feedback-h">Not quite.</h2>' in shown
    # The feedback first, then the set (the student is on question 2 of 8): the line about
    # the next questions waits until the set is finished.
    assert shown.index('id="answer-feedback"') < shown.index('id="status"')
    status = shown.split('id="status"')[1].split("</p>")[0]
    assert "hidden" in status.split(">")[0]
    assert "Question 2 of 8" in shown
    # One polite live region for the verdict, kept out of sight.
    assert re.search(r'<p id="result" class="visually-hidden" role="status" aria-live="polite">',
                     shown)
    assert shown.count('role="status"') == 1
