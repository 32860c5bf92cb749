"""Drive LTI flows with a `requests` session, as a browser would (auto-submitting forms).

The one client that the tests and the benchmarks share: the platform's launch button, the OIDC
login, the platform's auth answer and the launch POST, each an auto-submitting form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from lti_tool.lti.registration.tool_urls import LOGIN_CHECK_PATH


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    page: str = ""  # the page the form was on, sent as Referer like a browser does


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value", "")


def forms(html: str, base: str = "") -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        form.action = urljoin(base, form.action)
        form.page = base
    return parser.forms


class FlowError(RuntimeError):
    """A step of the flow did not answer as a platform or tool should."""


def first_form(html: str, base: str = "") -> Form:
    found = forms(html, base)
    if not found:
        raise FlowError(f"expected an auto-submitting form, got: {html[:300]}")
    return found[0]


def new_browser(verify: bool | str = True) -> requests.Session:
    """A fresh browser. With `verify` (a CA bundle path) the environment's REQUESTS_CA_BUNDLE
    is ignored, which would otherwise override the session's setting."""
    browser = requests.Session()
    if verify is not True:
        browser.verify = verify
        browser.trust_env = False
    return browser


def submit(browser: requests.Session, form: Form, **extra: Any) -> requests.Response:
    data = {**form.fields, **extra}
    headers = {"Referer": form.page} if form.page else {}
    if form.method == "post":
        return browser.post(form.action, data=data, allow_redirects=False, headers=headers)
    return browser.get(form.action, params=data, allow_redirects=False)


def follow_cookie_check(browser: requests.Session, login: requests.Response) -> requests.Response:
    """Metis's login answers with a redirect to its own cookie check, which sends a browser
    that kept the state cookie on to the platform; follow that one step as a browser would."""
    location = login.headers.get("Location", "") if login.status_code == 302 else ""
    if urlsplit(location).path != LOGIN_CHECK_PATH:
        return login
    return browser.get(urljoin(login.url, location), allow_redirects=False)


def login_and_launch(
    browser: requests.Session,
    platform_url: str,
    *,
    user: str = "101",
    link: str | None = None,
    deep_link: bool = False,
    login_method: str = "post",
    storage_target: str | None = None,
) -> requests.Response:
    """From the platform's launch button to Metis's answer to the launch POST."""
    params: dict[str, str] = {"user": user}
    if deep_link:
        params["deep_link"] = "1"
    if link:
        params["link"] = link
    if login_method == "get":
        params["method"] = "get"
    if storage_target:
        params["storage_target"] = storage_target
    r = browser.get(f"{platform_url}/launch", params=params, allow_redirects=False)
    expected = 302 if login_method == "get" else 200
    if r.status_code != expected:
        raise FlowError(f"the platform's launch button answered {r.status_code}: {r.text[:300]}")
    if login_method == "get":
        r = browser.get(r.headers["Location"], allow_redirects=False)
    else:
        r = submit(browser, first_form(r.text))
    r = follow_cookie_check(browser, r)
    if r.status_code != 302:
        return r  # refused, or the platform-storage or new-window page: the caller checks
    auth = browser.get(r.headers["Location"], allow_redirects=False)
    if auth.status_code != 200:
        raise FlowError(f"the platform's auth endpoint answered {auth.status_code}")
    return submit(browser, first_form(auth.text))
