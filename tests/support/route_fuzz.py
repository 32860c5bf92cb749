"""The route fuzz suite's world and requests: real launches as Learner, Instructor (a resource
link and a content selection) and Administrator through the demo LMS, then, for any rule of
`app.url_map`, a Hypothesis strategy of requests against it.

Which launch suits a rule is found by asking the app (a launch that is not refused with 403),
and which fields a rule reads comes from the forms its pages render and from the names its
view module reads from `request` - so a new route or field is fuzzed without editing this."""

from __future__ import annotations

import inspect
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from lti_tool.core.db.models import Item, ItemBank, PassbackStatus, Platform, ScorePassback, User
from lti_tool.core.parsing import MAX_ID
from lti_tool.devkit.lti_client import login_and_launch
from lti_tool.web import page_token
from tests.support.admin import ADMIN, INSTRUCTOR, LOCAL_PASSWORD, LOCAL_USER, create_local_admin
from tests.support.learner import KINDS
from tests.support.lti_world import LtiWorld
from tests.support.practice import seeded_practice_link
from tests.support.teacher_pages import launch

SAMPLES = Path(__file__).resolve().parent / "samples"
TRACEBACK = b"Traceback (most recent call last)"
# The launch and login endpoints are fuzzed with signed claims by the launch-claims suite; the
# routes after a launch are this suite's.
NOT_OURS = {"lti.launch", "lti.login"}


# --- the world after the launches ---------------------------------------------------------


@dataclass
class Launched:
    """The app after real launches, with what exists in its database to aim at."""

    world: LtiWorld
    launches: dict[str, str]  # role -> launch id
    ids: list[int]  # ids of rows that exist (items, banks, users, scores, platforms)
    client: FlaskClient = field(init=False)
    tried: int = 0

    def __post_init__(self) -> None:
        self.client = self.world.app.test_client()

    @property
    def app(self) -> Flask:
        return self.world.app

    def token(self, launch_id: str) -> str:
        with self.app.app_context():
            return page_token.issue(launch_id)

    def send(self, req: FuzzRequest) -> TestResponse:
        """One request; an event stream is read up to its first message only."""
        self.tried += 1
        response = self.client.open(
            req.path, method=req.method, query_string=req.query, data=req.body,
            headers=req.headers, content_type=req.content_type,
            base_url=self.world.metis.url,
        )
        if response.mimetype == "text/event-stream":
            head = next(iter(response.response), b"")
            response.close()
            response.set_data(head if isinstance(head, bytes) else head.encode())
        return response


def launch_everyone(world: LtiWorld) -> Launched:
    """Launch through the demo LMS as a learner (practice with hints and every item kind), a
    teacher on the same link, a teacher selecting content, and a site administrator; a local
    admin logs in on the test client too."""
    seeded = seeded_practice_link(world, "Fractions", items=8, user="101", score_maximum=10,
                                  activity={"settings": {"set_size": 8}})
    with world.db.session() as s:
        for item_id, fields in zip(seeded.course.item_ids, KINDS, strict=False):
            s.execute(update(Item).where(Item.id == item_id).values(**fields))
        s.add(ScorePassback(user_id=seeded.user_id, activity_id=seeded.course.activity_id,
                            score_given=4.0, score_maximum=10.0, status=PassbackStatus.failed,
                            last_error="score refused: HTTP 500"))
    teacher = launch(world, world.browser(), INSTRUCTOR, seeded.link_id)
    r = login_and_launch(world.browser(), world.platform.url, user=INSTRUCTOR, deep_link=True)
    assert r.status_code == 303, r.text
    admin = launch(world, world.browser(), ADMIN, world.store.add_link("Admin").id)
    launches = {"learner": _last(seeded.page_url), "instructor": _last(teacher),
                "deep_link": _last(r.headers["Location"]), "admin": _last(admin)}
    with world.db.session() as s:
        ids = sorted({i for model in (Item, ItemBank, User, ScorePassback, Platform)
                      for i in s.scalars(select(model.id))})
    done = Launched(world, launches, ids)
    _local_login(done)
    return done


