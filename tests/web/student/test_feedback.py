"""Feedback after an answer (JSON for the page's script, and the page after a plain form POST),
hints one at a time, and the new item kinds, over a real learner launch."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from lti_tool.core.db.models import Answer, Item, ItemBank
from tests.support.learner import Learner


def test_page_shows_every_kind_and_nothing_to_reveal_yet(learner: Learner) -> None:
    html = learner.page().text
    assert "<b>1 + 1</b>" in html  # item HTML rendered as markup, not escaped
    assert html.count('type="checkbox" name="choice"') == 3  # multiresponse
    assert "Tick every right answer." in html
    tf = html.split(f'id="item-{learner.items[2]}"')[1].split("</li>")[0]
    assert tf.count('type="radio" name="choice"') == 2 and ">True<" in tf and ">False<" in tf
    assert 'inputmode="decimal" name="value"' in html and 'name="text"' in html
    assert html.count("<fieldset") == 8 and html.count("<legend>Question") == 8  # set_size
    assert "Show a hint" in html
    # Nothing that belongs after the answer (or to a hint not asked for) is in the page.
    for secret in ("RIGHT-FB", "WRONG-FB", "CHOICE1-FB", "GENERAL-FB", "SOLUTION-TEXT",
                   "TF-SOLUTION", "HINT-ONE", "HINT-TWO", "accepted", "tolerance"):
        assert secret not in html, secret
    state = learner.browser.get(f"{learner.url}/state").json()
    assert {i["kind"] for i in state["items"]} == {
        "multichoice", "multiresponse", "truefalse", "numeric", "shortanswer"}
    by_id = {i["item_id"]: i for i in state["items"]}
    assert by_id[learner.items[0]]["hints"] == 2
    assert "SOLUTION-TEXT" not in str(state) and "HINT-ONE" not in str(state)


def test_json_answer_brings_feedback_and_solution(learner: Learner) -> None:
    wrong = learner.answer(learner.items[0], choice="1")
    assert wrong.status_code == 202, wrong.text
    body = wrong.json()
    assert body["correct"] is False and body["message"] == "Not quite." and body["final"]
    joined = " ".join(body["feedback"])
    assert "WRONG-FB" in joined and "GENERAL-FB" in joined and "RIGHT-FB" not in joined
    assert "CHOICE1-FB" in joined  # the feedback of the option chosen (Grade.feedback)
    assert "SOLUTION-TEXT" in body["solution"] and "<b>1 + 1</b>" in body["question"]
    # As Moodle's review: the student's answer and the right one.
    assert body["your_answer"] == ["3"] and body["right_answers"] == ["2"]
    again = learner.answer(learner.items[0], choice="0")  # one try (the default): graded once
    assert again.status_code == 409 and "already answered" in again.json()["error"]


def test_with_more_tries_a_hint_between_and_the_answer_at_the_end(learner: Learner) -> None:
    """Moodle's "interactive with multiple tries": a wrong try shows its own feedback and the
    next hint, never the right answer or the solution; the question stays open."""
    learner.settings(tries=3)
    item = learner.items[0]
    first = learner.answer(item, choice="1").json()
    assert first["final"] is False and first["tries_left"] == 2
    assert first["message"] == "Not quite. Try again."
    assert "HINT-ONE" in first["hint"] and first["right_answers"] == []
    assert first["solution"] == "" and "WRONG-FB" not in str(first)
    assert "CHOICE1-FB" in " ".join(first["feedback"])
    state = learner.browser.get(f"{learner.url}/state").json()
    shown = {i["item_id"]: i for i in state["items"]}[item]
    assert shown["answered"] is None and shown["tries_left"] == 2
    right = learner.answer(item, choice="0").json()
    assert right["correct"] is True and right["final"] is True and right["message"] == "Correct!"
    assert "RIGHT-FB" in " ".join(right["feedback"]) and "SOLUTION-TEXT" in right["solution"]
    assert right["right_answers"] == ["2"]
    assert learner.answer(item, choice="0").status_code == 409  # closed: right
    # Without script: the page after a try says how many are left and shows the hint.
    other = learner.items[3]
    r = learner.answer(other, as_json=False, value="0")
    page = learner.browser.get(learner.world.metis.url + r.headers["Location"]).text
    reveal = page.split('id="answer-feedback"')[1].split("</section>")[0]
    assert "Try again: 2 more tries." in reveal and 'data-final="false"' in reveal
    for _ in range(2):
        last = learner.answer(other, value="0").json()
    assert last["final"] is True and last["tries_left"] == 0 and last["right_answers"]
    assert learner.answer(other, value="0").status_code == 409  # closed: tries used up


def test_without_script_the_next_page_shows_the_feedback(learner: Learner) -> None:
    r = learner.answer(learner.items[0], as_json=False, choice="1")
    assert r.status_code == 303
    where = urlsplit(r.headers["Location"])
    assert where.fragment == "answer-feedback"
    event_id = parse_qs(where.query)["answered"][0]
    page = learner.browser.get(learner.world.metis.url + r.headers["Location"]).text
    reveal = page.split('id="answer-feedback"')[1].split("</section>")[0]
    assert "Not quite." in reveal and "WRONG-FB" in reveal and "GENERAL-FB" in reveal
    assert "CHOICE1-FB" in reveal and "Worked solution" in reveal and "SOLUTION-TEXT" in reveal
    # Another student's answer in the same activity is never revealed through the URL.
    with learner.world.db.session() as s:
        mine = s.scalars(select(Answer).where(Answer.event_id == event_id)).one()
        theirs = Answer(user_id=learner.course.user_ids[1], activity_id=mine.activity_id,
                        item_id=mine.item_id, response={"choice": 0}, correct=True)
        s.add(theirs)
        s.flush()
        other_event = theirs.event_id
    other = learner.page(answered=other_event).text
    assert 'id="answer-feedback"' not in other and "SOLUTION-TEXT" not in other
    assert 'id="answer-feedback"' not in learner.page(answered="no-such-event").text


def test_hints_one_at_a_time_and_only_hints(learner: Learner) -> None:
    hint_url = f"{learner.url}/items/{learner.items[0]}/hint"
    first = learner.browser.get(hint_url, params={"n": 0})
    assert first.status_code == 200
    assert first.json() == {"n": 0, "hint": "<p>HINT-ONE count on your fingers</p>",
                            "total": 2, "more": True}
    second = learner.browser.get(hint_url, params={"n": 1}).json()
    assert "HINT-TWO" in second["hint"] and second["more"] is False
    for leak in ("SOLUTION", "FB", "answer"):
        assert leak not in first.text + str(second)
    past = learner.browser.get(hint_url, params={"n": 2})
    assert past.status_code == 404 and past.json()["error"] == "This question has no more hints."
    # A count that is not one is refused with its reason (it used to be read as 0).
    odd = learner.browser.get(hint_url, params={"n": "x"}, headers={"Accept": "application/json"})
    assert odd.status_code == 400 and "The field n must be a whole number" in odd.json()["error"]
    none = learner.browser.get(f"{learner.url}/items/{learner.items[1]}/hint")
    assert none.status_code == 404
    # An item of another bank (another course) is not reachable through this launch.
    with learner.world.db.session() as s:
        bank = ItemBank(name="elsewhere")
        s.add(bank)
        s.flush()
        foreign = Item(bank_id=bank.id, kind="multichoice", text="x", choices=["a"],
                       answer={"choice": 0}, hints=["<p>FOREIGN-HINT</p>"])
        s.add(foreign)
        s.flush()
        foreign_id = foreign.id
    away = learner.browser.get(f"{learner.url}/items/{foreign_id}/hint", params={"n": 0})
    assert away.status_code == 404 and "FOREIGN-HINT" not in away.text
    assert "not part of this activity" in away.json()["error"]
    assert learner.world.browser().get(hint_url).status_code == 403  # not this browser's launch


def test_hints_without_script(learner: Learner) -> None:
    item = learner.items[0]
    page = learner.page(hints_for=item, hints=1).text
    assert "HINT-ONE" in page and "HINT-TWO" not in page and "Hint 1 of 2:" in page
    assert 'name="hints" value="2"' in page  # the button now asks for the next one
    page = learner.page(hints_for=item, hints=2).text
    assert "HINT-TWO" in page and "Show a hint" not in page.split(f'id="item-{item}"')[1] \
        .split("</li>")[0]
    assert "SOLUTION-TEXT" not in page


def test_multiresponse_and_truefalse_round_trip(learner: Learner) -> None:
    learner.settings(tries=3)
    multi, tf = learner.items[1], learner.items[2]
    empty = learner.answer(multi)
    assert empty.status_code == 400 and empty.json()["error"]
    assert learner.answer(multi, choice=["0"]).json()["correct"] is False
    assert learner.answer(multi, choice=["0", "1", "2"]).json()["correct"] is False
    both = learner.answer(multi, choice=["0", "2"]).json()
    assert both["correct"] is True and "MULTI-GENERAL" in " ".join(both["feedback"])
    assert learner.answer(tf, choice="7").status_code == 400
    wrong = learner.answer(tf, choice="1").json()
    assert wrong["correct"] is False and wrong["solution"] == ""  # tries left: not yet
    right = learner.answer(tf, choice="0").json()
    assert right["correct"] is True and "TF-SOLUTION" in right["solution"]
    with learner.world.db.session() as s:
        stored = s.scalars(select(Answer).where(Answer.user_id == learner.user_id,
                                                Answer.item_id == multi)
                           .order_by(Answer.id)).all()
        assert [a.correct for a in stored] == [False, False, True]
    page = learner.page(answered=both["event_id"]).text
    assert "MULTI-GENERAL" in page.split('id="answer-feedback"')[1]


def test_bad_answers_get_a_clear_4xx(learner: Learner) -> None:
    r = learner.answer(learner.items[3], value="seven")
    assert r.status_code == 400 and "number" in r.json()["error"]
    r = learner.answer(999_999, choice="0")
    assert r.status_code == 404
    assert r.json()["error"] == "That question is not part of this activity."
    page = learner.answer(999_999, as_json=False, choice="0")
    assert page.status_code == 404 and "not part of this activity" in page.text
    assert "Traceback" not in page.text


def test_a_partly_right_answer_says_so_and_counts_its_share(learner: Learner) -> None:
    """Partial credit (a Moodle fraction between 0 and 100): "partly right" on the page, with
    its share of the marks, never "Not quite."; stored with the answer for the score."""
    short, other = learner.items[4], learner.items[5]
    with learner.world.db.session() as s:
        for item_id in (short, other):
            item = s.get(Item, item_id)
            assert item is not None
            item.kind, item.choices = "shortanswer", []
            item.answer = {"accepted": ["addition"],
                           "partial": [{"match": "add*", "credit": 0.5}]}
            item.feedback = {"partial": "<p>PARTIAL-FB</p>", "incorrect": "<p>WRONG-FB</p>"}
    body = learner.answer(short, text="adding").json()
    assert body["correct"] is False and body["partial"] is True and body["credit"] == 0.5
    assert body["message"] == "Partly right." and body["credit_pct"] == 50
    assert "PARTIAL-FB" in " ".join(body["feedback"]) and "WRONG-FB" not in str(body)
    assert body["your_answer"] == ["adding"] and body["right_answers"] == ["addition"]
    r = learner.answer(other, as_json=False, text="adds")
    page = learner.browser.get(learner.world.metis.url + r.headers["Location"]).text
    reveal = page.split('id="answer-feedback"')[1].split("</section>")[0]
    assert 'class="reveal partial"' in page and "Partly right: 50% of the marks." in reveal
    assert "Not quite." not in reveal and "PARTIAL-FB" in reveal
    with learner.world.db.session() as s:
        credits = [(a.correct, a.credit) for a in s.scalars(
            select(Answer).where(Answer.user_id == learner.user_id).order_by(Answer.id))]
    assert credits == [(False, 0.5), (False, 0.5)]
    learner.settings(grading=None)  # the share of right answers: two halves make one
    assert "1 of 2 answers right so far." in learner.page().text
