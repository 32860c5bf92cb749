"""ActivitySettings: the teacher's form parsed field by field, stored on the Activity row and
read back, and the skill/category filter the workers apply to the bank."""

from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from lti_tool.core.activities import (
    ActivitySettings,
    SettingsInvalid,
    blank_form,
    from_activity,
    item_in_scope,
    parse_form,
)
from lti_tool.core.db.models import Activity

GOOD = {
    "title": "  Fractions practice ",
    "bank": "demo",
    "points": "25",
    "set_size": "8",
    "band_low": "55",
    "band_high": "85",
    "mastery_threshold": "90",
    "due": "2026-12-31",
    "grading": "best_set",
    "goal": "30",
    "tries": "2",
}


def form(**changes: str | list[str]) -> MultiDict[str, str]:
    data: MultiDict[str, str] = MultiDict()
    for key, value in {**GOOD, **changes}.items():
        for v in value if isinstance(value, list) else [value]:
            data.add(key, v)
    return data


def test_a_complete_form_gives_every_setting() -> None:
    got = parse_form(form(skills=["4", "2", "4"], categories=["Top/Fractions", ""]))
    assert got == ActivitySettings(
        title="Fractions practice", bank="demo", points=25.0, skills=(4, 2),
        categories=("Top/Fractions",), set_size=8, band=(0.55, 0.85), mastery_threshold=0.9,
        due=date(2026, 12, 31), grading="best_set", goal=30, tries=2,
    )
    assert got.end_date_time == "2026-12-31T23:59:59Z"
    assert got.settings_json() == {
        "version": 2, "set_size": 8, "band": [0.55, 0.85], "mastery_threshold": 0.9,
        "skills": [4, 2],
        "categories": ["Top/Fractions"], "due": "2026-12-31", "grading": "best_set", "goal": 30,
        "tries": 2,
    }


def test_the_blank_form_parses_to_the_defaults_once_titled() -> None:
    blank = blank_form()
    assert blank["title"] == "" and blank["bank"] == "demo"
    data: MultiDict[str, str] = MultiDict({k: v for k, v in blank.items()
                                           if isinstance(v, str)})
    data["title"] = "Practice"
    got = parse_form(data)
    assert got == ActivitySettings(title="Practice", bank="demo")
    assert got.band == (0.6, 0.8) and got.mastery_threshold == 0.8 and got.set_size == 5
    assert got.grading == "mastery" and got.goal == 20 and got.due is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": " "}, "title", "Please give the activity a title."),
        ({"title": "x" * 256}, "title", "longer than 255"),
        ({"bank": "../1"}, "bank", "Please choose an item bank."),
        ({"points": "ten"}, "points", "Maximum points must be a number."),
        ({"points": "nan"}, "points", "Maximum points must be a number."),
        ({"points": "0"}, "points", "more than 0 and at most 1000"),
        ({"points": "1000.5"}, "points", "more than 0 and at most 1000"),
        ({"skills": ["3", "x"]}, "skills", "not valid"),
        ({"set_size": "0"}, "set_size", "whole number from 1 to 20"),
        ({"set_size": "21"}, "set_size", "whole number from 1 to 20"),
        ({"set_size": "2.5"}, "set_size", "whole number from 1 to 20"),
        ({"band_low": "80", "band_high": "60"}, "band_low", "lower end below the upper end"),
        ({"band_low": "4"}, "band_low", "between 5% and 95%"),
        ({"band_high": "96"}, "band_low", "between 5% and 95%"),
        ({"band_high": ""}, "band_high", "must be a number"),
        ({"mastery_threshold": "49"}, "mastery_threshold", "between 50% and 99%"),
        ({"mastery_threshold": "100"}, "mastery_threshold", "between 50% and 99%"),
        ({"due": "31/12/2026"}, "due", "a date like 2026-12-31"),
        ({"due": "2026-02-30"}, "due", "a date like 2026-12-31"),
        ({"grading": "average"}, "grading", "how the activity is graded"),
        ({"goal": "0"}, "goal", "whole number from 1 to 1000"),
    ],
)
def test_each_wrong_field_gets_its_own_message(
    changes: dict[str, str | list[str]], field: str, message: str
) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        parse_form(form(**changes))
    assert list(caught.value.errors) == [field]
    assert message in caught.value.errors[field]
    assert message in str(caught.value)


def test_several_mistakes_are_reported_together() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        parse_form(form(title="", points="-1", goal="many"))
    assert set(caught.value.errors) == {"title", "points", "goal"}


def test_stored_settings_read_back_into_the_same_form() -> None:
    choice = parse_form(form(skills=["7"], bank="12"))
    activity = Activity(title="old", points=1.0, settings={"kept": "by other tools"})
    choice.apply_to(activity, bank_id=12)
    assert activity.title == "Fractions practice" and activity.points == 25.0
    assert activity.bank_id == 12 and activity.settings["kept"] == "by other tools"
    again = from_activity(activity)
    assert again == choice
    assert again.form_values()["band_low"] == "55" and again.form_values()["points"] == "25"
    assert from_activity(activity, demo=True).bank == "demo"


def test_an_activity_from_before_the_settings_form_reads_as_the_defaults() -> None:
    old = Activity(title="Practice", points=10.0, bank_id=3,
                   settings={"set_size": 3, "band": "wrong", "grading": "unknown"})
    got = from_activity(old)
    assert got == ActivitySettings(title="Practice", bank="3", points=10.0, set_size=3)


@pytest.mark.parametrize(
    ("item_skills", "category", "skills", "categories", "expected"),
    [
        ((1, 2), "Top", [], [], True),  # nothing chosen: the whole bank
        ((1, 2), "Top", [2, 5], [], True),  # one chosen skill is enough
        ((1,), "Top", [2], [], False),
        ((), "Top", [2], [], False),  # an item without skills is out when skills are chosen
        ((1,), "Top/Fractions", [], ["Top/Fractions"], True),
        ((1,), "Top/Fractions/Adding", [], ["Top/Fractions"], True),  # below a chosen one
        ((1,), "Top/Fractions-old", [], ["Top/Fractions"], False),  # a prefix is not a parent
        ((1,), "Top/Decimals", [], ["Top/Fractions", "Top/Decimals/"], True),
        ((1,), "Top/Fractions", [9], ["Top/Fractions"], False),  # both must hold
    ],
)
def test_items_in_scope(
    item_skills: tuple[int, ...], category: str, skills: list[int], categories: list[str],
    expected: bool,
) -> None:
    assert item_in_scope(item_skills, category, skills, categories) is expected


@pytest.mark.parametrize("field", ["set_size", "goal", "bank", "skills"])
def test_digits_that_are_not_ascii_get_a_message_not_a_crash(field: str) -> None:
    # "²".isdigit() is True but int("²") raises: the form must say so instead of a 500.
    value: str | list[str] = ["²"] if field == "skills" else "²"
    with pytest.raises(SettingsInvalid) as caught:
        parse_form(form(**{field: value}))
    assert field in caught.value.errors
