"""Deep linking round trip: the platform verifies Metis's response JWT against Metis's JWKS;
the content selection form carries every activity setting into the Activity and the line item."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from lti_tool.core.db.models import Activity, Item, ItemBank, Launch, ResourceLink, Skill
from lti_tool.core.itembank.demo_bank import DEMO_BANK_NAME
from lti_tool.devkit.demo_lms import LaunchTweaks
from lti_tool.devkit.lti_client import Form, first_form, forms, login_and_launch, submit
from lti_tool.lti import claims as C
from tests.support.lti_world import LtiWorld


def _selection_page(world: LtiWorld, user: str = "201") -> tuple[object, str]:
    browser = world.browser()
    r = login_and_launch(browser, world.platform.url, user=user, deep_link=True)
    assert r.status_code == 303, r.text
    return browser, urljoin(world.metis.url, r.headers["Location"])


def test_deep_linking_round_trip(lti_world: LtiWorld) -> None:
    browser, location = _selection_page(lti_world)
    assert "/lti/deep-link/" in location
    page = browser.get(location)  # type: ignore[attr-defined]
    assert page.status_code == 200 and "Add a practice activity" in page.text
    form = first_form(page.text, location)
    assert form.fields["csrf_token"]
    answer = submit(browser, form, title="Times tables <b>", points="25", bank="demo")  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    back = first_form(answer.text)
    assert back.action == f"{lti_world.platform.url}/deep_link_return"
    created = submit(browser, back)  # type: ignore[arg-type]
    assert created.status_code == 200, created.text
    assert "Times tables &lt;b&gt;" in created.text

    claims = lti_world.store.deep_link_responses[-1]
    assert claims["iss"] == lti_world.store.client_id
    assert claims[C.MESSAGE_TYPE] == C.DEEP_LINKING_RESPONSE
    item = claims[C.DL_CONTENT_ITEMS][0]
    with lti_world.db.session() as s:
        activity = s.scalar(select(Activity).order_by(Activity.id.desc()))
        assert activity is not None and activity.points == 25 and activity.bank_id
        assert s.scalar(select(Item).where(Item.bank_id == activity.bank_id)) is not None
    assert item["custom"] == {"activity_id": str(activity.id)}
    assert item["lineItem"] == {
        "scoreMaximum": 25.0,
        "label": "Times tables <b>",
        "resourceId": str(activity.id),
    }
    # The new link launches into the activity, and its line item is known to Metis.
    link = next(iter(lti_world.store.links.values()))
    r = login_and_launch(lti_world.browser(), lti_world.platform.url, user="101", link=link.id)
    assert r.status_code == 303
    with lti_world.db.session() as s:
        launch = s.scalar(select(Launch).order_by(Launch.id.desc()))
        assert launch is not None
        rl = s.get(ResourceLink, launch.resource_link_id)
        assert rl is not None and rl.activity_id == activity.id and rl.lineitem_url


def test_a_plain_launch_cannot_select_content(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Practice")
    browser = lti_world.browser()
    r = login_and_launch(browser, lti_world.platform.url, user="201", link=link.id)
    assert r.status_code == 303, r.text
    launch_id = r.headers["Location"].rsplit("/", 1)[1]
    page = browser.get(f"{lti_world.metis.url}/lti/deep-link/{launch_id}")
    assert page.status_code == 400
    assert "not a content selection (deep linking) request" in page.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deep_linking_needs_instructor_and_csrf(lti_world: LtiWorld) -> None:
    browser, location = _selection_page(lti_world, user="101")
    r = browser.get(location)  # type: ignore[attr-defined]
    assert r.status_code == 403 and "instructor" in r.text
    browser, location = _selection_page(lti_world)
    form = first_form(browser.get(location).text, location)  # type: ignore[attr-defined]
    no_token = {k: v for k, v in form.fields.items() if k != "csrf_token"}
    r = browser.post(  # type: ignore[attr-defined]
        location, data={**no_token, "title": "x"}, headers={"Referer": location}
    )
    assert r.status_code == 400 and "CSRF" in r.text
    bad = submit(browser, form, title="", points="5", bank="demo")  # type: ignore[arg-type]
    assert bad.status_code == 400 and "Please give the activity a title" in bad.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_return_url_is_escaped(lti_world: LtiWorld) -> None:
    evil = f'{lti_world.platform.url}/deep_link_return?x="><script>alert(1)</script>'
    lti_world.store.next_launch(
        LaunchTweaks(
            set_claims={
                C.DL_SETTINGS: {
                    "accept_types": ["ltiResourceLink"],
                    "accept_presentation_document_targets": ["iframe"],
                    "deep_link_return_url": evil,
                }
            }
        )
    )
    browser, location = _selection_page(lti_world)
    form = first_form(browser.get(location).text, location)  # type: ignore[attr-defined]
    answer = submit(browser, form, title="T", points="5", bank="demo")  # type: ignore[arg-type]
    assert "<script>alert(1)</script>" not in answer.text
    assert forms(answer.text)[0].action == evil  # the browser still posts to the exact URL


def _settings_form(browser: object, location: str) -> Form:
    """The content selection form as a browser would send it with no box ticked (the flows'
    parser takes every checkbox's value, ticked or not)."""
    form = first_form(browser.get(location).text, location)  # type: ignore[attr-defined]
    form.fields = {k: v for k, v in form.fields.items() if k not in ("skills", "categories")}
    return form


def _demo_skills(world: LtiWorld) -> dict[str, int]:
    with world.db.session() as s:
        rows = s.execute(
            select(Skill.name, Skill.id).join(ItemBank, ItemBank.id == Skill.bank_id)
            .where(ItemBank.name == DEMO_BANK_NAME)
        )
        return {name: skill_id for name, skill_id in rows}


def _activities(world: LtiWorld) -> int:
    with world.db.session() as s:
        return len(list(s.scalars(select(Activity.id))))


def test_deep_linking_carries_every_setting(lti_world: LtiWorld) -> None:
    browser, location = _selection_page(lti_world)
    form = _settings_form(browser, location)
    page = browser.get(location).text  # type: ignore[attr-defined]
    for label in ("Maximum points", "Due date", "Questions per practice set",
                  "Target success rate", "mastered from", "Completion goal"):
        assert label in page
    skills = _demo_skills(lti_world)
    assert len(skills) >= 2 and f'value="{min(skills.values())}"' in page  # listed to tick
    chosen = sorted(skills.values())[:2]
    answer = submit(
        browser, form,  # type: ignore[arg-type]
        title="Week 3", points="40", bank="demo", skills=[str(k) for k in chosen],
        set_size="7", band_low="50", band_high="75", mastery_threshold="85",
        due="2027-01-15", grading="completion", goal="12", tries="3",
    )
    assert answer.status_code == 200, answer.text
    created = submit(browser, first_form(answer.text))  # type: ignore[arg-type]
    assert created.status_code == 200, created.text

    item = lti_world.store.deep_link_responses[-1][C.DL_CONTENT_ITEMS][0]
    with lti_world.db.session() as s:
        activity = s.scalars(select(Activity)).one()
        bank = s.get(ItemBank, activity.bank_id)
        assert bank is not None and bank.name == DEMO_BANK_NAME
        assert activity.title == "Week 3" and activity.points == 40
        assert activity.settings == {
            "version": 2, "set_size": 7, "band": [0.5, 0.75], "mastery_threshold": 0.85,
            "skills": chosen, "categories": [], "due": "2027-01-15",
            "grading": "completion", "goal": 12, "tries": 3,
        }
    assert item["lineItem"] == {
        "scoreMaximum": 40.0,
        "label": "Week 3",
        "resourceId": str(activity.id),
        "endDateTime": "2027-01-15T23:59:59Z",
    }
    assert item["submission"] == {"endDateTime": "2027-01-15T23:59:59Z"}
    # The platform made the gradebook column from it.
    link = next(iter(lti_world.store.links.values()))
    assert link.lineitem_id is not None
    column = lti_world.store.lineitems[link.lineitem_id]
    assert (column.label, column.score_maximum) == ("Week 3", 40.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wrong_settings_are_named_per_field_and_create_nothing(lti_world: LtiWorld) -> None:
    browser, location = _selection_page(lti_world)
    form = _settings_form(browser, location)
    bad = submit(
        browser, form,  # type: ignore[arg-type]
        title="Quiz", points="0", bank="demo", set_size="50", band_low="90", band_high="60",
        mastery_threshold="30", due="next week", grading="average", goal="-3", tries="9",
    )
    assert bad.status_code == 400
    for message in (
        "Maximum points must be more than 0 and at most 1000.",
        "Questions per set must be a whole number from 1 to 20.",
        "with the lower end below the upper end",
        "The mastery level must be between 50% and 99%.",
        "The due date must be a date like 2026-12-31, or left empty.",
        "Please choose how the activity is graded.",
        "The completion goal must be a whole number from 1 to 1000.",
        "Tries per question must be a whole number from 1 to 3.",
    ):
        assert message in bad.text
    assert 'aria-invalid="true"' in bad.text and 'value="Quiz"' in bad.text  # kept as typed
    assert _activities(lti_world) == 0

    # Skills of another bank of the course, and a bank of another course, are refused too.
    with lti_world.db.session() as s:
        launch = s.scalar(select(Launch).where(Launch.launch_id == location.rsplit("/", 1)[1]))
        assert launch is not None and launch.context_id is not None
        other = ItemBank(platform_id=launch.platform_id, context_id=launch.context_id,
                         name="Geometry")
        elsewhere = ItemBank(platform_id=launch.platform_id, context_id=None, name="Not here")
        s.add_all([other, elsewhere])
        s.flush()
        angle = Skill(bank_id=other.id, name="angles")
        s.add(angle)
        s.flush()
        angle_id, elsewhere_id = angle.id, elsewhere.id
    page = browser.get(location).text  # type: ignore[attr-defined]
    assert "Skills in Geometry" in page and f'value="{angle_id}"' in page
    wrong_bank = submit(browser, form, title="Quiz", bank="demo",  # type: ignore[arg-type]
                        skills=[str(angle_id)])
    assert wrong_bank.status_code == 400
    assert "Some chosen skills are not in the chosen item bank" in wrong_bank.text
    foreign = submit(browser, form, title="Quiz", bank=str(elsewhere_id))  # type: ignore[arg-type]
    assert foreign.status_code == 400
    assert "That item bank is not available in this course." in foreign.text
    assert _activities(lti_world) == 0
