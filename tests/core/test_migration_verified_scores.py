"""The migration to verified scores and partial credit, on a database that already holds
answers and sent scores: every answer keeps all or nothing as its credit, a score posted before
keeps the timestamp it was sent with, and nothing is called verified that was never read back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lti_tool.core.db.migrate import upgrade
from tests.conftest import _fresh_postgres

BEFORE = "0005"  # the revision before verified scores


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url = _fresh_postgres(request.getfixturevalue("postgres_base_url"))
    else:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, BEFORE)
    return url


def _insert(conn: sa.Connection, meta: sa.MetaData, table: str, **values: object) -> int:
    row = conn.execute(meta.tables[table].insert().values(**values))
    key = row.inserted_primary_key
    return int(key[0]) if key and key[0] is not None else 0


def test_answers_and_scores_from_before_keep_their_meaning(old_database: str) -> None:
    engine = sa.create_engine(old_database)
    meta = sa.MetaData()
    meta.reflect(engine)
    sent_with = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    with engine.begin() as conn:
        platform = _insert(conn, meta, "platform", name="LMS", issuer="https://lms.example",
                           client_id="c", auth_login_url="-", auth_token_url="-",
                           key_set_url="-", status="active", product_family_code="",
                           registered_via="manual", created_at=sent_with)
        user = _insert(conn, meta, "lti_user", platform_id=platform, sub="101")
        context = _insert(conn, meta, "context", platform_id=platform, context_id="c1",
                          label="", title="")
        bank = _insert(conn, meta, "item_bank", platform_id=platform, name="b",
                       created_at=sent_with)
        item = _insert(conn, meta, "item", bank_id=bank, name="q", category="",
                       kind="multichoice", text="?", choices=["a", "b"], answer={"choice": 0},
                       feedback={}, hints=[], solution="", skill_ids=[])
        activity = _insert(conn, meta, "activity", platform_id=platform, context_id=context,
                           bank_id=bank, title="A", points=10.0, settings={},
                           created_at=sent_with)
        for n, correct in enumerate((True, False, True)):
            _insert(conn, meta, "answer", event_id=f"e{n}", user_id=user, activity_id=activity,
                    item_id=item, response={}, correct=correct, answered_at=sent_with)
        for status, sent_at in (("sent", sent_with), ("pending", None)):
            other = _insert(conn, meta, "lti_user", platform_id=platform, sub=f"u-{status}")
            _insert(conn, meta, "score_passback", user_id=other, activity_id=activity,
                    score_given=5.0, score_maximum=10.0, score_timestamp=sent_with,
                    status=status, attempts=0, sent_at=sent_at, updated_at=sent_with)
    engine.dispose()

    upgrade(old_database)

    engine = sa.create_engine(old_database)
    with engine.connect() as conn:
        credits = conn.execute(sa.text("SELECT correct, credit FROM answer ORDER BY id")).all()
        scores = conn.execute(sa.text(
            "SELECT status, sent_timestamp, repairs, lms_score FROM score_passback "
            "ORDER BY id")).all()
    engine.dispose()
    assert [(bool(c), float(k)) for c, k in credits] == [(True, 1.0), (False, 0.0), (True, 1.0)]
    (sent_status, sent_stamp, repairs, held), (pending_status, pending_stamp, *_rest) = scores
    assert sent_status == "sent" and repairs == 0 and held is None  # not verified: never read
    stamp = sent_stamp if isinstance(sent_stamp, datetime) else datetime.fromisoformat(
        str(sent_stamp))
    assert (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)) == sent_with
    assert pending_status == "pending" and pending_stamp is None
