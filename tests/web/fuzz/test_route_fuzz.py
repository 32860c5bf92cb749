"""No input gets a 5xx: generated requests against every route of the app after real launches.

The app is the one the demo LMS launches into (a migrated SQLite database, a real Redis), after
real launches as Learner, Instructor (a link and a content selection) and Administrator, and a
local admin's login. The routes come from `app.url_map` and their fields from the forms their
pages render and the names their view modules read, so a new route or field is covered without
editing this file. The property, for every request: no 5xx and no traceback on the page.

- The sweep: every path argument and field of every route at each boundary value
  (tests.support.route_fuzz.SWEEP: 2^63, -1, "①", NUL, empty), the rest of the request valid.
- The fuzz (Hypothesis): METIS_FUZZ_PER_AIM requests (default 2) per path argument or field of
  a route, between 15 and 90 a route, bounded by count and never by time: random and boundary
  values (huge and negative integers, Unicode digits, NUL, long strings), fields repeated or
  missing, wrong content types, page tokens for the wrong launch or none.

Each test prints how many requests it tried (`pytest -s`, or the junit property).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from hypothesis import HealthCheck, Phase, given, settings

from tests.support.lti_world import LtiWorld
from tests.support.route_fuzz import (
    TRACEBACK,
    FuzzRequest,
    Launched,
    Target,
    fuzzed_rules,
    launch_everyone,
    page_fields,
    requests_for,
    sweep,
    target,
)

PER_AIM = float(os.environ.get("METIS_FUZZ_PER_AIM", "2"))
FEWEST, MOST = 15, 90


def _targets(done: Launched) -> list[Target]:
    forms = page_fields(done)
    # The forms were found, so the fields they send are aimed at.
    assert "item_id" in forms["student.answer"], sorted(forms)
    assert "bank" in forms["deep_link.answer_content"], sorted(forms)
    found = [target(done, rule, forms) for rule in fuzzed_rules(done.app)]
    assert len(found) >= 40, [t.rule.rule for t in found]
    return found


def _checker(done: Launched, statuses: dict[int, int]) -> Callable[[FuzzRequest], None]:
    def check(req: FuzzRequest) -> None:
        r = done.send(req)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        body = r.get_data()
        assert r.status_code < 500, f"{req.describe()} -> {r.status_code}: {body[:800]!r}"
        assert TRACEBACK not in body, req.describe()

    return check


def _report(name: str, done: Launched, routes: int, statuses: dict[int, int],
            record_property: Callable[[str, object], None]) -> None:
    print(f"{name}: {done.tried} requests over {routes} routes, none answered 5xx; "
          f"statuses {dict(sorted(statuses.items()))}")
    record_property(f"{name.replace(' ', '_')}_requests", done.tried)


def _launched(world: LtiWorld) -> Launched:
    done = launch_everyone(world)
    # An exception in a view comes back as the 500 page a user would get, and fails here.
    done.app.config["PROPAGATE_EXCEPTIONS"] = False
    return done


def test_every_field_of_every_route_at_its_boundaries(
        lti_world: LtiWorld, record_property: Callable[[str, object], None]) -> None:
    done = _launched(lti_world)
    targets = _targets(done)
    statuses: dict[int, int] = {}
    check = _checker(done, statuses)
    for t in targets:
        for req in sweep(t):
            check(req)
    # The boundary values reached the views, not just the access check.
    assert statuses.get(403, 0) < done.tried / 4, statuses
    _report("route sweep", done, len(targets), statuses, record_property)


def test_no_route_answers_5xx_to_generated_requests(
        lti_world: LtiWorld, record_property: Callable[[str, object], None]) -> None:
    done = _launched(lti_world)
    targets = _targets(done)
    statuses: dict[int, int] = {}
    check = _checker(done, statuses)
    for t in targets:
        before = done.tried

        @settings(max_examples=min(MOST, max(FEWEST, round(PER_AIM * len(t.aims)))),
                  deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate, Phase.shrink],
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])
        @given(requests_for(t))
        def no_server_error(req: FuzzRequest) -> None:
            check(req)

        no_server_error()
        assert done.tried - before >= FEWEST, t.rule.rule
    # Most requests got past the access check, so their fields reached the views.
    assert statuses.get(403, 0) < done.tried / 3, statuses
    _report("route fuzz", done, len(targets), statuses, record_property)
