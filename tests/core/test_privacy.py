"""A student's data end to end: real launches (pseudonymous `sub`, names only when shared),
answers through the real grading and pipeline, then `metis privacy export` and `erase`; the
retraining loader and Redis no longer hold anything of the erased person. SQLite and PostgreSQL.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from lti_tool.core import privacy, redis_keys
from lti_tool.core.answers.submit import Learner, store_answer
from lti_tool.core.db.models import (
    Activity,
    Answer,
    GradeEvent,
    Launch,
    PracticeSet,
    ResourceLink,
    ScorePassback,
    User,
)
from lti_tool.core.practice import live as practice_cache
from lti_tool.devkit.lti_client import login_and_launch
from lti_tool.lms.roster import ROSTER_KEY
from meta_engine.model.tables import TableUpdate
from tests.support.course import seed_course
from tests.support.engines import RecordingEngine
from tests.support.lti_world import LtiWorld
from workers import batching, pipeline
from workers.maintenance import answer_records
from workers.pipeline import process_events
from workers.table_store import RedisTableStore

Invoke = Callable[..., Result]
ADA, BEN = "101", "102"


@dataclass
class Graded:
    ada: int
    ben: int
    deployment_id: int
    activity_id: int
    ada_events: list[str]
    ada_launches: list[str]


def _launch(world: LtiWorld, user: str, link: str) -> str:
    r = login_and_launch(world.browser(), world.platform.url, user=user, link=link)
    assert r.status_code == 303, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


def _launch_row(world: LtiWorld, launch_id: str) -> Launch:
    with world.db.session() as s:
        row = s.scalar(select(Launch).where(Launch.launch_id == launch_id))
        assert row is not None
        s.expunge(row)
        return row


@pytest.fixture()
def graded(lti_world: LtiWorld, redis_url: str) -> Graded:
    """Ada and Ben launched and answered; the pipeline made their practice sets and scores."""
    world = lti_world
    link = world.store.add_link("Fractions", score_maximum=10)
    ada_launch = _launch(world, ADA, link.id)
    row = _launch_row(world, ada_launch)
    ada_again = _launch(world, ADA, link.id)
    course = seed_course(world.db, platform_id=world.platform_pk, items=6)
    with world.db.session() as s:
        s.execute(update(Activity).where(Activity.id == course.activity_id)
                  .values(context_id=row.context_id))
        s.get(ResourceLink, row.resource_link_id).activity_id = course.activity_id  # type: ignore[union-attr]
    ben = _launch_row(world, _launch(world, BEN, link.id))

    def answer(user_id: int, item: int, choice: str) -> str:
        who = Learner(world.platform_pk, course.deployment_id, row.context_id or 0,
                      course.activity_id, user_id, row.resource_link_id)
        return store_answer(world.db, who, course.item_ids[item], {"choice": choice}).event_id

    ada_id, ben_id = row.user_id or 0, ben.user_id or 0
    ada_events = [answer(ada_id, 0, "0"), answer(ada_id, 1, "1"), answer(ada_id, 2, "0")]
    ben_events = [answer(ben_id, 0, "0"), answer(ben_id, 3, "0")]
    client = redis.Redis.from_url(redis_url)
    out = process_events(world.db, client, RecordingEngine(), ada_events + ben_events)
    assert len(out.processed) == 5
    # Copies a worker leaves in Redis, keyed by her events (timings, claims, table markers).
    for event in ada_events:
        client.set(batching.claim_key(event), "w1", ex=60)
        client.hset(pipeline.TIMINGS_KEY.format(event=event), mapping={"batch": 1})
    # The course tables' "applied" markers name events (the tables themselves name no one).
    RedisTableStore(client).apply(("v1", "deployment-1"), [
        TableUpdate(e, "item", 1, 0.1, 0.1) for e in [*ada_events, ben_events[0]]])
    # The teacher page's cached NRPS roster of her course (names and emails).
    client.set(ROSTER_KEY.format(platform=world.platform_pk, context=row.context_id), "[]")
    return Graded(ada_id, ben_id, course.deployment_id, course.activity_id, ada_events,
                  [ada_launch, ada_again])


@pytest.fixture()
def run(lti_world: LtiWorld, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`metis privacy ...` with the world's settings in the environment, as an operator."""
    s = lti_world.settings
    for key, value in {"METIS_MODE": "test", "METIS_DATABASE_URL": s.database_url,
                       "METIS_REDIS_URL": s.redis_url, "METIS_SECRET_KEY": "test-secret",
                       "METIS_BASE_URL": s.base_url}.items():
        monkeypatch.setenv(key, value or "")

    def invoke(*args: str, input: str | None = None) -> Result:
        from lti_tool.commands.privacy import privacy as group

        return CliRunner().invoke(group, list(args), input=input)

    return invoke


