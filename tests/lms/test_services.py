"""AGS and NRPS clients against the demo platform's token, score, results and roster endpoints."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from lti_tool.lms.ags import (
    Score,
    ScoreOutcome,
    post_score,
    read_result,
    read_results,
    service_url,
)
from lti_tool.lms.nrps import fetch_roster
from lti_tool.lms.services import ServiceContext, service_context
from lti_tool.lms.tokens import PermanentServiceError, TransientServiceError
from lti_tool.lti import keys
from tests.support.lti_world import LtiWorld


def _ctx(world: LtiWorld) -> ServiceContext:
    client = redis.Redis.from_url(world.settings.redis_url)
    return service_context(world.db, client, world.settings, world.platform_pk)


def _lineitem_url(world: LtiWorld, points: float = 20) -> str:
    item = world.store.add_lineitem("Quiz", points)
    return (
        f"{world.platform.url}/ags/{world.store.context_id}/lineitems/{item.id}/lineitem?type_id=1"
    )


def test_service_url_keeps_query() -> None:
    assert service_url("https://lms/x/lineitem?type_id=3", "scores") == (
        "https://lms/x/lineitem/scores?type_id=3"
    )


def _lms_clock_behind(world: LtiWorld) -> None:
    """The LMS's clock an hour behind: every score it processes is graded before the
    timestamps these tests send, so none is refused as not newer (409)."""
    world.store.clock = lambda: time.time() - 3600


def test_score_posted_and_read_back(lti_world: LtiWorld) -> None:
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world, points=20)
    _lms_clock_behind(lti_world)
    now = datetime.now(UTC)
    assert post_score(ctx, url, Score("101", 1, 4, now)) is ScoreOutcome.accepted
    later = now + timedelta(seconds=1)
    assert post_score(ctx, url, Score("101", 3, 4, later, "well done")) is ScoreOutcome.accepted
    # One token for both score posts (cached per issuer, client_id and scopes).
    assert lti_world.store.tokens_issued == 1
    results = read_results(ctx, url, "101")
    assert len(results) == 1
    assert results[0]["resultScore"] == pytest.approx(15.0)  # 3/4 rescaled to 20 points
    assert results[0]["comment"] == "well done"
    body = lti_world.store.score_posts[-1]
    assert body["activityProgress"] == "Completed"
    assert body["gradingProgress"] == "FullyGraded"
    assert lti_world.store.tokens_issued == 2  # results need another scope, so another token
    result = read_result(ctx, url, "101")
    assert result is not None and result.fraction == pytest.approx(0.75)
    assert read_result(ctx, url, "103") is None  # no grade: not listed, as in Moodle


def test_409_unless_newer_than_when_the_lms_processed_the_grade(lti_world: LtiWorld) -> None:
    """Moodle keeps the time it processed a grade, not the score's timestamp, and refuses any
    score that is not newer than that, in whole seconds."""
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world)
    now = datetime.now(UTC).replace(microsecond=0)
    processed = now + timedelta(seconds=30)  # a busy LMS got to the score 30 s later
    lti_world.store.clock = processed.timestamp
    assert post_score(ctx, url, Score("102", 4, 4, now)) is ScoreOutcome.accepted
    held = read_result(ctx, url, "102")
    assert held is not None and held.timestamp == processed  # the processing time
    newer_than_score = Score("102", 1, 4, now + timedelta(seconds=10))
    assert post_score(ctx, url, newer_than_score) is ScoreOutcome.refused_not_newer
    same_second = Score("102", 1, 4, processed + timedelta(milliseconds=900))
    assert post_score(ctx, url, same_second) is ScoreOutcome.refused_not_newer
    assert read_results(ctx, url, "102")[0]["resultScore"] == pytest.approx(20.0)
    after = Score("102", 1, 4, processed + timedelta(seconds=1))
    assert post_score(ctx, url, after) is ScoreOutcome.accepted
    assert read_results(ctx, url, "102")[0]["resultScore"] == pytest.approx(5.0)


def test_a_held_score_is_processed_on_release(lti_world: LtiWorld) -> None:
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world)
    lti_world.store.hold_scores(1)
    outcome: list[ScoreOutcome] = []
    poster = threading.Thread(target=lambda: outcome.append(
        post_score(ctx, url, Score("101", 2, 4, datetime.now(UTC)))))
    poster.start()
    deadline = time.monotonic() + 30
    while lti_world.store.held == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lti_world.store.held == 1 and read_result(ctx, url, "101") is None
    lti_world.store.clock = lambda: time.time() + 60  # processed a minute later
    lti_world.store.release_scores()
    poster.join(30)
    assert outcome == [ScoreOutcome.accepted]
    held = read_result(ctx, url, "101")
    assert held is not None and held.fraction == pytest.approx(0.5)
    assert held.timestamp is not None and held.timestamp > datetime.now(UTC)


def test_401_refreshes_token_once(lti_world: LtiWorld) -> None:
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world)
    _lms_clock_behind(lti_world)
    post_score(ctx, url, Score("101", 1, 2, datetime.now(UTC)))
    lti_world.store.revoke_tokens()  # the platform forgets the cached token
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert post_score(ctx, url, Score("101", 2, 2, later)) is ScoreOutcome.accepted
    assert lti_world.store.tokens_issued == 2


@pytest.mark.parametrize("fault", ["500", "429"])
def test_server_errors_are_transient(lti_world: LtiWorld, fault: str) -> None:
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world)
    lti_world.store.inject_score_faults([fault])
    with pytest.raises(TransientServiceError) as err:
        post_score(ctx, url, Score("101", 1, 2, datetime.now(UTC)))
    assert err.value.status == int(fault)
    # The fault is spent: the next attempt goes through.
    assert post_score(ctx, url, Score("101", 1, 2, datetime.now(UTC))) is ScoreOutcome.accepted


def test_timeout_is_transient(lti_world: LtiWorld) -> None:
    object.__setattr__(lti_world.settings, "outbound_timeout_s", 0.5)
    ctx = _ctx(lti_world)
    url = _lineitem_url(lti_world)
    lti_world.store.inject_score_faults(["hang"], hang_s=1.5)
    with pytest.raises(TransientServiceError, match="timed out"):
        post_score(ctx, url, Score("101", 1, 2, datetime.now(UTC)))


def test_unknown_lineitem_is_permanent(lti_world: LtiWorld) -> None:
    ctx = _ctx(lti_world)
    base = f"{lti_world.platform.url}/ags/{lti_world.store.context_id}"
    url = f"{base}/lineitems/999/lineitem?type_id=1"
    with pytest.raises(PermanentServiceError) as err:
        post_score(ctx, url, Score("101", 1, 2, datetime.now(UTC)))
    assert err.value.status == 404


def test_roster_follows_paging(lti_world: LtiWorld) -> None:
    ctx = _ctx(lti_world)
    url = f"{lti_world.platform.url}/nrps/{lti_world.store.context_id}/memberships"
    roster = fetch_roster(ctx, url)
    assert [m.user_id for m in roster] == list(lti_world.store.members)  # 5 members, 3 pages
    teacher = next(m for m in roster if m.user_id == "201")
    assert teacher.roles == ("Instructor",) and teacher.name == "Tess Teacher"


def test_key_rotation_keeps_services_working(lti_world: LtiWorld) -> None:
    url = _lineitem_url(lti_world)
    _lms_clock_behind(lti_world)
    post_score(_ctx(lti_world), url, Score("101", 1, 2, datetime.now(UTC)))
    with lti_world.db.session() as s:
        new = keys.rotate(s)
    ctx = _ctx(lti_world)
    assert ctx.signer.kid == new.kid
    ctx.tokens.invalidate(ctx.registration, ["https://purl.imsglobal.org/spec/lti-ags/scope/score"])
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert post_score(ctx, url, Score("101", 2, 2, later)) is ScoreOutcome.accepted
    assert lti_world.store.tokens_issued == 2  # the new assertion, signed by the new key
