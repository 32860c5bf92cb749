"""The local admin login: CSRF, one message for any wrong part, a rate limit per username and
address in Redis, safe redirects, and sessions that end with the account."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import delete, select

from lti_tool.core.db.models import AdminAccount
from lti_tool.web import admin_accounts
from tests.support.admin import (
    LOCAL_PASSWORD,
    LOCAL_USER,
    create_local_admin,
    form_ending,
    local_login,
    post,
)
from tests.support.lti_world import LtiWorld


def test_login_sets_last_login_and_opens_the_pages(lti_world: LtiWorld) -> None:
    create_local_admin(lti_world.db)
    browser, r = local_login(lti_world)
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/local")
    page = browser.get(lti_world.metis.url + "/admin/local")
    assert page.status_code == 200 and "local admin ops-admin" in page.text
    with lti_world.db.session() as s:
        account = s.scalars(select(AdminAccount)).one()
        assert account.last_login_at is not None
        assert account.password_hash.startswith("scrypt:")
        assert LOCAL_PASSWORD not in account.password_hash


@pytest.mark.parametrize(
    ("username", "password"),
    [(LOCAL_USER, "wrong password here"), ("nobody", LOCAL_PASSWORD), ("nobody", "x")],
)
def test_wrong_username_or_password_gets_one_generic_message(
    lti_world: LtiWorld, username: str, password: str
) -> None:
    create_local_admin(lti_world.db)
    browser, r = local_login(lti_world, username=username, password=password)
    assert r.status_code == 401
    assert "Wrong username or password." in r.text
    assert browser.get(lti_world.metis.url + "/admin/local", allow_redirects=False).status_code \
        == 303  # still not logged in


def test_username_is_case_insensitive(lti_world: LtiWorld) -> None:
    create_local_admin(lti_world.db)
    _browser, r = local_login(lti_world, username=" OPS-Admin ")
    assert r.status_code == 303


def test_empty_form_is_400(lti_world: LtiWorld) -> None:
    _browser, r = local_login(lti_world, username="", password="")
    assert r.status_code == 400 and "Enter your username and password." in r.text


def test_login_without_csrf_token_is_refused(lti_world: LtiWorld) -> None:
    create_local_admin(lti_world.db)
    browser = lti_world.browser()
    r = browser.post(
        lti_world.metis.url + "/admin/login",
        data={"username": LOCAL_USER, "password": LOCAL_PASSWORD},
        headers={"Referer": lti_world.metis.url + "/admin/login"},
        allow_redirects=False,
    )
    assert r.status_code == 400
    assert browser.get(lti_world.metis.url + "/admin/local", allow_redirects=False).status_code \
        == 303


def test_rate_limit_per_username_and_address(lti_world: LtiWorld, redis_url: str) -> None:
    create_local_admin(lti_world.db)
    browser = lti_world.browser()
    for _ in range(admin_accounts.LOGIN_LIMIT):
        _b, r = local_login(lti_world, browser, password="not the password")
        assert r.status_code == 401
    _b, blocked = local_login(lti_world, browser)  # even the right password now waits
    assert blocked.status_code == 429
    assert "Too many tries" in blocked.text and "5 minutes" in blocked.text
    assert 0 < int(blocked.headers["Retry-After"]) <= admin_accounts.LOGIN_WINDOW_S
    # Another username from the same address is not blocked by these failures.
    create_local_admin(lti_world.db, "second-admin", "another long password")
    _b, other = local_login(lti_world, username="second-admin", password="another long password")
    assert other.status_code == 303
    # Redis holds only a hash of username and address, with the window as its expiry.
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = [str(k) for k in client.keys("metis:admin-login:*")]
    assert len(keys) == 1 and LOCAL_USER not in keys[0] and "127.0.0.1" not in keys[0]
    assert 0 < client.ttl(keys[0]) <= admin_accounts.LOGIN_WINDOW_S
    # When the window has passed (the key expired), the right password works again.
    client.delete(keys[0])
    _b, again = local_login(lti_world, browser)
    assert again.status_code == 303


def test_success_clears_earlier_failures(lti_world: LtiWorld, redis_url: str) -> None:
    create_local_admin(lti_world.db)
    for _ in range(admin_accounts.LOGIN_LIMIT - 1):
        assert local_login(lti_world, password="nope nope nope")[1].status_code == 401
    assert local_login(lti_world)[1].status_code == 303
    assert redis.Redis.from_url(redis_url).keys("metis:admin-login:*") == []


def test_next_only_leads_back_into_the_local_pages(lti_world: LtiWorld) -> None:
    create_local_admin(lti_world.db)
    browser = lti_world.browser()
    first = browser.get(lti_world.metis.url + "/admin/local/health", allow_redirects=False)
    login_page = browser.get(lti_world.metis.url + first.headers["Location"])
    form = form_ending(login_page.text, "/admin/login")
    assert form.fields["next"] == "/admin/local/health"
    r = post(lti_world, browser, form, username=LOCAL_USER, password=LOCAL_PASSWORD)
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/local/health")

    other = lti_world.browser()
    page = other.get(lti_world.metis.url + "/admin/login?next=https://evil.example/")
    form = form_ending(page.text, "/admin/login")
    r = post(lti_world, other, form, username=LOCAL_USER, password=LOCAL_PASSWORD)
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/local")
    assert "evil.example" not in r.headers["Location"]


def test_removed_account_loses_its_session(lti_world: LtiWorld) -> None:
    create_local_admin(lti_world.db)
    browser, r = local_login(lti_world)
    assert r.status_code == 303
    with lti_world.db.session() as s:
        s.execute(delete(AdminAccount))
    page = browser.get(lti_world.metis.url + "/admin/local", allow_redirects=False)
    assert page.status_code == 303 and "/admin/login" in page.headers["Location"]


def test_login_session_is_a_new_cookie(lti_world: LtiWorld) -> None:
    """Against session fixation: the session cookie changes at login."""
    create_local_admin(lti_world.db)
    browser = lti_world.browser()
    browser.get(lti_world.metis.url + "/admin/login")
    before = browser.cookies.get("session")
    _b, r = local_login(lti_world, browser)
    assert r.status_code == 303
    assert browser.cookies.get("session") not in (None, before)


def test_parallel_tries_cannot_slip_under_the_limit(redis_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    limiter = admin_accounts.LoginLimiter(redis.Redis.from_url(redis_url), limit=5)
    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(lambda _: limiter.attempt("admin", "10.0.0.1"), range(40)))
    # Every attempt is counted before its password is checked: exactly `limit` get through.
    assert sum(1 for w in waits if w == 0) == 5


def test_an_ipv6_host_cannot_hop_addresses_within_its_64(redis_url: str) -> None:
    limiter = admin_accounts.LoginLimiter(redis.Redis.from_url(redis_url), limit=3)
    hops = [f"2001:db8:1:2::{n:x}" for n in range(1, 6)]
    waits = [limiter.attempt("admin", address) for address in hops]
    assert waits[:3] == [0, 0, 0] and all(w > 0 for w in waits[3:])
    assert limiter.attempt("admin", "2001:db8:1:3::1") == 0  # another /64 is another client