def _students(records: list[dict[str, object]]) -> set[str]:
    return {str(r["student"]) for r in records}


def test_export_then_erase_and_retraining_never_sees_them(
    lti_world: LtiWorld, graded: Graded, run: Invoke, redis_url: str, tmp_path: Path
) -> None:
    world, client = lti_world, redis.Redis.from_url(redis_url)
    before = answer_records(world.db, graded.deployment_id)
    assert _students(before) == {str(graded.ada), str(graded.ben)}

    out = tmp_path / "ada.json"
    exported = run("export", "--platform-id", str(world.platform_pk), "--sub", ADA,
                   "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert out.stat().st_mode & 0o777 == 0o600
    data = json.loads(out.read_text())
    assert data["user"]["sub"] == ADA and data["user"]["id"] == graded.ada
    assert data["user"]["name"] == "Ada Learner"
    assert data["user"]["email"] == "user101@example.edu"
    assert {a["event_id"] for a in data["answers"]} == set(graded.ada_events)
    assert [a["correct"] for a in data["answers"]] == [True, False, True]
    assert [a["credit"] for a in data["answers"]] == [1.0, 0.0, 1.0]  # the share of the marks
    assert data["answers"][1]["response"] and data["answers"][0]["activity"] == "Practice"
    assert {e["event_id"] for e in data["grade_events"]} == set(graded.ada_events)
    with world.db.session() as s:
        ada_sets = s.scalars(select(PracticeSet.id).where(PracticeSet.user_id == graded.ada)).all()
    # Her first set, and one more for each set she finished.
    assert len(ada_sets) >= 2 and data["practice_sets"][0]["items"]
    assert [p["id"] for p in data["practice_sets"]] == sorted(ada_sets)
    [score] = data["scores"]
    assert score["activity_id"] == graded.activity_id and score["score_maximum"] > 0
    assert {x["launch_id"] for x in data["launches"]} == set(graded.ada_launches)
    assert data["launches"][0]["course"]["title"]
    # Nothing of Ben's is in Ada's export.
    assert "Ben Learner" not in out.read_text()

    # The same export by our user id, on standard output.
    by_id = run("export", "--user", str(graded.ada))
    assert by_id.exit_code == 0
    assert json.loads(by_id.output)["answers"] == data["answers"]

    assert client.exists(practice_cache.cache_key(graded.ada, graded.activity_id))
    launch_keys = [redis_keys.launch_data(x) for x in graded.ada_launches]
    assert all(client.exists(k) for k in launch_keys)  # the key format still matches pylti1p3's

    erased = run("erase", "--user", str(graded.ada), "--yes")
    assert erased.exit_code == 0, erased.output
    for line in ("3 answers", "3 grade events", f"{len(ada_sets)} practice sets", "1 scores",
                 "2 launches",
                 "1 identity rows"):
        assert line in erased.output, erased.output
    assert "cached Redis entries" in erased.output

    with world.db.session() as s:
        for model, column in ((Answer, Answer.user_id), (GradeEvent, GradeEvent.user_id),
                              (PracticeSet, PracticeSet.user_id),
                              (ScorePassback, ScorePassback.user_id),
                              (Launch, Launch.user_id), (User, User.id)):
            n = s.scalar(select(func.count()).select_from(model).where(column == graded.ada))
            assert n == 0, model.__name__
        assert s.scalar(select(func.count()).select_from(User).where(User.sub == ADA)) == 0
        # Ben is untouched.
        assert s.scalar(select(func.count()).select_from(Answer)
                        .where(Answer.user_id == graded.ben)) == 2

    after = answer_records(world.db, graded.deployment_id)
    assert _students(after) == {str(graded.ben)} and len(after) == 2

    # Redis: no key names her or one of her events or launches any more; Ben's stay.
    left = [k.decode() for k in client.scan_iter(count=1000)]
    for needle in [*graded.ada_events, *graded.ada_launches, f"metis:practice:{graded.ada}:"]:
        assert not [k for k in left if needle in k], needle
    assert client.exists(practice_cache.cache_key(graded.ben, graded.activity_id))
    assert [k for k in left if k.startswith("metis:tables-applied:")]  # Ben's marker
    assert client.exists(redis_keys.COURSE_TABLES.format(version="v1", course="deployment-1"))
    assert not [k for k in left if k.startswith("metis:roster:")]

    # Her old launch no longer opens a page: the launch is gone.
    again = run("export", "--user", str(graded.ada))
    assert again.exit_code == 1 and f"no user with id {graded.ada}" in again.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_erase_asks_first(graded: Graded, run: Invoke, lti_world: LtiWorld) -> None:
    refused = run("erase", "--user", str(graded.ada), input="n\n")
    assert refused.exit_code == 1 and "cannot be undone" in refused.output
    with lti_world.db.session() as s:
        assert s.get(User, graded.ada) is not None
    done = run("erase", "--platform-id", str(lti_world.platform_pk), "--sub", ADA, input="y\n")
    assert done.exit_code == 0, done.output
    with lti_world.db.session() as s:
        assert s.get(User, graded.ada) is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export"], "say who"),
        (["export", "--user", "99999"], "no user with id 99999"),
        (["export", "--platform-id", "1"], "say who"),
        (["erase", "--platform-id", "1", "--sub", "nobody", "--yes"], "no user with sub"),
        (["erase", "--user", "1", "--sub", "101", "--yes"], "not both"),
        (["export", "--user", "abc"], "is not a valid integer"),
    ],
)
def test_bad_selectors_get_a_clear_message(
    lti_world: LtiWorld, run: Invoke, args: list[str], message: str
) -> None:
    r = run(*args)
    assert r.exit_code != 0 and message in r.output, r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_names_and_email_only_when_the_platform_shares_them(lti_world: LtiWorld) -> None:
    world = lti_world
    link = world.store.add_link("Decimals")
    world.store.share_names = False
    _launch(world, "103", link.id)
    with world.db.session() as s:
        cleo = s.scalars(select(User).where(User.sub == "103")).one()
        assert (cleo.name, cleo.given_name, cleo.family_name, cleo.email) == (None,) * 4
        assert cleo.sub == "103"  # the pseudonymous id the platform gave
    world.store.share_names = True
    _launch(world, "102", link.id)
    with world.db.session() as s:
        ben = s.scalars(select(User).where(User.sub == "102")).one()
        assert ben.name == "Ben Learner" and ben.email == "user102@example.edu"
    # The LMS stops sharing names: the next launch clears what the earlier one stored.
    world.store.share_names = False
    _launch(world, "102", link.id)
    with world.db.session() as s:
        ben = s.scalars(select(User).where(User.sub == "102")).one()
        assert (ben.name, ben.given_name, ben.family_name, ben.email) == (None,) * 4


def test_redis_key_formats_match_their_writers() -> None:
    """What privacy erases is what the writers write (one set of formats: core.redis_keys)."""
    assert pipeline.TIMINGS_KEY.format(event="e1") in [k.format(event="e1")
                                                       for k in privacy.EVENT_KEYS]
    assert batching.claim_key("e1") in [k.format(event="e1") for k in privacy.EVENT_KEYS]
    assert fnmatch.fnmatch(practice_cache.cache_key(7, 3), privacy.PRACTICE_PATTERN.format(user=7))
    marker = RedisTableStore._marker_prefix(("v1", "deployment-1")) + "e1"
    assert fnmatch.fnmatch(marker, privacy.TABLES_EVENT_PATTERN)


def test_erase_of_unknown_user_changes_nothing(lti_world: LtiWorld, redis_url: str) -> None:
    with pytest.raises(privacy.PrivacyError, match="no user with id 424242"):
        privacy.erase_user(lti_world.db, redis.Redis.from_url(redis_url), 424242)