def _last(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def _local_login(done: Launched) -> None:
    create_local_admin(done.world.db)

    base = done.world.metis.url
    page = done.client.get("/admin/login", base_url=base)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    r = done.client.post("/admin/login", base_url=base, headers={"Referer": base + "/admin/"},
                         data={"csrf_token": token[1], "username": LOCAL_USER,
                               "password": LOCAL_PASSWORD})
    assert r.status_code == 303, r.text


# --- what each rule takes -------------------------------------------------------------------


class _Forms(HTMLParser):
    """A page's forms: (method, action) -> field names with the values the page offers (the
    value of each input, every option of a select)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, set[str]]]] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("method", "get").upper(), a.get("action", ""), {}))
        elif tag in ("input", "select", "textarea") and a.get("name") and self.forms:
            self._select = a["name"] if tag == "select" else None
            self.forms[-1][2].setdefault(a["name"], set()).add(a.get("value", ""))
        elif tag == "option" and self._select and self.forms:
            self.forms[-1][2][self._select].add(a.get("value", ""))


_READS = re.compile(
    r"""\b(?:args|form|values|files|headers|params)\.get(?:list)?\(\s*["']([\w-]+)["']"""
    r"""|(?:form_id|query_id|field_id|field_count)\((?:[^,()]+,\s*)?["']([\w-]+)["']""")


def names_read_by(app: Flask, rule: Rule) -> set[str]:
    """Field names the rule's view module reads from the request (its helpers included)."""
    view = inspect.unwrap(app.view_functions[rule.endpoint])
    module = sys.modules.get(view.__module__)
    source = inspect.getsource(module) if module is not None else ""
    return {a or b for a, b in _READS.findall(source)}


Fields = dict[str, dict[str, set[str]]]  # endpoint -> field name -> values offered


def page_fields(done: Launched) -> Fields:
    """The form fields the app's pages render for the launches, by the endpoint each form
    sends to, with the values offered."""
    found: Fields = {}
    adapter = done.app.url_map.bind("127.0.0.1")
    for rule in done.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_OURS:
            continue
        for launch_id in done.launches.values():
            path = _path(rule, {"launch_id": launch_id}, done.ids)
            if path is None:
                continue
            r = done.client.get(path, base_url=done.world.metis.url,
                                headers={page_token.HEADER: done.token(launch_id)})
            if r.mimetype != "text/html" or r.status_code != 200:
                continue
            parser = _Forms()
            parser.feed(r.text)
            for method, action, fields in parser.forms:
                try:
                    endpoint, _args = adapter.match(urlsplit(action).path or path, method)
                except HTTPException:
                    continue
                into = found.setdefault(str(endpoint), {})
                for name, values in fields.items():
                    into.setdefault(name, set()).update(values)
    return found


def _path(rule: Rule, given: dict[str, str], ids: list[int]) -> str | None:
    values = {}
    for name in rule.arguments:
        if name in given:
            values[name] = given[name]
        elif type(rule._converters[name]).__name__ in ("IdConverter", "IntegerConverter"):
            values[name] = str(ids[0])
        else:
            return None  # a free-text segment (an action, a file name): nothing to read
    return _build(rule, values)


def _build(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with `values` percent-encoded into its segments."""
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", lambda _m, n=name: quote(values[n], safe=""),
                      path)
    return path


def suited_launches(done: Launched, rule: Rule) -> list[str]:
    """The launches whose role this rule accepts (its answer to them is not a 403)."""
    suited = []
    for launch_id in done.launches.values():
        values = {name: launch_id if name == "launch_id" else str(done.ids[0])
                  for name in rule.arguments}
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        r = done.client.open(_build(rule, values), method=method,
                             base_url=done.world.metis.url,
                             headers={page_token.HEADER: done.token(launch_id)})
        if r.status_code != 403:
            suited.append(launch_id)
        r.close()
    return suited or list(done.launches.values())


# --- values ---------------------------------------------------------------------------------


# Numbers where databases and int() disagree, and text that looks like a number to someone.
BOUNDARY_NUMBERS = ["0", "1", "-1", "-0", "+1", " 1", "1 ", "01", "1.0", "1e3", "0x10", "1_000",
                    str(MAX_ID), str(MAX_ID + 1), str(2**64), str(-(2**63) - 1), "9" * 40,
                    "①", "٣", "²", "１２", "߁", "𝟙", "Ⅻ", "½"]
NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800".encode("utf-8", "surrogatepass").decode(
    "utf-8", "replace"), "é", "👩‍🏫", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc",
    "%00", "%", "\\", "null", "[]", "{}", "true", "NaN", "inf", "-inf", "x" * 5000]


# The values that broke the most (issue 12): beyond the database's integers, Unicode digits
# that str.isdigit() accepts and int() refuses or reads, NUL, nothing, a lot.
SHARP = [str(MAX_ID + 1), str(2**64), "-1", "0", "①", "٣", "²", "\x00", "", "9" * 40]


def text_values(known: list[str]) -> st.SearchStrategy[str]:
    """Values for any field: what the page offers, numbers at the edges, odd and long text
    (the sharpest drawn most often: they are where parsers and databases disagree)."""
    sharp = st.sampled_from(SHARP)
    return st.one_of(
        sharp, sharp, sharp,
        st.sampled_from(known or [""]),
        st.sampled_from(BOUNDARY_NUMBERS + NASTY_TEXT),
        st.integers(min_value=MAX_ID - 2, max_value=MAX_ID + 2).map(str),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.text(max_size=40),
        st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4),
    )


def id_values(ids: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from([str(i) for i in ids]), text_values([]), text_values([]))


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: Any
    content_type: str | None
    headers: dict[str, str]

    def describe(self) -> str:
        return f"{self.method} {self.path} query={self.query!r} type={self.content_type!r}"


SAMPLE_FILES = {p.name: p.read_bytes() for p in SAMPLES.iterdir() if p.is_file()}


def _body(pairs: list[tuple[str, str]]) -> st.SearchStrategy[tuple[Any, str | None]]:
    """The fields as a form (most often), as multipart with a file, or in a wrong type."""
    as_form = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    files = st.sampled_from(sorted(SAMPLE_FILES)).map(lambda n: SAMPLE_FILES[n]) | st.binary(
        max_size=300)
    multipart = st.tuples(files, st.sampled_from(["bank.xml", "bank.gift", "bank.csv", "",
                                                  "x.exe", "../a.xml"])).map(
        lambda f: ({**dict(pairs), "file": (io.BytesIO(f[0]), f[1])}, "multipart/form-data"))
    return st.one_of(
        *[st.just((as_form, "application/x-www-form-urlencoded"))] * 4,
        multipart,
        st.just((json.dumps(dict(pairs)), "application/json")),
        st.just(("{not json", "application/json")),
        st.binary(max_size=200).map(lambda b: (b, "application/x-www-form-urlencoded")),
        st.just((as_form, "text/plain")),
        st.just((b"\xff\xfe<?xml", "application/xml")),
        st.just((None, None)),
    )


ID_FIELDS = ("item_id", "hints_for", "student", "bank", "activity")


@dataclass
class Target:
    """One rule, and a valid-looking request to it: a launch it lets in, good values for its
    path arguments, the fields its pages' forms send with the values they offer; `aims` are
    what a request can make odd (path arguments and every field its view module reads)."""

    done: Launched
    rule: Rule
    suited: list[str]
    good_args: dict[str, list[str]]
    good: dict[str, list[str]]
    offered: set[str]
    aims: list[tuple[str, str]]

    @property
    def methods(self) -> list[str]:
        return sorted((self.rule.methods or set()) - {"OPTIONS", "HEAD"}) or ["GET"]

    def request(self, method: str, args: dict[str, str], pairs: list[tuple[str, str]],
                *, in_query: bool = False, token: str | None = "header",
                accept: str = "text/html", body: tuple[Any, str | None] | None = None,
                referer: bool = True) -> FuzzRequest:
        in_body = method in ("POST", "PUT", "PATCH")
        query = pairs if (in_query or not in_body) else []
        headers = {"Accept": accept}
        launch_id = args.get("launch_id")
        if launch_id in self.done.launches.values():
            if token == "header":
                headers[page_token.HEADER] = self.done.token(launch_id)
            elif token == "query":
                query = [*query, (page_token.FIELD, self.done.token(launch_id))]
        if referer:
            headers["Referer"] = self.done.world.metis.url + "/"
        if in_body and body is None:
            body = ("&".join(f"{quote(k)}={quote(v)}" for k, v in pairs),
                    "application/x-www-form-urlencoded")
        content, content_type = body if in_body and body else (None, None)
        return FuzzRequest(method, _build(self.rule, args), query, content, content_type,
                           headers)


def target(done: Launched, rule: Rule, forms: Fields) -> Target:
    offered = forms.get(rule.endpoint, {})
    names = (names_read_by(done.app, rule) | set(offered)) - set(rule.arguments)
    if rule.endpoint.startswith("student."):
        # The student pages keep open hints in `h<item id>` fields no form literal names.
        names |= {f"h{i}" for i in done.ids[:3]}
    good = {n: sorted(offered.get(n, set())) or ([str(i) for i in done.ids] if n in ID_FIELDS
                                                 else [""]) for n in sorted(names)}
    good_args: dict[str, list[str]] = {}
    for name in rule.arguments:
        if name == "launch_id":
            good_args[name] = suited_launches(done, rule)
        elif _is_id(rule, name):
            good_args[name] = [str(i) for i in done.ids]
        else:
            good_args[name] = ["approve", "disable", "metis.css", "practice.js"]
    aims = [("arg", n) for n in rule.arguments] + [("field", n) for n in good]
    return Target(done, rule, good_args.get("launch_id", []), good_args, good, set(offered),
                  aims)


def _is_id(rule: Rule, name: str) -> bool:
    return type(rule._converters[name]).__name__ in ("IdConverter", "IntegerConverter")


def requests_for(t: Target) -> st.SearchStrategy[FuzzRequest]:
    """Valid-looking requests to `t.rule` with one to three things made odd: a path argument
    or field set to a random or boundary value, a field dropped or repeated; the content
    type, Accept and the page token varied too. One odd thing at a time reaches further than
    everything odd at once: the first refusal would hide the rest."""
    launch_ids = list(t.done.launches.values())
    odd_args = {n: st.one_of(st.sampled_from(launch_ids), text_values(["local"]))
                if n == "launch_id" else text_values([]) for n in t.rule.arguments}
    # Path arguments and the fields the rule's own forms send are aimed at most often.
    weighted = [aim for aim in t.aims for _ in range(
        1 if aim[1] == "launch_id" else 3 if aim[0] == "arg" or aim[1] in t.offered else 1)]

    @st.composite
    def build(draw: st.DrawFn) -> FuzzRequest:
        args = {n: draw(st.sampled_from(v)) for n, v in t.good_args.items()}
        fields = {n: [draw(st.sampled_from(v))] for n, v in t.good.items()
                  if n in t.offered or draw(st.booleans())}
        for _ in range(draw(st.integers(1, 3)) if weighted else 0):
            kind, name = draw(st.sampled_from(weighted))
            if kind == "arg":
                args[name] = draw(odd_args[name])
                continue
            change = draw(st.sampled_from(["value", "value", "value", "drop", "repeat"]))
            if change == "drop":
                fields.pop(name, None)
            elif change == "repeat":
                fields[name] = fields.get(name, [""]) + [draw(text_values(t.good[name]))]
            else:
                fields[name] = [draw(text_values(t.good[name]))]
        pairs = [(n, v) for n, vs in fields.items() for v in vs]
        method = draw(st.sampled_from(sorted((t.rule.methods or set()) - {"OPTIONS"})))
        token = draw(st.sampled_from(["header"] * 8 + ["query", "none", "other"]))
        req = t.request(
            method, args, pairs, in_query=draw(st.integers(0, 3)) == 0, token=token,
            accept=draw(st.sampled_from(["application/json", "text/html", "*/*",
                                         "text/event-stream", "x/y;;q=a"])),
            body=draw(_body(pairs)), referer=draw(st.booleans()))
        if token == "other":
            req.headers[page_token.HEADER] = draw(st.sampled_from(
                [t.done.token(i) for i in launch_ids] + ["garbage", "x" * 600]))
        return req

    return build()


# Each aim of each rule gets each of these in the sweep, the rest of the request valid.
SWEEP = [str(MAX_ID + 1), "-1", "①", "\x00", ""]


def sweep(t: Target) -> Iterator[FuzzRequest]:
    """Every aim of the rule at every SWEEP value, in an otherwise valid request (as a page
    would send it: the JSON fetch for a path argument, the form for a field)."""
    args = {n: v[0] for n, v in t.good_args.items()}
    fields = {n: v[0] for n, v in t.good.items() if n in t.offered}
    for kind, name in t.aims:
        for value in SWEEP:
            for method in t.methods:
                if kind == "arg":
                    yield t.request(method, {**args, name: value}, list(fields.items()),
                                    accept="application/json")
                else:
                    yield t.request(method, args, list({**fields, name: value}.items()))


def fuzzed_rules(app: Flask) -> Iterator[Rule]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        # (Blueprints a test adds, such as the LTI world's probe pages, are not the app's.)
        if rule.endpoint not in NOT_OURS and not rule.endpoint.startswith("probe."):
            yield rule
