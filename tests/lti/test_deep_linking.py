"""Deep linking round trip: the platform verifies Metis's response JWT against Metis's JWKS."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from lti_tool.db.models import Activity, Item, Launch, ResourceLink
from lti_tool.demo_platform import LaunchTweaks
from lti_tool.lti import claims as C
from tests.lti.conftest import LtiWorld
from tests.lti.flows import first_form, forms, login_and_launch, submit


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
