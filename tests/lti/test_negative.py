"""One test per refused launch of docs/lti-security.md: a 4xx with the reason, never a 500.

Every bad token is produced by the demo platform's real signing path, bent by LaunchTweaks.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from lti_tool.core.db.models import Deployment
from lti_tool.devkit.demo_lms import LaunchTweaks
from lti_tool.devkit.lti_client import (
    first_form,
    follow_cookie_check,
    login_and_launch,
    submit,
)
from lti_tool.lti import claims as C
from lti_tool.lti.login import STATE_COOKIE_PREFIX
from tests.support.lti_world import LtiWorld

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _refused(world: LtiWorld, tweaks: LaunchTweaks, *, user: str = "101") -> tuple[int, str]:
    link = world.store.add_link("Practice", score_maximum=10)
    world.store.next_launch(tweaks)
    r = login_and_launch(world.browser(), world.platform.url, user=user, link=link.id)
    return r.status_code, r.text


CASES: list[tuple[str, dict[str, Any], str]] = [
    ("no kid", {"header": {}}, "no kid"),
    ("unknown kid", {"sign_with_other_key": True, "kid": "not-published"}, "not in the platform"),
    ("signed by another key", {"sign_with_other_key": True}, "bad signature"),
    ("not a JWT", {"raw_id_token": "this.is-not.a-jwt"}, "not an LTI 1.3 JWT"),
    ("plain OIDC token", {"drop_claims": [C.VERSION, C.MESSAGE_TYPE]}, "not an LTI 1.3 JWT"),
    ("version 1.1", {"set_claims": {C.VERSION: "1.1.0"}}, "not supported (1.3.0 required)"),
    ("no version", {"drop_claims": [C.VERSION]}, "no LTI version"),
    ("no deployment_id", {"drop_claims": [C.DEPLOYMENT_ID]}, "no deployment_id"),
    ("no message_type", {"drop_claims": [C.MESSAGE_TYPE]}, "no message_type"),
    ("unknown message_type", {"set_claims": {C.MESSAGE_TYPE: "LtiFoo"}}, "not supported"),
    ("no roles", {"drop_claims": [C.ROLES]}, "no roles"),
    ("no resource_link.id", {"set_claims": {C.RESOURCE_LINK: {"title": "x"}}}, "resource_link.id"),
    ("no sub", {"drop_claims": ["sub"]}, "no sub"),
    ("no exp", {"exp_in_s": None}, "no exp claim"),
    ("no iat", {"omit_iat": True}, "no iat claim"),
    ("expired", {"iat_offset_s": -200, "exp_in_s": 60}, "expired"),
    ("iat too old", {"iat_offset_s": -1000, "exp_in_s": 2000}, "too old"),
    ("iat in the future", {"iat_offset_s": 600}, "not valid yet"),
    ("state mismatch", {"state": "forged-state"}, "state mismatch"),
    ("unknown issuer", {"set_claims": {"iss": "https://evil.example"}}, "unknown issuer"),
    (
        "wrong aud",
        {"set_claims": {"aud": "someone-else"}, "drop_claims": ["azp"]},
        "unknown client_id",
    ),
    (
        "several aud, no azp",
        {"set_claims": {"aud": ["metis-client", "x"]}, "drop_claims": ["azp"]},
        "no azp",
    ),
    (
        "azp not ours",
        {"set_claims": {"aud": ["metis-client", "x"], "azp": "x"}},
        "unknown client_id",
    ),
    ("azp not in aud", {"set_claims": {"azp": "other"}}, "is not among the audiences"),
    ("nonce not of this login", {"set_claims": {"nonce": "another-nonce"}}, "nonce"),
]


@pytest.mark.parametrize(("case", "tweaks", "reason"), CASES, ids=[c[0] for c in CASES])
def test_refused_launch(
    lti_world: LtiWorld, case: str, tweaks: dict[str, Any], reason: str, caplog: Any
) -> None:
    status, text = _refused(lti_world, LaunchTweaks(**tweaks))
    assert 400 <= status < 500, (case, status, text[:500])
    assert reason in text, (case, text[:800])
    assert any(reason in r.getMessage() for r in caplog.records if r.name == "metis.lti")


def test_replayed_token(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Practice")
    browser = lti_world.browser()
    r = browser.get(f"{lti_world.platform.url}/launch", params={"user": "101", "link": link.id})
    r = follow_cookie_check(browser, submit(browser, first_form(r.text)))
    auth = browser.get(r.headers["Location"], allow_redirects=False)
    form = first_form(auth.text)
    assert submit(browser, form).status_code == 303
    again = submit(browser, form)
    assert again.status_code == 400 and "replayed token" in again.text


def test_unknown_deployment_recorded_inactive(lti_world: LtiWorld) -> None:
    status, text = _refused(lti_world, LaunchTweaks(set_claims={C.DEPLOYMENT_ID: "77"}))
    assert status == 403 and "deployment &#39;77&#39;" in text
    assert f"metis deployment approve --platform {lti_world.platform_pk} 77" in text
    with lti_world.db.session() as s:
        row = s.scalar(select(Deployment).where(Deployment.deployment_id == "77"))
        assert row is not None and row.active is False


def test_inactive_deployment_refused(lti_world: LtiWorld) -> None:
    with lti_world.db.session() as s:
        s.execute(update(Deployment).values(active=False))
    status, text = _refused(lti_world, LaunchTweaks())
    assert status == 403 and "not active" in text


def test_login_unknown_issuer_and_client(lti_world: LtiWorld) -> None:
    browser = lti_world.browser()
    url = f"{lti_world.metis.url}/lti/login"
    r = browser.post(url, data={"iss": "https://nowhere.example", "login_hint": "1"})
    assert r.status_code == 400 and "unknown issuer" in r.text
    r = browser.post(
        url, data={"iss": lti_world.store.issuer, "login_hint": "1", "client_id": "nope"}
    )
    assert r.status_code == 400 and "unknown client_id" in r.text
    r = browser.post(url, data={"iss": lti_world.store.issuer})
    assert r.status_code == 400 and "login_hint" in r.text
    r = browser.post(
        url,
        data={
            "iss": lti_world.store.issuer,
            "login_hint": "1",
            "target_link_uri": "https://evil.example/x",
        },
    )
    assert r.status_code == 400 and "not on this tool" in r.text


def test_plain_http_refused(lti_world: LtiWorld) -> None:
    client = lti_world.app.test_client()  # the test client speaks plain HTTP
    r = client.post("/lti/login", data={"iss": lti_world.store.issuer, "login_hint": "1"})
    assert r.status_code == 403 and b"plain HTTP refused" in r.data
    r = client.post("/lti/launch", data={"id_token": "x", "state": "y"})
    assert r.status_code == 403 and b"plain HTTP refused" in r.data


def test_launch_without_id_token(lti_world: LtiWorld) -> None:
    r = lti_world.browser().post(f"{lti_world.metis.url}/lti/launch", data={"state": "s"})
    assert r.status_code == 400 and "no id_token" in r.text


def _block_state_cookies(browser: Any) -> None:
    """What a browser that blocks third-party cookies does inside the course page's iframe:
    Metis's login cookie is not kept (the platform's own session cookie is)."""
    for cookie in list(browser.cookies):
        if cookie.name.startswith(STATE_COOKIE_PREFIX):
            browser.cookies.clear(cookie.domain, cookie.path, cookie.name)


def test_missing_cookie_at_login_restarts_it_in_a_new_window(lti_world: LtiWorld) -> None:
    store = lti_world.store
    link = store.add_link("Practice")
    browser = lti_world.browser()
    r = browser.get(f"{lti_world.platform.url}/launch", params={"user": "101", "link": link.id})
    platform_form = first_form(r.text)
    login = submit(browser, platform_form)
    assert login.status_code == 302 and "/lti/login/check?state=" in login.headers["Location"]
    _block_state_cookies(browser)
    check_url = lti_world.metis.url + login.headers["Location"]
    r = browser.get(check_url, allow_redirects=False)
    assert r.status_code == 200 and "Open in a new window" in r.text
    # Found out before the platform saw the login: its one-time hint is still unused.
    assert store.auth_requests == []
    reopen = first_form(r.text)
    assert reopen.action == f"{lti_world.metis.url}/lti/login"
    assert reopen.fields == platform_form.fields  # the platform's login, hint and all
    # The state of the login that could not finish is gone.
    again = browser.get(check_url, allow_redirects=False)
    assert again.status_code == 400 and "state mismatch" in again.text
    # The button: the same login in a top-level window, where the cookie is kept.
    r = follow_cookie_check(browser, submit(browser, reopen))
    assert r.status_code == 302 and r.headers["Location"].startswith(lti_world.platform.url)
    auth = browser.get(r.headers["Location"], allow_redirects=False)
    launched = submit(browser, first_form(auth.text))
    assert launched.status_code == 303 and "/student/" in launched.headers["Location"]
    assert [accepted for _, accepted in store.auth_requests] == [True]
    # What the old new-window page did, replaying the used hint: the platform refuses it.
    replay = browser.get(r.headers["Location"], allow_redirects=False)
    assert replay.status_code == 400 and "Invalid request" in replay.text


def test_cookieless_launch_with_platform_storage(lti_world: LtiWorld) -> None:
    link = lti_world.store.add_link("Practice")
    browser = lti_world.browser()
    r = browser.get(
        f"{lti_world.platform.url}/launch",
        params={"user": "101", "link": link.id, "storage_target": "post_message_forwarding"},
    )
    login = submit(browser, first_form(r.text))
    _block_state_cookies(browser)
    r = follow_cookie_check(browser, login)
    assert r.status_code == 200 and "lti.put_data" in r.text  # the storage page, not a redirect
    auth_url = r.text.split('href="', 2)[2].split('"', 1)[0].replace("&amp;", "&")
    auth = browser.get(auth_url, allow_redirects=False)
    r = submit(browser, first_form(auth.text))
    assert r.status_code == 200 and "lti.get_data" in r.text
    relaunch = first_form(r.text)
    # What the page's script does with the value read back from the platform's storage:
    wrong = submit(browser, relaunch, lti_storage_state="other")
    assert wrong.status_code == 200 and "lti.get_data" in wrong.text
    ok = submit(browser, relaunch, lti_storage_state=relaunch.fields["state"])
    assert ok.status_code == 303 and "/student/" in ok.headers["Location"]
